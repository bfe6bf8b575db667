import Foundation
import TeleOpsCore

/// The Events API over HTTP: the three routes Slack POSTs to, each signed with the app's
/// signing secret (`SlackSignature`), each answered at once (Slack wants a 2xx within 3 s).
///
/// - `/v1/chat/slack/events` (JSON): `url_verification` → 200 with the challenge;
///   `event_callback` → stored and delivered, 200; `app_rate_limited` → a warning, 200.
/// - `/v1/chat/slack/interactivity` (form, `payload=<JSON>`): `block_actions` → button presses.
/// - `/v1/chat/slack/commands` (form): a slash command → a typed message; 200 with no body.
///
/// A bad or missing signature, or a timestamp more than 5 minutes off, is 401 with a JSON
/// error naming the header; a body that does not parse is 400 saying what was wrong; a store
/// failure is 500, so Slack retries (the retry carries the same `event_id`, and the inbox
/// takes it once).
struct SlackWebhook: ChatWebhook {
    enum Kind: Sendable { case events, interactivity, commands }

    let path: String
    let kind: Kind
    let receiver: SlackReceiver
    let signature: SlackSignature

    func handle(_ request: ChatWebhookRequest) async -> ChatWebhookResponse {
        do {
            try signature.verify(
                signature: request.header(SlackSignature.signatureHeader), timestamp: request.header(SlackSignature.timestampHeader),
                body: request.body, now: Date())
        } catch {
            receiver.logger.warning("refused a Slack request", metadata: ["path": "\(path)", "error": "\(error)"])
            return Self.error(401, code: error.code, message: error.description)
        }
        var note = path
        if let retry = request.header("x-slack-retry-num") {
            note += " retry \(retry) (\(request.header("x-slack-retry-reason") ?? "no reason"))"
            receiver.logger.debug("Slack retried a delivery", metadata: ["path": "\(path)", "retry": "\(retry)",
                                                                          "reason": "\(request.header("x-slack-retry-reason") ?? "")"])
        }
        let payload: SlackReceiver.Payload
        switch parse(request.body) {
        case .failure(let problem):
            return Self.error(400, code: "invalid_body", message: problem.description)
        case .success(.challenge(let challenge)):
            return .json(200, JSONValue.object(["challenge": .string(challenge)]).compactJSON)
        case .success(.payload(let parsed)):
            payload = parsed
        }
        do {
            try await receiver.receive(payload, deliveryNote: note)
        } catch {
            receiver.logger.error("could not store a Slack delivery; answering 500 so Slack retries",
                                  metadata: ["path": "\(path)", "error": "\(error)"])
            return Self.error(500, code: "store_failed", message: "the delivery could not be stored; retry later")
        }
        return kind == .commands ? ChatWebhookResponse(status: 200, contentType: "text/plain") : .json(200, #"{"ok":true}"#)
    }

    private enum Parsed {
        case challenge(String)
        case payload(SlackReceiver.Payload)
    }

    private struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    private func parse(_ body: [UInt8]) -> Result<Parsed, Problem> {
        switch kind {
        case .events:
            let json: JSONValue
            do {
                json = try JSONParser.parse(Data(body))
            } catch {
                return .failure(Problem(description: "the body is not JSON: \(error)"))
            }
            guard case .object = json else { return .failure(Problem(description: "the body is a JSON \(json.typeName), expected an object")) }
            guard let type = json["type"]?.stringValue else { return .failure(Problem(description: "the body has no \"type\" string")) }
            if type == "url_verification" {
                guard let challenge = json["challenge"]?.stringValue else {
                    return .failure(Problem(description: "url_verification without a \"challenge\" string"))
                }
                return .success(.challenge(challenge))
            }
            return .success(.payload(.events(json)))
        case .interactivity:
            let fields = Self.formFields(body)
            guard let text = fields["payload"] else {
                return .failure(Problem(description: "expected a form body with a payload= field (application/x-www-form-urlencoded)"))
            }
            do {
                let json = try JSONParser.parse(Data(text.utf8))
                guard case .object = json else { return .failure(Problem(description: "payload is a JSON \(json.typeName), expected an object")) }
                return .success(.payload(.interactive(json)))
            } catch {
                return .failure(Problem(description: "payload is not JSON: \(error)"))
            }
        case .commands:
            let fields = Self.formFields(body)
            guard fields["command"] != nil else {
                return .failure(Problem(description: "expected a form body with a command= field (application/x-www-form-urlencoded)"))
            }
            return .success(.payload(.slashCommand(fields)))
        }
    }

    /// `application/x-www-form-urlencoded` fields (`+` is a space); the last of a repeated name wins.
    static func formFields(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    static func error(_ status: Int, code: String, message: String) -> ChatWebhookResponse {
        .json(status, JSONValue.object(["ok": false, "error": .string(code), "message": .string(message)]).compactJSON)
    }
}
