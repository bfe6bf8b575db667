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
    public let defaultChat = "chat"
    public let incoming: AsyncStream<IncomingMessage>
    /// Everything posted, in order, with the ref each got.
    public let posts = Collector<(ref: MessageRef, message: ChatMessage)>()
    public let edits = Collector<(ref: MessageRef, text: String, buttons: [ChatButton])>()
    private let continuation: AsyncStream<IncomingMessage>.Continuation
    private let state = Mutex((typed: 0, sent: 0, failures: [ChatFailure](), editFailures: [ChatFailure](), down: ChatFailure?.none,
                               nextEditGate: Gate?.none))

    public init(name: String = "memory", maxMessageLength: Int = 4096, perChat: [ChatRate] = [], global: [ChatRate] = []) {
        self.name = name
        self.limits = ChatLimits(maxMessageLength: maxMessageLength, perChat: perChat, global: global)
        (incoming, continuation) = AsyncStream.makeStream(of: IncomingMessage.self)
    }

    /// The texts posted so far, in order.
    public var posted: [String] { posts.all.map(\.message.text) }

    /// Makes the next posts fail with these failures, one each, before posting works again.
    public func failNextPosts(with failures: [ChatFailure]) {
        state.withLock { $0.failures.append(contentsOf: failures) }
    }

    /// Makes the next edits fail with these failures, one each, before editing works again.
    public func failNextEdits(with failures: [ChatFailure]) {
        state.withLock { $0.editFailures.append(contentsOf: failures) }
    }

    /// Failures queued by `failNextPosts` that no post has met yet.
    public var pendingFailures: Int { state.withLock { $0.failures.count } }

    /// Failures queued by `failNextEdits` that no edit has met yet.
    public var pendingEditFailures: Int { state.withLock { $0.editFailures.count } }

    /// Makes the next edit that would succeed wait, before it takes effect, until the returned
    /// gate is opened: so a test can have a slow edit still in flight while another one is made.
    public func holdNextEdit() -> Gate {
        let gate = Gate()
        state.withLock { $0.nextEditGate = gate }
        return gate
    }

    /// Makes every post and edit fail with `failure` until called with nil (a platform outage).
    public func setDown(_ failure: ChatFailure?) {
        state.withLock { $0.down = failure }
    }

    /// Delivers a button press from `userID` on the message `ref` (as a platform would: the
    /// button's command as text, in reply to the message it is under).
    public func press(_ button: ChatButton, on ref: MessageRef, from userID: String, deliveryID: String? = nil) {
        continuation.yield(IncomingMessage(
            ref: ref, userID: userID, displayName: userID, text: button.command, replyTo: ref, kind: .button,
            deliveryID: deliveryID))
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
            if let down = state.down { return .failure(down) }
            if !state.failures.isEmpty { return .failure(state.failures.removeFirst()) }
            state.sent += 1
            return .success(state.sent)
        }
        if ChatText.length(message.text) > limits.maxMessageLength {
            throw ChatFailure(reason: .clientError, message: "message is too long (\(ChatText.length(message.text)) > \(limits.maxMessageLength))")
        }
        let ref = MessageRef(transport: name, chat: message.chat ?? "chat", messageID: "out-\(try next.get())")
        posts.append((ref, message))
        return ref
    }

    public func edit(_ ref: MessageRef, text: String, buttons: [ChatButton]) async throws(ChatFailure) {
        let failure = state.withLock { state -> ChatFailure? in
            if let down = state.down { return down }
            return state.editFailures.isEmpty ? nil : state.editFailures.removeFirst()
        }
        if let failure { throw failure }
        if let gate = state.withLock({ state in defer { state.nextEditGate = nil }; return state.nextEditGate }) {
            await gate.pass()
        }
        edits.append((ref, text, buttons))
    }

    /// Where a held edit waits (`holdNextEdit`).
    public final class Gate: Sendable {
        private let state = Mutex((open: false, reached: false, waiting: CheckedContinuation<Void, Never>?.none))

        /// Whether an edit is waiting at the gate (or went through it).
        public var isReached: Bool { state.withLock { $0.reached } }

        /// Lets the held edit take effect.
        public func open() {
            let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.open = true
                defer { state.waiting = nil }
                return state.waiting
            }
            waiting?.resume()
        }

        func pass() async {
            await withCheckedContinuation { continuation in
                let proceed = state.withLock { state -> Bool in
                    state.reached = true
                    if state.open { return true }
                    state.waiting = continuation
                    return false
                }
                if proceed { continuation.resume() }
            }
        }
    }
}
