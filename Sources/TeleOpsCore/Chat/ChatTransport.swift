import Foundation

/// A button under a message. Pressing it is the same as replying `command` in the message's
/// thread, so a press goes through the same correlation, policy and log as a typed reply.
public struct ChatButton: Sendable, Equatable, Codable {
    /// What the button shows: `Ack`, `Silence 1h`.
    public var label: String
    /// The reply the press stands for: `ack`, `silence 1h`, `run restart-nginx`. At most
    /// `ChatButton.maxCommandBytes` bytes of UTF-8 (Telegram's `callback_data` limit).
    public var command: String

    public static let maxCommandBytes = 64

    public init(label: String, command: String) {
        self.label = label
        self.command = command
    }
}

/// A message to post on a chat platform.
public struct ChatMessage: Sendable, Equatable {
    /// The chat to post in; nil means the transport's default chat.
    public var chat: String?
    /// Plain text. Transports escape it for their platform (Telegram HTML, Slack mrkdwn), so
    /// whatever it holds is shown as written.
    public var text: String
    /// Post as a reply in this message's thread.
    public var replyTo: MessageRef?
    /// Buttons under the message, in order (transports lay them out in rows).
    public var buttons: [ChatButton]
    /// A topic inside the chat, on platforms that have them (Telegram's forum
    /// `message_thread_id`); nil means the transport's own setting. Others ignore it.
    public var topic: String?

    public init(chat: String? = nil, text: String, replyTo: MessageRef? = nil, buttons: [ChatButton] = [], topic: String? = nil) {
        self.chat = chat
        self.text = text
        self.replyTo = replyTo
        self.buttons = buttons
        self.topic = topic
    }
}

/// Something a person did in chat: typed a message, or pressed one of TeleOps' buttons.
public struct IncomingMessage: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// A typed message; `text` is what was typed.
        case text
        /// A button press; `text` is the button's `command` and `replyTo` the message it is under.
        case button
    }

    /// This message itself (replies to TeleOps go in its thread). For a button press, the
    /// message the button is under.
    public var ref: MessageRef
    /// The sender's user id on this transport (matched against `Engineer.identities`).
    public var userID: String
    /// The sender's display name, for messages and logs only; never used for identity.
    public var displayName: String
    public var text: String
    /// The message this one replies to, when the platform says so.
    public var replyTo: MessageRef?
    public var kind: Kind
    /// The platform's id for this delivery (Telegram `update_id`, Slack `event_id` or
    /// envelope id); a redelivery carries the same one, so the inbox takes it once.
    public var deliveryID: String?
    /// The message's row in the store's inbox, once it is there; the responder settles it
    /// with its first write about the message, so a restart neither replays nor skips it.
    public var inboxID: Int64?

    public init(
        ref: MessageRef, userID: String, displayName: String, text: String, replyTo: MessageRef? = nil,
        kind: Kind = .text, deliveryID: String? = nil, inboxID: Int64? = nil
    ) {
        self.ref = ref
        self.userID = userID
        self.displayName = displayName
        self.text = text
        self.replyTo = replyTo
        self.kind = kind
        self.deliveryID = deliveryID
        self.inboxID = inboxID
    }
}

/// At most `count` messages per `period`, with bursts of up to `count` (a token bucket).
public struct ChatRate: Sendable, Equatable {
    public var count: Int
    public var period: Duration

    public init(_ count: Int, per period: Duration) {
        self.count = count
        self.period = period
    }
}

/// What a platform allows.
public struct ChatLimits: Sendable, Equatable {
    /// The longest message text, in characters (UTF-16 code units, the stricter count), the
    /// platform accepts. Longer text is split or trimmed by the outbox, never dropped.
    public var maxMessageLength: Int
    /// Limits for posts and edits in any one chat (all of them apply).
    public var perChat: [ChatRate]
    /// Further limits for group chats: chats whose id starts with `groupChatPrefix`
    /// (Telegram's groups have negative ids and 20 messages a minute).
    public var perGroupChat: [ChatRate]
    public var groupChatPrefix: String?
    /// Limits for posts and edits across all chats of the transport.
    public var global: [ChatRate]

    public init(
        maxMessageLength: Int, perChat: [ChatRate] = [], perGroupChat: [ChatRate] = [], groupChatPrefix: String? = nil,
        global: [ChatRate] = []
    ) {
        self.maxMessageLength = maxMessageLength
        self.perChat = perChat
        self.perGroupChat = perGroupChat
        self.groupChatPrefix = groupChatPrefix
        self.global = global
    }

    /// The limits for posts and edits in `chat`.
    public func limits(forChat chat: String) -> [ChatRate] {
        guard let prefix = groupChatPrefix, chat.hasPrefix(prefix) else { return perChat }
        return perChat + perGroupChat
    }

    /// Refuses, without a call, text longer than `maxMessageLength` (a client error: the outbox
    /// splits or trims text before it gets here, so this is a caller's mistake). `platform`
    /// names whose limit it is: "Telegram's", "the console's".
    public func checkLength(_ text: String, platform: String) throws(ChatFailure) {
        let length = ChatText.length(text)
        guard length > maxMessageLength else { return }
        throw ChatFailure(
            reason: .clientError,
            message: "text is \(length) characters (UTF-16 code units), over \(platform) limit of \(maxMessageLength)")
    }
}

/// Why a post or edit failed, and whether trying again can help. Transports only classify;
/// the outbox owns the retry loop.
public struct ChatFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Failure reasons as an enum (they feed metrics), not free text.
    public enum Reason: String, Sendable {
        case rateLimited = "rate_limited"
        /// The platform refused this one call (400: a deleted message, an upgraded group, a
        /// chat the bot was removed from); other calls may well pass.
        case clientError = "client_error"
        /// The platform refused the credentials (a bad or revoked token): every call will fail.
        case unauthorized
        case serverError = "server_error"
        case timeout
        case network
    }

    public var reason: Reason
    public var message: String
    /// The platform said when to try again (429 `retry_after` / `Retry-After`).
    public var retryAfter: Duration?

    public init(reason: Reason, message: String, retryAfter: Duration? = nil) {
        self.reason = reason
        self.message = message
        self.retryAfter = retryAfter
    }

    /// 4xx other than 429 will fail the same way again; everything else may pass later.
    public var isRetryable: Bool { reason != .clientError && reason != .unauthorized }

    /// Whether the failure says the transport as a whole is not working (no answer, a 5xx, a
    /// refused token), so that a run of them should move its messages to a failover
    /// transport. A client error is about one message, and a 429 is the platform working as
    /// designed: a run of deleted messages' edits must not take a healthy platform out of service.
    public var isTransportFailure: Bool {
        switch reason {
        case .unauthorized, .serverError, .timeout, .network: true
        case .clientError, .rateLimited: false
        }
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}

/// A chat platform: Console, Telegram, Slack. The seam between the outbox/responder and the platform.
///
/// A transport turns one post or edit into one platform call and classifies failures; it
/// does not retry, pace or split (the outbox does, once for every transport, from `limits`).
/// It delivers what people type and the buttons they press on `incoming`, answering the
/// platform's own acknowledgement (Telegram's `answerCallbackQuery`, Slack's envelope ack)
/// itself, and ignores its own and other bots' messages.
///
/// ```swift
/// let ref = try await transport.post(ChatMessage(text: "#1 CRITICAL web-1 disk", buttons: [ChatButton(label: "Ack", command: "ack")]))
/// for await reply in transport.incoming { print(reply.text) }
/// ```
public protocol ChatTransport: Sendable {
    /// The name used in message refs and in `Engineer.identities` (`console`, `telegram`, `slack`).
    var name: String { get }
    var limits: ChatLimits { get }
    /// The chat a message without `chat` goes to, as it appears in `MessageRef.chat`.
    var defaultChat: String { get }
    /// Posts a message and returns its ref, or a classified failure. Text longer than
    /// `limits.maxMessageLength` is a client error.
    func post(_ message: ChatMessage) async throws(ChatFailure) -> MessageRef
    /// Replaces the text and buttons of a message this transport posted (empty `buttons`
    /// removes them). Editing to the same content succeeds.
    func edit(_ ref: MessageRef, text: String, buttons: [ChatButton]) async throws(ChatFailure)
    /// Messages typed and buttons pressed by people. One consumer: the responder.
    var incoming: AsyncStream<IncomingMessage> { get }
}

/// Where a transport that receives from a platform with its own delivery cursor keeps the
/// messages it received, durably, before acknowledging them to the platform. The scenario
/// store is one.
public protocol ChatInbox: Sendable {
    /// Stores the messages not stored before (same transport and `deliveryID`) and sets the
    /// named cursor, in one transaction; returns the newly stored ones with `inboxID` set.
    /// A message without a `deliveryID` is always new.
    func receive(_ messages: [IncomingMessage], cursor: ChatCursor?) async throws -> [IncomingMessage]
    /// A cursor's last value (Telegram's next `getUpdates` offset), nil if never set.
    func cursor(named name: String) async throws -> String?
}

/// A named position in a platform's delivery stream, kept with the inbox.
public struct ChatCursor: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An HTTP request a chat platform sent to TeleOps (Telegram's webhook, Slack's Events API
/// and interactivity), as the HTTP layer hands it to the transport.
public struct ChatWebhookRequest: Sendable {
    /// Header names are lower-cased.
    public var headers: [String: String]
    /// The exact bytes received (signatures are over them).
    public var body: [UInt8]

    public init(headers: [String: String], body: [UInt8]) {
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

public struct ChatWebhookResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var headers: [String: String]

    public init(status: Int, contentType: String = "application/json", body: [UInt8] = [], headers: [String: String] = [:]) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    public static func json(_ status: Int, _ text: String, headers: [String: String] = [:]) -> ChatWebhookResponse {
        ChatWebhookResponse(status: status, body: Array(text.utf8), headers: headers)
    }
}

/// An HTTP endpoint a chat platform calls. The HTTP server mounts each at `POST path` and
/// passes the raw request; the transport checks the platform's secret or signature.
public protocol ChatWebhook: Sendable {
    /// The route, e.g. `/v1/chat/telegram` or `/v1/chat/slack/events`.
    var path: String { get }
    func handle(_ request: ChatWebhookRequest) async -> ChatWebhookResponse
}
