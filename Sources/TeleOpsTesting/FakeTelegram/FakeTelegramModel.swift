import Foundation
import TeleOpsCore

/// A Telegram user (a person or a bot) as the fake knows it.
public struct FakeTelegramUser: Sendable, Hashable {
    public var id: Int64
    public var firstName: String
    public var username: String?
    public var isBot: Bool

    public init(id: Int64, firstName: String, username: String? = nil, isBot: Bool = false) {
        self.id = id
        self.firstName = firstName
        self.username = username
        self.isBot = isBot
    }

    /// Another bot in the group (its messages must not reach TeleOps).
    public static let otherBot = FakeTelegramUser(id: 7_000_000_002, firstName: "Grafana", username: "grafana_bot", isBot: true)

    var json: FakeJSON {
        var members: [(String, FakeJSON)] = [("id", .int(id)), ("is_bot", .bool(isBot)), ("first_name", .string(firstName))]
        if let username { members.append(("username", .string(username))) }
        return .object(members)
    }
}

/// A chat: private (with one person), group, supergroup (possibly a forum with topics) or channel.
public struct FakeTelegramChat: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case `private`, group, supergroup, channel
    }

    public var id: Int64
    public var kind: Kind
    public var title: String?
    /// For private chats, the person's first name.
    public var firstName: String?
    /// A public `@username` (without the `@`).
    public var username: String?
    public var isForum: Bool

    public init(id: Int64, kind: Kind, title: String? = nil, firstName: String? = nil, username: String? = nil, isForum: Bool = false) {
        self.id = id
        self.kind = kind
        self.title = title
        self.firstName = firstName
        self.username = username
        self.isForum = isForum
    }

    /// A basic group (negative id, e.g. -4012345678); it can be upgraded with `migrate(chat:to:)`.
    public static func group(id: Int64, title: String) -> FakeTelegramChat {
        FakeTelegramChat(id: id, kind: .group, title: title)
    }

    /// A supergroup (id -100…); `forum` turns on topics.
    public static func supergroup(id: Int64, title: String, username: String? = nil, forum: Bool = false) -> FakeTelegramChat {
        FakeTelegramChat(id: id, kind: .supergroup, title: title, username: username, isForum: forum)
    }

    /// A private chat with `user` (the chat id is the user's id).
    public static func privateChat(with user: FakeTelegramUser) -> FakeTelegramChat {
        FakeTelegramChat(id: user.id, kind: .private, firstName: user.firstName, username: user.username)
    }

    public static func channel(id: Int64, title: String, username: String? = nil) -> FakeTelegramChat {
        FakeTelegramChat(id: id, kind: .channel, title: title, username: username)
    }

    var json: FakeJSON {
        var members: [(String, FakeJSON)] = [("id", .int(id))]
        if let title { members.append(("title", .string(title))) }
        if let firstName { members.append(("first_name", .string(firstName))) }
        if let username { members.append(("username", .string(username))) }
        members.append(("type", .string(kind.rawValue)))
        if isForum { members.append(("is_forum", .bool(true))) }
        return .object(members)
    }
}

/// An inline keyboard button as the bot sent it.
public struct FakeTelegramButton: Sendable, Hashable {
    public var text: String
    public var callbackData: String?
    public var url: String?

    public init(text: String, callbackData: String? = nil, url: String? = nil) {
        self.text = text
        self.callbackData = callbackData
        self.url = url
    }

    var json: FakeJSON {
        var members: [(String, FakeJSON)] = [("text", .string(text))]
        if let url { members.append(("url", .string(url))) }
        if let callbackData { members.append(("callback_data", .string(callbackData))) }
        return .object(members)
    }
}

/// A message in a chat, as Telegram holds it.
public struct FakeTelegramMessage: Sendable, Equatable {
    public var id: Int64
    public var chatID: Int64
    public var from: FakeTelegramUser
    /// What people see: the text after Telegram parsed its markup, trimmed.
    public var text: String
    /// The `text` parameter exactly as sent (HTML for TeleOps), nil for messages typed by people.
    public var sentText: String?
    public var parseMode: String?
    /// The forum topic the message is in.
    public var threadID: Int64?
    /// The message this one replies to (in forums, a message in a topic replies to the topic's first message).
    public var replyTo: Int64?
    public var keyboard: [[FakeTelegramButton]]
    /// Unix time, as on the wire.
    public var date: Int64
    /// When the request that created it arrived (for pacing measurements).
    public var arrival: ContinuousClock.Instant
    public var edits: Int
    /// Unix time of the last edit.
    public var editDate: Int64?
    public var linkPreviewDisabled: Bool
    /// A topic's first message (`forum_topic_created`), which has no text.
    public var isTopicRoot: Bool

    /// The buttons in order, as `ChatButton`s (callback buttons only).
    public var buttons: [ChatButton] {
        keyboard.joined().compactMap { button in button.callbackData.map { ChatButton(label: button.text, command: $0) } }
    }
}

/// One call the fake answered.
public struct FakeTelegramRequest: Sendable {
    /// The method, lower-cased (the server compares method names case-insensitively).
    public var method: String
    public var params: FakeTelegramParams
    public var arrival: ContinuousClock.Instant
    /// Wall-clock arrival, for logs and reports.
    public var date: Date
    public var finished: ContinuousClock.Instant
    /// The HTTP status answered (= `error_code` for errors).
    public var status: Int
    /// The error description, for failed calls.
    public var errorDescription: String?
}

/// One POST of an update to the webhook.
public struct FakeTelegramWebhookDelivery: Sendable {
    public var updateID: Int64
    /// The HTTP status the webhook answered; nil when the request failed before an answer.
    public var status: Int?
    public var error: String?
    public var date: ContinuousClock.Instant
}

/// How the fake fails a call on purpose (`failNext`), each answered as Telegram really answers.
public enum FakeTelegramFailure: Sendable, Equatable {
    /// 429 `Too Many Requests: retry after N`, with `parameters.retry_after` and a `Retry-After` header.
    case tooManyRequests(retryAfter: Int)
    /// 500 `Internal Server Error: <text>`.
    case internalError(String)
    /// 502 with an HTML body from the front proxy (no Bot API envelope at all).
    case badGateway
    /// Any Bot API error: `error_code` and the full description (`Forbidden: bot was kicked from the group chat`).
    case error(code: Int, description: String)
    /// The call is carried out, but the answer comes only after this long (a client timeout
    /// then leaves the caller unsure whether it worked, as in life).
    case slowAnswer(Duration)

    /// The conformance suite's failures, as Telegram words them. A rejection text without a
    /// `Bad Request: ` prefix gets one.
    public init(_ failure: PlatformFailure) {
        switch failure {
        case .rateLimited(let seconds): self = .tooManyRequests(retryAfter: seconds)
        case .serverError: self = .internalError("server is temporarily unavailable")
        case .rejected(let text): self = .error(code: 400, description: text.hasPrefix("Bad Request: ") ? text : "Bad Request: \(text)")
        }
    }
}

/// Telegram's flood control, enforced by answering 429 with a `retry_after` of the seconds
/// until the call would pass (token buckets; the FAQ: about 1 message per second per chat
/// with short bursts, 20 per minute per group, about 30 per second overall).
public struct FakeTelegramFloodControl: Sendable, Equatable {
    public var chatBurst: Int
    public var chatPerSecond: Double
    public var groupPerMinute: Int
    public var globalPerSecond: Int

    public init(chatBurst: Int = 3, chatPerSecond: Double = 1, groupPerMinute: Int = 20, globalPerSecond: Int = 30) {
        self.chatBurst = chatBurst
        self.chatPerSecond = chatPerSecond
        self.groupPerMinute = groupPerMinute
        self.globalPerSecond = globalPerSecond
    }

    public static let telegram = FakeTelegramFloodControl()
}

/// A test used the fake wrongly (a chat it never added, a button that is not there).
public struct FakeTelegramMisuse: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
