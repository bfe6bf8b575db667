import Foundation
import HTTPTypes
import Hummingbird
import TeleOpsCore

/// The Web API methods, answered as Slack answers them.
extension FakeSlackServer {
    private struct Reply: Error {
        var status: Int = 200
        var json: JSONValue
        var headers: [String: String] = [:]
        var delay: Duration?

        static func error(_ code: String, _ extra: [String: JSONValue] = [:]) -> Reply {
            var body: [String: JSONValue] = ["ok": false, "error": .string(code)]
            body.merge(extra) { $1 }
            return Reply(json: .object(body))
        }
    }

    private enum TokenKind { case bot, app }

    func answer(method: String, request: Request) async -> Response {
        let arrived = ContinuousClock.now
        let buffer = (try? await request.body.collect(upTo: 4 << 20)) ?? ByteBuffer()
        let body = Array(buffer.readableBytesView)
        let contentType = request.headers[.contentType] ?? ""
        var reply: Reply
        var arguments: [String: JSONValue] = [:]
        var formToken: String?
        if contentType.lowercased().hasPrefix("application/json") {
            if case .object(let object)? = try? JSONParser.parse(Data(body)) {
                arguments = object
                reply = route(method: method, arguments: arguments, authorization: request.headers[.authorization], formToken: nil)
            } else {
                reply = .error("invalid_json")
            }
        } else {
            for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[0])
                let value = parts.count > 1 ? (parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "") : ""
                if name == "token" { formToken = value } else { arguments[name] = .string(value) }
            }
            reply = route(method: method, arguments: arguments, authorization: request.headers[.authorization], formToken: formToken)
        }
        requests.append(FakeSlackRequest(
            method: method, arrivedAt: arrived, status: reply.status, error: reply.json["error"]?.stringValue,
            channel: arguments["channel"]?.stringValue, arguments: .object(arguments)))
        if reply.status == 200, reply.json["ok"] == .bool(true) { await afterSuccess(method: method, reply: reply.json) }
        if let delay = reply.delay { try? await Task.sleep(for: delay) }
        var headers = HTTPFields()
        for (name, value) in reply.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        if reply.status >= 500 {
            headers[.contentType] = "text/html"
            return Response(status: .init(code: reply.status), headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "<html><body><h1>\(reply.status) Server Error</h1></body></html>")))
        }
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .init(code: reply.status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: reply.json.compactJSON)))
    }

    private func route(method: String, arguments: [String: JSONValue], authorization: String?, formToken: String?) -> Reply {
        let token: String?
        if let authorization, authorization.lowercased().hasPrefix("bearer ") {
            token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else {
            token = formToken
        }
        guard let token, !token.isEmpty else { return .error("not_authed") }
        let kind: TokenKind
        switch token {
        case Self.botToken: kind = .bot
        case Self.appToken: kind = .app
        default: return .error("invalid_auth")
        }
        switch method {
        case "auth.test":
            guard kind == .bot else { return .error("not_allowed_token_type") }
            return Reply(json: [
                "ok": true, "url": "https://fake-workspace.slack.com/", "team": "Fake Workspace", "user": "teleops",
                "team_id": .string(Self.teamID), "user_id": .string(Self.botUserID), "bot_id": .string(Self.botID),
                "is_enterprise_install": false,
            ])
        case "chat.postMessage", "chat.update":
            guard kind == .bot else { return .error("not_allowed_token_type") }
            if let injected = state.withLock({ $0.failures.isEmpty ? nil : $0.failures.removeFirst() }) {
                switch injected {
                case .rateLimited(let seconds):
                    return Reply(status: 429, json: ["ok": false, "error": "ratelimited"], headers: ["Retry-After": "\(seconds)"])
                case .serverError(let status):
                    return Reply(status: status, json: ["ok": false])
                case .error(let code):
                    return .error(code)
                case .slow(let delay):
                    var reply = method == "chat.postMessage" ? postMessage(arguments) : update(arguments)
                    reply.delay = delay
                    return reply
                }
            }
            return method == "chat.postMessage" ? postMessage(arguments) : update(arguments)
        case "apps.connections.open":
            guard kind == .app else { return .error("not_allowed_token_type") }
            guard let url = socketModeURL() else { return .error("internal_error") }
            return Reply(json: ["ok": true, "url": .string(url)])
        default:
            return .error("unknown_method")
        }
    }

    private func postMessage(_ arguments: [String: JSONValue]) -> Reply {
        guard let channel = arguments["channel"]?.stringValue, !channel.isEmpty else { return .error("channel_not_found") }
        let blocks: JSONValue?
        switch parseBlocks(arguments["blocks"]) {
        case .failure(let reply): return reply
        case .success(let parsed): blocks = parsed
        }
        let text = arguments["text"]?.stringValue ?? ""
        if text.isEmpty && blocks == nil { return .error("no_text") }
        if text.count > 40_000 { return .error("msg_too_long") }
        let threadTS = arguments["thread_ts"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let now = ContinuousClock.now
        let outcome = state.withLock { state -> Result<FakeSlackMessage, Reply> in
            guard let found = state.channels[channel] else { return .failure(.error("channel_not_found")) }
            if found.isArchived { return .failure(.error("is_archived")) }
            if !found.isMember { return .failure(.error("not_in_channel")) }
            if let rate = options.floodControl, let wait = state.take(channel: channel, rate: rate, now: now) {
                let seconds = max(1, Int(wait.secondsValue.rounded(.up)))
                return .failure(Reply(status: 429, json: ["ok": false, "error": "ratelimited"], headers: ["Retry-After": "\(seconds)"]))
            }
            let message = FakeSlackMessage(
                channel: channel, ts: state.nextTS(), threadTS: threadTS, user: Self.botUserID, botID: Self.botID, text: text,
                blocks: blocks, edits: 0)
            state.channels[channel]!.messages.append(message)
            return .success(message)
        }
        switch outcome {
        case .failure(let reply):
            return reply
        case .success(let message):
            posts.append(message)
            return Reply(json: ["ok": true, "channel": .string(channel), "ts": .string(message.ts), "message": botMessageJSON(message)])
        }
    }

    private func update(_ arguments: [String: JSONValue]) -> Reply {
        guard let channel = arguments["channel"]?.stringValue, !channel.isEmpty else { return .error("channel_not_found") }
        guard let ts = arguments["ts"]?.stringValue, !ts.isEmpty else { return .error("message_not_found") }
        var newBlocks: JSONValue??
        if arguments["blocks"] != nil {
            switch parseBlocks(arguments["blocks"]) {
            case .failure(let reply): return reply
            case .success(let parsed): newBlocks = .some(parsed)
            }
        }
        let newText = arguments["text"]?.stringValue
        if (newText ?? "").isEmpty && (newBlocks ?? nil) == nil { return .error("no_text") }
        if let newText, newText.count > 40_000 { return .error("msg_too_long") }
        let outcome = state.withLock { state -> Result<FakeSlackMessage, Reply> in
            guard let found = state.channels[channel] else { return .failure(.error("channel_not_found")) }
            if found.isArchived { return .failure(.error("is_archived")) }
            guard let index = found.messages.firstIndex(where: { $0.ts == ts }) else { return .failure(.error("message_not_found")) }
            guard found.messages[index].botID == Self.botID else { return .failure(.error("cant_update_message")) }
            var message = found.messages[index]
            if let newText { message.text = newText }
            if let newBlocks { message.blocks = newBlocks }
            message.edits += 1
            state.channels[channel]!.messages[index] = message
            return .success(message)
        }
        switch outcome {
        case .failure(let reply):
            return reply
        case .success(let message):
            posts.append(message)
            return Reply(json: [
                "ok": true, "channel": .string(channel), "ts": .string(ts), "text": .string(message.text),
                "message": botMessageJSON(message),
            ])
        }
    }

    /// `blocks` as a JSON array (JSON bodies) or a JSON string (form bodies); `[]` is none.
    private func parseBlocks(_ value: JSONValue?) -> Result<JSONValue?, Reply> {
        guard var value, value != .null else { return .success(nil) }
        if let text = value.stringValue {
            guard let parsed = try? JSONParser.parse(Data(text.utf8)) else {
                return .failure(.error("invalid_blocks_format"))
            }
            value = parsed
        }
        if case .array(let items) = value, items.isEmpty { return .success(nil) }
        let problems = FakeSlackBlocks.problems(in: value)
        guard problems.isEmpty else {
            return .failure(.error("invalid_blocks", ["errors": .array(problems.map(JSONValue.string))]))
        }
        return .success(value)
    }

    func botMessageJSON(_ message: FakeSlackMessage) -> JSONValue {
        var json: [String: JSONValue] = [
            "type": "message", "text": .string(message.text), "user": .string(message.user), "ts": .string(message.ts),
            "team": .string(Self.teamID),
        ]
        if let botID = message.botID {
            json["bot_id"] = .string(botID)
            json["app_id"] = .string(Self.appID)
            json["bot_profile"] = ["id": .string(botID), "name": "teleops", "app_id": .string(Self.appID)]
        }
        if let blocks = message.blocks { json["blocks"] = blocks }
        if let threadTS = message.threadTS { json["thread_ts"] = .string(threadTS) }
        if message.edits > 0 { json["edited"] = ["user": .string(message.user), "ts": .string(message.ts)] }
        return .object(json)
    }

    /// After a post or edit the app's own message comes back as an event, as in Slack.
    private func afterSuccess(method: String, reply: JSONValue) async {
        guard options.echoBotMessages, method == "chat.postMessage" || method == "chat.update",
              let channel = reply["channel"]?.stringValue, let ts = reply["ts"]?.stringValue,
              let message = message(ts, in: channel)
        else { return }
        if method == "chat.postMessage" {
            await deliver(.event(messageEvent(message, parentUser: nil)))
        } else {
            await deliver(.event(messageChangedEvent(message)))
        }
    }
}

extension FakeSlackServer.State {
    /// Takes one post from `channel`'s token bucket; returns how long to wait when it is empty.
    mutating func take(channel: String, rate: ChatRate, now: ContinuousClock.Instant) -> Duration? {
        let capacity = Double(rate.count)
        let perSecond = capacity / rate.period.secondsValue
        var bucket = buckets[channel] ?? (capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at).secondsValue * perSecond)
        bucket.at = now
        defer { buckets[channel] = bucket }
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            return nil
        }
        return .seconds((1 - bucket.tokens) / perSecond)
    }
}
