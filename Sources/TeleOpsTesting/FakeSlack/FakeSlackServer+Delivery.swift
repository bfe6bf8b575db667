import Foundation
import TeleOpsCore

/// Something Slack delivers to the app, before it is put in an envelope or a request.
enum PendingDelivery: Sendable {
    /// An `event_callback` body.
    case event(JSONValue)
    /// An interactivity payload (`block_actions`).
    case interactive(JSONValue)
    /// A slash command's fields.
    case command([String: String])

    var key: String {
        switch self {
        case .event(let body): body["event_id"]?.stringValue ?? ""
        case .interactive(let payload): payload["trigger_id"]?.stringValue ?? ""
        case .command(let fields): fields["trigger_id"] ?? ""
        }
    }
}

/// The payloads Slack sends, in the shapes of the reference samples, and how they travel.
extension FakeSlackServer {
    func deliver(_ delivery: PendingDelivery) async {
        let toHTTP = state.withLock { $0.eventsTarget != nil }
        if toHTTP {
            outboundContinuation.yield(delivery)
        } else {
            await enqueueEnvelope(delivery)
        }
    }

    // MARK: Payloads

    func messageEvent(_ message: FakeSlackMessage, parentUser: String?) -> JSONValue {
        var event: [String: JSONValue] = [
            "type": "message", "channel": .string(message.channel), "text": .string(message.text), "ts": .string(message.ts),
            "event_ts": .string(message.ts), "team": .string(Self.teamID), "channel_type": "channel",
        ]
        if message.botID == Self.otherBotID {
            event["subtype"] = "bot_message"
            event["bot_id"] = .string(Self.otherBotID)
            event["username"] = "other-bot"
            event["icons"] = [:]
        } else if let botID = message.botID {
            event["user"] = .string(message.user)
            event["bot_id"] = .string(botID)
            event["app_id"] = .string(Self.appID)
            event["bot_profile"] = ["id": .string(botID), "name": "teleops", "app_id": .string(Self.appID)]
            if let blocks = message.blocks { event["blocks"] = blocks }
        } else {
            event["user"] = .string(message.user)
            event["client_msg_id"] = .string(UUID().uuidString.lowercased())
        }
        if let threadTS = message.threadTS {
            event["thread_ts"] = .string(threadTS)
            if let parentUser { event["parent_user_id"] = .string(parentUser) }
        }
        return eventCallback(event, channel: message.channel)
    }

    func messageChangedEvent(_ message: FakeSlackMessage) -> JSONValue {
        let eventTS = state.withLock { $0.nextTS() }
        return eventCallback([
            "type": "message", "subtype": "message_changed", "hidden": true, "channel": .string(message.channel),
            "message": botMessageJSON(message), "ts": .string(eventTS), "event_ts": .string(eventTS), "channel_type": "channel",
        ], channel: message.channel)
    }

    private func eventCallback(_ event: [String: JSONValue], channel: String) -> JSONValue {
        let number = state.withLock { $0.nextID() }
        return [
            "token": "verification-token", "team_id": .string(Self.teamID), "api_app_id": .string(Self.appID),
            "event": .object(event), "type": "event_callback", "event_id": .string("Ev0FAKE\(number)"),
            "event_time": .number(Date().timeIntervalSince1970.rounded(.down)),
            "authorizations": [[
                "enterprise_id": nil, "team_id": .string(Self.teamID), "user_id": .string(Self.botUserID), "is_bot": true,
                "is_enterprise_install": false,
            ]],
            "is_ext_shared_channel": false, "event_context": .string("4-message-\(Self.teamID)-\(channel)"),
        ]
    }

    func blockActions(message: FakeSlackMessage, button: FakeSlackButton, user: String, trigger: Int) -> JSONValue {
        let actionTS = state.withLock { $0.nextTS() }
        var container: [String: JSONValue] = [
            "type": "message", "message_ts": .string(message.ts), "channel_id": .string(message.channel), "is_ephemeral": false,
        ]
        if let threadTS = message.threadTS { container["thread_ts"] = .string(threadTS) }
        return [
            "type": "block_actions",
            "team": ["id": .string(Self.teamID), "domain": "fake-workspace"],
            "user": ["id": .string(user), "username": .string(user.lowercased()), "name": .string(user.lowercased()), "team_id": .string(Self.teamID)],
            "api_app_id": .string(Self.appID), "token": "verification-token",
            "container": .object(container),
            "trigger_id": .string("\(trigger).1000.fake\(trigger)"),
            "channel": ["id": .string(message.channel), "name": "on-call"],
            "message": botMessageJSON(message),
            "state": ["values": [:]],
            "response_url": .string("https://hooks.slack.com/actions/\(Self.teamID)/\(trigger)/fake"),
            "actions": [[
                "action_id": .string(button.actionID), "block_id": button.blockID.map(JSONValue.string) ?? "fake-block",
                "text": ["type": "plain_text", "text": .string(button.label), "emoji": true],
                "value": .string(button.value), "type": "button", "action_ts": .string(actionTS),
            ]],
        ]
    }

    func slashCommand(channel: String, user: String, command: String, text: String, trigger: Int) -> [String: String] {
        [
            "token": "verification-token", "team_id": Self.teamID, "team_domain": "fake-workspace", "channel_id": channel,
            "channel_name": "on-call", "user_id": user, "user_name": user.lowercased(), "command": command, "text": text,
            "api_app_id": Self.appID, "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/\(Self.teamID)/\(trigger)/fake",
            "trigger_id": "\(trigger).1000.fake\(trigger)",
        ]
    }

    // MARK: Events API over HTTP

    /// Sends deliveries one at a time, each with Slack's retries, until `stop()`.
    func runEventsDelivery() async {
        for await delivery in outbound {
            guard let target = state.withLock({ $0.eventsTarget }) else { continue }
            await post(delivery, to: target)
        }
    }

    private func post(_ delivery: PendingDelivery, to target: EventsTarget) async {
        let url: String
        let contentType: String
        let body: [UInt8]
        switch delivery {
        case .event(let json):
            (url, contentType, body) = (target.eventsURL, "application/json", Array(json.compactJSON.utf8))
        case .interactive(let payload):
            (url, contentType, body) = (
                target.interactivityURL, "application/x-www-form-urlencoded",
                Array("payload=\(Self.formEncode(payload.compactJSON))".utf8)
            )
        case .command(let fields):
            let form = fields.sorted { $0.key < $1.key }.map { "\(Self.formEncode($0.key))=\(Self.formEncode($0.value))" }
            (url, contentType, body) = (target.commandsURL, "application/x-www-form-urlencoded", Array(form.joined(separator: "&").utf8))
        }
        var retryReason = ""
        for attempt in 0...options.retryDelays.count {
            if attempt > 0 {
                do { try await Task.sleep(for: options.retryDelays[attempt - 1]) } catch { return }
            }
            let timestamp = String(Int(Date().timeIntervalSince1970))
            var headers = [
                "Content-Type": contentType, "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": FakeSlackSigning.signature(secret: target.signingSecret, timestamp: timestamp, body: body),
                "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            ]
            if attempt > 0 {
                headers["X-Slack-Retry-Num"] = "\(attempt)"
                headers["X-Slack-Retry-Reason"] = retryReason
            }
            let result = await LoopbackHTTP.post(url: url, headers: headers, body: body, deadline: options.responseDeadline)
            switch result {
            case .success(let answer):
                deliveries.append(FakeSlackDelivery(
                    url: url, retryNumber: attempt, status: answer.status, body: answer.body, tookLonger: false, deliveryKey: delivery.key))
                if (200..<300).contains(answer.status) { return }
                retryReason = "http_error"
            case .failure(.timedOut):
                deliveries.append(FakeSlackDelivery(
                    url: url, retryNumber: attempt, status: nil, body: "", tookLonger: true, deliveryKey: delivery.key))
                retryReason = "http_timeout"
            case .failure(.connection(let message)):
                deliveries.append(FakeSlackDelivery(
                    url: url, retryNumber: attempt, status: nil, body: message, tookLonger: false, deliveryKey: delivery.key))
                retryReason = "connection_failed"
            }
        }
    }

    static func formEncode(_ text: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
