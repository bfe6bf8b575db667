import Foundation

/// A message to post on a chat platform.
public struct ChatMessage: Sendable, Equatable {
    /// The chat to post in; nil means the transport's default chat.
    public var chat: String?
    public var text: String
    /// Post as a reply in this message's thread.
    public var replyTo: MessageRef?

    public init(chat: String? = nil, text: String, replyTo: MessageRef? = nil) {
        self.chat = chat
        self.text = text
        self.replyTo = replyTo
    }
}

/// A message someone typed in chat.
public struct IncomingMessage: Sendable, Equatable {
    /// This message itself (replies to TeleOps go in its thread).
    public var ref: MessageRef
    /// The sender's user id on this transport (matched against `Engineer.identities`).
    public var userID: String
    /// The sender's display name, for messages and logs only; never used for identity.
    public var displayName: String
    public var text: String
    /// The message this one replies to, when the platform says so.
    public var replyTo: MessageRef?

    public init(ref: MessageRef, userID: String, displayName: String, text: String, replyTo: MessageRef? = nil) {
        self.ref = ref
        self.userID = userID
        self.displayName = displayName
        self.text = text
        self.replyTo = replyTo
    }
}

/// What a platform allows.
public struct ChatLimits: Sendable, Equatable {
    /// The longest message text, in characters, the platform accepts.
    public var maxMessageLength: Int

    public init(maxMessageLength: Int) {
        self.maxMessageLength = maxMessageLength
    }
}

/// Why a post or edit failed, and whether trying again can help. Transports only classify;
/// the outbox owns the retry loop.
public struct ChatFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Failure reasons as an enum (they feed metrics), not free text.
    public enum Reason: String, Sendable {
        case rateLimited = "rate_limited"
        case clientError = "client_error"
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
    public var isRetryable: Bool { reason != .clientError }

    public var description: String { "\(reason.rawValue): \(message)" }
}

/// A chat platform: Console, Telegram, Slack. The seam between the outbox/responder and the platform.
///
/// ```swift
/// let ref = try await transport.post(ChatMessage(text: "#1 CRITICAL web-1 disk"))
/// for await reply in transport.incoming { print(reply.text) }
/// ```
public protocol ChatTransport: Sendable {
    /// The name used in message refs and in `Engineer.identities` (`console`, `telegram`, `slack`).
    var name: String { get }
    var limits: ChatLimits { get }
    /// Posts a message and returns its ref, or a classified failure.
    func post(_ message: ChatMessage) async throws(ChatFailure) -> MessageRef
    /// Replaces the text of a message this transport posted.
    func edit(_ ref: MessageRef, text: String) async throws(ChatFailure)
    /// Messages typed by people. One consumer: the responder.
    var incoming: AsyncStream<IncomingMessage> { get }
}
