import TeleOpsCore

/// A chat platform (real HTTP fake or in memory) with a transport talking to it, as the
/// transport conformance suite drives it: what the bot posted, people typing and pressing
/// buttons, and the platform failing on purpose.
///
/// Platform ids are strings as the transport puts them in `MessageRef.messageID`.
public protocol ChatPlatformHarness: Sendable {
    /// The transport under test, configured to talk to this platform.
    var transport: any ChatTransport { get }
    /// The chat the transport posts in by default, as it appears in `MessageRef.chat`.
    var chat: String { get }

    /// Runs `body` while the transport receives (its poller, socket or webhook is live).
    func whileReceiving(_ body: () async throws -> Void) async throws

    /// The bot's messages in `chat` as the platform holds them now, oldest first.
    func botMessages() async -> [PlatformMessage]
    /// A person types `text` in `chat`, as a reply to (in the thread of) the bot's message
    /// `replyTo` when given. Returns the platform id of the new message.
    @discardableResult
    func userTypes(_ text: String, userID: String, replyTo: String?) async throws -> String
    /// A person presses the button with `command` under the bot's message `messageID`.
    func userPresses(command: String, on messageID: String, userID: String) async throws
    /// Another bot posts `text` in `chat`; the transport must not deliver it.
    func otherBotPosts(_ text: String) async throws
    /// The platform answers the next `count` posts or edits with `failure`.
    func failNext(_ failure: PlatformFailure, count: Int) async
}

/// A message as the platform shows it: text after the platform parsed its markup.
public struct PlatformMessage: Sendable, Equatable {
    public var id: String
    public var text: String
    /// The message this one replies to (Telegram) or the thread it is in (Slack).
    public var replyTo: String?
    public var buttons: [ChatButton]
    /// How many times it was edited.
    public var edits: Int

    public init(id: String, text: String, replyTo: String? = nil, buttons: [ChatButton] = [], edits: Int = 0) {
        self.id = id
        self.text = text
        self.replyTo = replyTo
        self.buttons = buttons
        self.edits = edits
    }
}

/// Ways a platform fails a call, each answered as that platform really answers it.
public enum PlatformFailure: Sendable, Equatable {
    /// 429 with the platform's way of saying when to retry.
    case rateLimited(retryAfterSeconds: Int)
    /// 500 or 502.
    case serverError
    /// A 400 (or Slack's `ok: false`) with this platform error text.
    case rejected(String)
}
