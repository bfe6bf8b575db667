import Logging
import ServiceLifecycle
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

@Suite struct OutboxSenderTests {
    /// Runs a sender over `store` and `chat` while `body` runs, then stops it.
    func withSender(
        store: any ScenarioStore, chat: MemoryChatTransport, doorbell: Doorbell,
        _ body: () async throws -> Void
    ) async throws {
        let sender = OutboxSender(
            store: store, transports: [chat],
            settings: OutboxSender.Settings(backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(20)), idleCheck: .seconds(5)),
            doorbell: doorbell, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sender.run() }
            defer { group.cancelAll() }
            try await body()
        }
    }

    @Test func deliversInOrderAndRecordsTheAnnouncement() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        let alert = Alert(source: "generic", host: "h", check: "c", severity: .warning, status: .firing, summary: "s")
        let id = try #require(try await store.ingest([alert]) { _, outcome, _ in
            [OutboxDraft(scenarioID: outcome.scenarioID, purpose: .announcement, text: "first"),
             OutboxDraft(scenarioID: outcome.scenarioID, purpose: .reply, text: "second")]
        }.first?.scenarioID)
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "second")
        }
        #expect(chat.posted == ["first", "second"])
        #expect(chat.posts.all[1].message.replyTo == chat.posts.all[0].ref, "news about a scenario goes in its thread")
        let events = try await store.events(of: id)
        #expect(events.map(\.kind) == [.alertFired, .notified])
        #expect(events.last?.body == .notified(chat.posts.all[0].ref))
        #expect(try await store.scenarioID(for: chat.posts.all[1].ref) == id)
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    @Test func retriesWhatCanPassAndGivesUpOnClientErrors() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        chat.failNextPosts(with: [
            ChatFailure(reason: .rateLimited, message: "429 Too Many Requests", retryAfter: .milliseconds(10)),
            ChatFailure(reason: .serverError, message: "502 Bad Gateway"),
        ])
        try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "eventually")])
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "eventually")
        }
        #expect(chat.posted == ["eventually"])

        chat.failNextPosts(with: [ChatFailure(reason: .clientError, message: "400 Bad Request: chat not found")])
        try await store.append([], outbox: [
            OutboxDraft(scenarioID: nil, purpose: .reply, text: "doomed"),
            OutboxDraft(scenarioID: nil, purpose: .reply, text: "next"),
        ])
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "next")
        }
        #expect(chat.posted == ["eventually", "next"])
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }
}
