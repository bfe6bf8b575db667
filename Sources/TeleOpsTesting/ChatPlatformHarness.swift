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
    /// The platform answers the next `count` posts or edits with `failure` (where it answers
    /// calls at all: `traits.platformAnswers`).
    func failNext(_ failure: PlatformFailure, count: Int) async

    /// Where the platform does not work like a chat app, so that the cases concerned check
    /// what it does instead. `.chatApp` unless the harness says otherwise.
    var traits: ChatPlatformTraits { get }
    /// Runs `body` while the transport's output refuses every write, as a full disk or a
    /// closed terminal does, passing what the system says of it (`strerror`). For a platform
    /// that does not answer calls (`traits.platformAnswers` false), whose one failure that is.
    func whileOutputRefusesWrites(_ body: (_ systemReason: String) async throws -> Void) async throws
}

extension ChatPlatformHarness {
    public var traits: ChatPlatformTraits { .chatApp }

    public func whileOutputRefusesWrites(_ body: (_ systemReason: String) async throws -> Void) async throws {
        throw HarnessCannot(what: "make \(transport.name)'s output refuse writes: its platform answers calls (use failNext)")
    }
}

/// How a platform differs from a chat app (Telegram, Slack, the memory chat), for the cases a
/// difference changes the meaning of. The cases check each difference as the platform really
/// behaves; none is skipped. So far the console (a terminal) is the one platform that differs.
public struct ChatPlatformTraits: Sendable, Equatable {
    /// An edit changes the message itself. Where false (a terminal cannot change what it
    /// printed), an edit is shown anew after the message, which stays as first shown: each
    /// edit is one of the message's `PlatformMessage.updates`, with its whole text and buttons.
    public var editsInPlace: Bool
    /// People can reply to one message (in its thread) and press the buttons under it. Where
    /// false (a terminal has typed lines only), `userTypes` takes no `replyTo` and
    /// `userPresses` types the command the button showed: it arrives as typed text answering
    /// no message, the command's `#N` naming its scenario.
    public var canReplyToMessages: Bool
    /// The one person who can type (the console's operator), or nil where anyone can. Cases
    /// play every person as them.
    public var onlyPerson: String?
    /// A platform answers every post and edit, so `failNext` can make it answer 429, 5xx or a
    /// rejection. Where false (a terminal answers nothing), `failNext` does nothing and the
    /// transport's one failure is its output refusing a write (`whileOutputRefusesWrites`).
    public var platformAnswers: Bool

    public init(editsInPlace: Bool, canReplyToMessages: Bool, onlyPerson: String?, platformAnswers: Bool) {
        self.editsInPlace = editsInPlace
        self.canReplyToMessages = canReplyToMessages
        self.onlyPerson = onlyPerson
        self.platformAnswers = platformAnswers
    }

    /// Telegram, Slack, the memory chat.
    public static let chatApp = ChatPlatformTraits(editsInPlace: true, canReplyToMessages: true, onlyPerson: nil, platformAnswers: true)
}

/// A harness was asked for something its platform does not have.
public struct HarnessCannot: Error, Sendable, CustomStringConvertible {
    public var what: String

    public init(what: String) {
        self.what = what
    }

    public var description: String { "the harness cannot \(what)" }
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
    /// Where edits are not made in place (`ChatPlatformTraits.editsInPlace` false), each edit
    /// as shown after the message, oldest first; `text` and `buttons` stay as first shown.
    /// Empty where edits are in place.
    public var updates: [Update]

    /// An edit shown apart from the message it edits.
    public struct Update: Sendable, Equatable {
        public var text: String
        public var buttons: [ChatButton]

        public init(text: String, buttons: [ChatButton] = []) {
            self.text = text
            self.buttons = buttons
        }
    }

    public init(
        id: String, text: String, replyTo: String? = nil, buttons: [ChatButton] = [], edits: Int = 0, updates: [Update] = []
    ) {
        self.id = id
        self.text = text
        self.replyTo = replyTo
        self.buttons = buttons
        self.edits = edits
        self.updates = updates
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
