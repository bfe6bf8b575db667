import Foundation
import Logging
import Synchronization
import TeleOpsChat
import TeleOpsCore
import TeleOpsSQLite
import Testing

/// A message that goes out while the controller stops is marked sent in the store, so the
/// restart does not send it again. The SQLite store refuses work for a cancelled task, and
/// the sender's task is cancelled at shutdown.
@Suite struct OutboxShutdownTests {
    /// A transport whose posts start, then wait for the test to let them finish, whatever
    /// happens to the caller meanwhile (as a request already on the wire does).
    final class HeldTransport: ChatTransport {
        let name = "held"
        let limits = ChatLimits(maxMessageLength: 4096)
        let defaultChat = "chat"
        let incoming = AsyncStream<IncomingMessage> { _ in }
        private let state = Mutex((started: 0, release: [CheckedContinuation<Void, Never>](), released: false))

        var started: Int { state.withLock { $0.started } }

        func release() {
            let waiting = state.withLock { state in
                state.released = true
                defer { state.release = [] }
                return state.release
            }
            waiting.forEach { $0.resume() }
        }

        func post(_ message: ChatMessage) async throws(ChatFailure) -> MessageRef {
            let number = state.withLock { state in
                state.started += 1
                return state.started
            }
            await withCheckedContinuation { continuation in
                let go = state.withLock { state -> Bool in
                    if !state.released { state.release.append(continuation) }
                    return state.released
                }
                if go { continuation.resume() }
            }
            return MessageRef(transport: name, chat: message.chat ?? defaultChat, messageID: "out-\(number)")
        }

        func edit(_ ref: MessageRef, text: String, buttons: [ChatButton]) async throws(ChatFailure) {}
    }

    @Test func aMessageSentWhileTheSenderStopsIsMarkedSent() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-shutdown-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
        try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "going out")])
        let chat = HeldTransport()
        let sender = OutboxSender(store: store, transports: [chat], doorbell: Doorbell(), logger: Logger(label: "test"))

        let running = Task { try await sender.run() }
        let deadline = ContinuousClock.now + .seconds(10)
        while chat.started == 0 {
            try #require(ContinuousClock.now < deadline, "the sender never posted")
            try await Task.sleep(for: .milliseconds(5))
        }
        running.cancel()  // the controller stops while the message is on its way
        chat.release()
        try await running.value

        #expect(chat.started == 1)
        #expect(try await store.pendingOutbox(limit: 10).isEmpty, "sent, so no longer pending")
        try store.close()
    }
}
