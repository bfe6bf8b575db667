import Synchronization
import TeleOpsCore

/// A chat transport held in memory: a test types a message with `type(_:from:)` and reads what
/// TeleOps posted with `posted`, or waits for it with `waitForPost(containing:)`.
///
/// ```swift
/// let chat = MemoryChatTransport()
/// chat.type("run disk", from: "ana")
/// let reply = try await chat.waitForPost(containing: "disk on web-1")
/// ```
public final class MemoryChatTransport: ChatTransport {
    public let name: String
    public let limits: ChatLimits
    public let incoming: AsyncStream<IncomingMessage>
    /// Everything posted, in order, with the ref each got.
    public let posts = Collector<(ref: MessageRef, message: ChatMessage)>()
    public let edits = Collector<(ref: MessageRef, text: String, buttons: [ChatButton])>()
    private let continuation: AsyncStream<IncomingMessage>.Continuation
    private let state = Mutex((typed: 0, sent: 0, failures: [ChatFailure]()))

    public init(name: String = "memory", maxMessageLength: Int = 4096) {
        self.name = name
        self.limits = ChatLimits(maxMessageLength: maxMessageLength)
        (incoming, continuation) = AsyncStream.makeStream(of: IncomingMessage.self)
    }

    /// The texts posted so far, in order.
    public var posted: [String] { posts.all.map(\.message.text) }

    /// Makes the next posts fail with these failures, one each, before posting works again.
    public func failNextPosts(with failures: [ChatFailure]) {
        state.withLock { $0.failures.append(contentsOf: failures) }
    }

    /// Delivers a message from `userID`, optionally as a reply to one TeleOps posted.
    @discardableResult
    public func type(_ text: String, from userID: String, replyTo: MessageRef? = nil) -> MessageRef {
        let number = state.withLock { state -> Int in
            state.typed += 1
            return state.typed
        }
        let ref = MessageRef(transport: name, chat: "chat", messageID: "in-\(number)")
        continuation.yield(IncomingMessage(ref: ref, userID: userID, displayName: userID, text: text, replyTo: replyTo))
        return ref
    }

    /// Waits until a posted message contains `needle` (at once if one already does).
    public func waitForPost(containing needle: String, timeout: Duration = .seconds(10)) async throws -> ChatMessage {
        try await posts.waitFor(what: "a chat message containing '\(needle)'", timeout: timeout) {
            $0.message.text.contains(needle)
        }.message
    }

    public func post(_ message: ChatMessage) async throws(ChatFailure) -> MessageRef {
        let next = state.withLock { state -> Result<Int, ChatFailure> in
            if !state.failures.isEmpty { return .failure(state.failures.removeFirst()) }
            state.sent += 1
            return .success(state.sent)
        }
        let ref = MessageRef(transport: name, chat: message.chat ?? "chat", messageID: "out-\(try next.get())")
        posts.append((ref, message))
        return ref
    }

    public func edit(_ ref: MessageRef, text: String, buttons: [ChatButton]) async throws(ChatFailure) {
        edits.append((ref, text, buttons))
    }
}
