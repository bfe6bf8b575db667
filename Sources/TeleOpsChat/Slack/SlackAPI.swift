import Foundation
import TeleOpsCore

/// One Slack Web API call per method call: JSON in, the parsed answer out, and every failure
/// classified as a `ChatFailure` (the outbox decides what to retry). Tokens go in the
/// `Authorization` header only, never in a URL, a message or a log.
///
/// ```swift
/// let api = SlackAPI(baseURL: "https://slack.com/api", client: CurlHTTPClient())
/// let answer = try await api.call("auth.test", token: botToken, body: [:])
/// ```
struct SlackAPI: Sendable {
    let baseURL: String
    let client: CurlHTTPClient

    init(baseURL: String, client: CurlHTTPClient) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.client = client
    }

    /// POSTs `body` as JSON to `<baseURL>/<method>` and returns the answer when it says `ok: true`.
    func call(_ method: String, token: String, body: JSONValue) async throws(ChatFailure) -> JSONValue {
        let response: HTTPResponse
        do {
            response = try await client.send(
                method: "POST", url: "\(baseURL)/\(method)",
                headers: ["Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer \(token)"],
                body: Data(body.compactJSON.utf8))
        } catch let error as HTTPClientError {
            throw ChatFailure(reason: error.timedOut ? .timeout : .network, message: "\(method): \(error.message)")
        } catch {
            throw ChatFailure(reason: .network, message: "\(method): \(error)")
        }
        return try Self.classify(method: method, response: response)
    }

    /// Turns an HTTP answer into the parsed body, or a classified failure.
    ///
    /// - 429: `.rateLimited`, with `Retry-After` when Slack sent it.
    /// - 5xx: `.serverError`; 401, 403: `.unauthorized`; any other non-2xx: `.clientError`.
    /// - 200 with `ok: false`: by the error code (`SlackAPI.reason(forError:)`).
    static func classify(method: String, response: HTTPResponse) throws(ChatFailure) -> JSONValue {
        let retryAfter = response.header("retry-after").flatMap(Int.init).map { Duration.seconds(max($0, 0)) }
        let parsed = try? JSONParser.parse(response.body)
        let code = parsed?["error"]?.stringValue
        switch response.status {
        case 429:
            throw ChatFailure(
                reason: .rateLimited, message: "\(method): HTTP 429 \(code ?? "Too Many Requests")", retryAfter: retryAfter)
        case 500...599:
            throw ChatFailure(reason: .serverError, message: "\(method): HTTP \(response.status)\(code.map { " \($0)" } ?? "")")
        case 401, 403:
            throw ChatFailure(reason: .unauthorized, message: "\(method): HTTP \(response.status)\(code.map { " \($0)" } ?? "")")
        case 200...299:
            break
        default:
            throw ChatFailure(reason: .clientError, message: "\(method): HTTP \(response.status)\(code.map { " \($0)" } ?? "")")
        }
        guard let parsed, case .object = parsed else {
            // A 2xx that is not Slack's JSON: a proxy or an outage page; it may pass later.
            throw ChatFailure(reason: .serverError, message: "\(method): HTTP \(response.status) answer is not a JSON object")
        }
        if case .bool(true)? = parsed["ok"] { return parsed }
        let error = code ?? "unknown_error"
        let reason = reason(forError: error)
        var message = "\(method): \(error)"
        if let needed = parsed["needed"]?.stringValue { message += " (needs scope \(needed))" }
        if let hint = hint(forError: error) { message += ": \(hint)" }
        if error == "invalid_blocks", case .array(let details)? = parsed["errors"] {
            message += " (" + details.compactMap(\.stringValue).joined(separator: "; ") + ")"
        }
        throw ChatFailure(reason: reason, message: message, retryAfter: reason == .rateLimited ? retryAfter : nil)
    }

    /// `ok: false` error codes that may pass later, those that refuse the token (every call
    /// will fail), and the rest: about this one call, which will fail the same way again.
    static func reason(forError code: String) -> ChatFailure.Reason {
        switch code {
        case "ratelimited", "rate_limited": .rateLimited
        case "internal_error", "fatal_error", "service_unavailable", "request_timeout": .serverError
        case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "not_allowed_token_type": .unauthorized
        default: .clientError
        }
    }

    /// What a person can do about the common client errors.
    static func hint(forError code: String) -> String? {
        switch code {
        case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
            "Slack refused the token; check TELEOPS_SLACK_BOT_TOKEN (or the app token for Socket Mode)"
        case "not_allowed_token_type":
            "wrong kind of token: the Web API needs the bot token (xoxb-), Socket Mode the app-level token (xapp-)"
        case "channel_not_found": "check slack.channel is a channel ID the bot can see"
        case "not_in_channel": "invite the bot to the channel (/invite @your-bot)"
        case "is_archived": "the channel is archived"
        case "missing_scope": "add the scope in OAuth & Permissions and reinstall the app"
        case "msg_too_long": "the text is too long for Slack"
        case "cant_update_message", "message_not_found": "the message cannot be edited (deleted, or not posted by this bot)"
        default: nil
        }
    }
}
