import Foundation
import TeleOpsCore

/// Who the bot is on Slack, from `auth.test`: its own messages are never delivered, and a
/// leading mention of it is not part of a command.
struct SlackIdentity: Sendable, Equatable {
    var userID: String
    var botID: String?
}

/// Turns Slack payloads (the same JSON over Socket Mode and over HTTP) into the messages
/// TeleOps acts on. Pure functions; `SlackReceiver` stores and delivers what they return.
///
/// - `event_callback` with a `message` event: delivered when a person wrote it (no `bot_id`,
///   not from the bot's own user, no `subtype` other than `thread_broadcast`, which is a person's
///   thread reply also sent to the channel). Edits, deletions, joins and bots' messages are
///   not. `app_mention` is not either: a mention in a channel the bot reads also arrives as a
///   `message`, and would otherwise be delivered twice.
/// - `block_actions`: each button press is a `.button` message whose text is the button's value.
/// - Slash commands: a `.text` message with the command's text (`/teleops ack #3` → `ack #3`).
enum SlackEvents {
    static let transport = "slack"

    /// The message in an `event_callback` body, or nil (with why) when it is not one to deliver.
    static func message(fromEventCallback body: JSONValue, identity: SlackIdentity?) -> Result<IncomingMessage, Ignored> {
        guard let event = body["event"], case .object = event else { return .failure(.init("event_callback without an event")) }
        guard let type = event["type"]?.stringValue, type == "message" else {
            return .failure(.init("event type \(event["type"]?.stringValue ?? "missing")"))
        }
        if let subtype = event["subtype"]?.stringValue, subtype != "thread_broadcast" {
            return .failure(.init("message subtype \(subtype)"))
        }
        if event["bot_id"]?.stringValue != nil || event["bot_profile"] != nil { return .failure(.init("a bot's message")) }
        guard let user = event["user"]?.stringValue, !user.isEmpty else { return .failure(.init("a message without a user")) }
        let ownUserID = identity?.userID ?? botUserID(fromAuthorizations: body)
        if user == ownUserID { return .failure(.init("the bot's own message")) }
        guard let channel = event["channel"]?.stringValue, let ts = event["ts"]?.stringValue else {
            return .failure(.init("a message without channel or ts"))
        }
        // Slack: reply to a thread's parent, never to a reply. A reply in a thread is about
        // the parent, and TeleOps answers in the parent's thread.
        let threadTS = event["thread_ts"]?.stringValue
        let inThread = threadTS != nil && threadTS != ts
        let ref = MessageRef(transport: transport, chat: channel, messageID: inThread ? threadTS! : ts)
        let text = plainText(event["text"]?.stringValue ?? "", strippingMentionOf: ownUserID)
        let profile = event["user_profile"]
        let name = profile?["display_name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            ?? profile?["real_name"]?.stringValue ?? user
        let deliveryID = body["event_id"]?.stringValue.map { "event:\($0)" } ?? "message:\(channel):\(ts)"
        return .success(IncomingMessage(
            ref: ref, userID: user, displayName: name, text: text, replyTo: inThread ? ref : nil, kind: .text,
            deliveryID: deliveryID))
    }

    /// The button presses in a `block_actions` payload (other interactions: none).
    static func presses(fromInteraction payload: JSONValue) -> Result<[IncomingMessage], Ignored> {
        guard let type = payload["type"]?.stringValue, type == "block_actions" else {
            return .failure(.init("interaction type \(payload["type"]?.stringValue ?? "missing")"))
        }
        guard let user = payload["user"]?["id"]?.stringValue else { return .failure(.init("block_actions without user.id")) }
        guard let channel = payload["channel"]?["id"]?.stringValue ?? payload["container"]?["channel_id"]?.stringValue else {
            return .failure(.init("block_actions without a channel"))
        }
        let messageTS = payload["message"]?["ts"]?.stringValue ?? payload["container"]?["message_ts"]?.stringValue
        guard let messageTS else { return .failure(.init("block_actions without a message")) }
        let threadTS = payload["message"]?["thread_ts"]?.stringValue ?? payload["container"]?["thread_ts"]?.stringValue
        let ref = MessageRef(transport: transport, chat: channel, messageID: threadTS ?? messageTS)
        let name = payload["user"]?["username"]?.stringValue ?? payload["user"]?["name"]?.stringValue ?? user
        guard case .array(let actions)? = payload["actions"] else { return .failure(.init("block_actions without actions")) }
        let presses = actions.compactMap { action -> IncomingMessage? in
            guard action["type"]?.stringValue == "button", let value = action["value"]?.stringValue, !value.isEmpty else { return nil }
            let stamp = action["action_ts"]?.stringValue ?? action["action_id"]?.stringValue ?? ""
            return IncomingMessage(
                ref: ref, userID: user, displayName: name, text: value, replyTo: ref, kind: .button,
                deliveryID: "action:\(stamp):\(user):\(channel):\(messageTS)")
        }
        return presses.isEmpty ? .failure(.init("block_actions without a button value")) : .success(presses)
    }

    /// The message a slash command stands for. Its ref names no Slack message (a command
    /// leaves none), so TeleOps answers it in the channel rather than in a thread.
    static func message(fromSlashCommand fields: [String: String]) -> Result<IncomingMessage, Ignored> {
        guard let user = fields["user_id"], !user.isEmpty, let channel = fields["channel_id"], !channel.isEmpty else {
            return .failure(.init("a slash command without user_id or channel_id"))
        }
        let trigger = fields["trigger_id"] ?? ""
        let ref = MessageRef(transport: transport, chat: channel, messageID: "command:\(trigger)")
        let text = plainText(fields["text"] ?? "", strippingMentionOf: nil)
        return .success(IncomingMessage(
            ref: ref, userID: user, displayName: fields["user_name"] ?? user, text: text, kind: .text,
            deliveryID: "command:\(trigger.isEmpty ? "\(channel):\(user):\(text)" : trigger)"))
    }

    /// A Slack timestamp (`1700000000.000100`), as opposed to the ref of a slash command.
    static func isTimestamp(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }

    /// The bot's user id as the event's `authorizations` name it, for events that arrive before
    /// `auth.test` answered.
    static func botUserID(fromAuthorizations body: JSONValue) -> String? {
        guard case .array(let authorizations)? = body["authorizations"] else { return nil }
        return authorizations.first { $0["is_bot"] == .bool(true) }?["user_id"]?.stringValue
    }

    /// What a person typed, from Slack's markup: a leading mention of the bot dropped,
    /// `<https://host|label>` → `label`, `<https://host>` → `https://host`, `<mailto:a@b|a@b>` →
    /// `a@b`, `<@U123>` → `@U123`, `<#C123|ops>` → `#ops`, `<!here>` → `@here`, and
    /// `&amp;` `&lt;` `&gt;` unescaped, so `run restart web-1.example.com` stays as typed
    /// even though Slack turned the host into a link.
    static func plainText(_ text: String, strippingMentionOf userID: String?) -> String {
        var text = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if let userID {
            let mention = "<@\(userID)>"
            if text.hasPrefix(mention) {
                text = text.dropFirst(mention.count).drop { $0 == " " || $0 == ":" || $0 == "," || $0 == "\n" }
            } else if text.hasPrefix("<@\(userID)|"), let end = text.firstIndex(of: ">") {
                text = text[text.index(after: end)...].drop { $0 == " " || $0 == ":" || $0 == "," || $0 == "\n" }
            }
        }
        var plain = ""
        var rest = text
        while let open = rest.firstIndex(of: "<") {
            plain += rest[..<open]
            guard let close = rest[open...].firstIndex(of: ">") else { break }
            plain += controlText(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        plain += rest
        return unescape(plain).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func controlText(_ inner: String) -> String {
        let parts = inner.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        let target = String(parts[0])
        let label = parts.count > 1 ? String(parts[1]) : nil
        switch target.first {
        case "@": return label.map { "@\($0)" } ?? target
        case "#": return label.map { "#\($0)" } ?? target
        case "!":
            let name = target.dropFirst().split(separator: "^").first.map(String.init) ?? ""
            return label ?? "@\(name)"
        default:
            if let label { return label }
            return target.hasPrefix("mailto:") ? String(target.dropFirst(7)) : target
        }
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// Why a payload delivers nothing (for debug logs).
    struct Ignored: Error, Sendable, Equatable, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
