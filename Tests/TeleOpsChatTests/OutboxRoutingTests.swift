import Logging
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// `chat.routes` in the outbox: a routed scenario is announced in its route's chat (and topic),
/// everything after goes to that thread, and failover finds the route's chat on the secondary.
@Suite struct OutboxRoutingTests {
    static let routing = AlertRouting([
        AlertRoute(name: "database", match: AlertMatch(hosts: ["db-*"]), destinations: [
            "telegram": ChatDestination(chat: "-100777", topic: "7"),
            "slack": ChatDestination(chat: "C0DB"),
        ]),
        AlertRoute(name: "topic only", match: AlertMatch(checks: ["ntp"]), destinations: ["telegram": ChatDestination(topic: "9")]),
    ])

    static func settings(failover: Bool = false) -> OutboxSender.Settings {
        var settings = OutboxSender.Settings(
            backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(20)), idleCheck: .seconds(5), routing: routing)
        if failover { settings.failover = FailoverPolicy(primary: "telegram", secondary: "slack", afterFailures: 1) }
        return settings
    }

    /// Ingests `alert` with the drafts the controller's composer makes for it (routed by `routing`).
    static func open(_ store: MemoryScenarioStore, host: String, check: String = "disk") async throws -> Int64 {
        let composer = NotificationComposer(catalogue: ActionCatalogue([]), routing: routing)
        let alert = Alert(source: "generic", host: host, check: check, severity: .critical, status: .firing, summary: "\(check) on \(host)")
        return try #require(try await store.ingest([alert]) { alert, outcome, scenario in
            composer.drafts(for: alert, outcome: outcome, scenario: scenario)
        }.first?.scenarioID)
    }

    func withSender(_ store: MemoryScenarioStore, _ transports: [MemoryChatTransport], _ settings: OutboxSender.Settings,
                    _ body: (Doorbell) async throws -> Void) async throws {
        let doorbell = Doorbell()
        let sender = OutboxSender(store: store, transports: transports, settings: settings, doorbell: doorbell, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sender.run() }
            defer { group.cancelAll() }
            doorbell.ring()
            try await body(doorbell)
        }
    }

    @Test func aRoutedScenarioIsAnnouncedInItsRoutesTopicAndItsNewsFollows() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let routed = try await Self.open(store, host: "db-1")
        // Queued before the sender starts, so it is read before the announcement is sent: it
        // must still wait behind it, in the route's chat.
        try await store.append([], outbox: [OutboxDraft(scenarioID: routed, purpose: .reply, text: "db-1 is back")])
        _ = try await Self.open(store, host: "web-1")
        _ = try await Self.open(store, host: "web-2", check: "ntp")
        try await withSender(store, [telegram], Self.settings()) { _ in
            _ = try await telegram.waitForPost(containing: "db-1 is back")
            _ = try await telegram.waitForPost(containing: "web-2")
        }
        let posts = telegram.posts.all
        let announcement = try #require(posts.first { $0.message.text.contains("db-1") && $0.message.replyTo == nil })
        #expect(announcement.message.chat == "-100777")
        #expect(announcement.message.topic == "7")
        let news = try #require(posts.first { $0.message.text == "db-1 is back" })
        #expect(news.message.replyTo == announcement.ref, "in the announcement's thread")
        #expect(news.message.chat == "-100777")
        #expect(news.message.topic == "7", "and its topic, named again")
        #expect(posts.firstIndex { $0.ref == announcement.ref }! < posts.firstIndex { $0.ref == news.ref }!)

        let unrouted = try #require(posts.first { $0.message.text.contains("web-1") })
        #expect(unrouted.message.chat == nil && unrouted.message.topic == nil, "no route: the transport's own chat")
        let topicOnly = try #require(posts.first { $0.message.text.contains("web-2") && $0.message.replyTo == nil })
        #expect(topicOnly.message.chat == nil && topicOnly.message.topic == "9", "the configured chat, the route's topic")
    }

    @Test func onFailoverARoutedScenarioGoesToItsRoutesChatOnTheSecondary() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        telegram.setDown(ChatFailure(reason: .serverError, message: "502 Bad Gateway"))
        let routed = try await Self.open(store, host: "db-1")
        _ = try await Self.open(store, host: "web-2", check: "ntp")
        try await withSender(store, [telegram, slack], Self.settings(failover: true)) { doorbell in
            _ = try await slack.waitForPost(containing: "db-1")
            _ = try await slack.waitForPost(containing: "web-2")
            try await store.append([], outbox: [OutboxDraft(scenarioID: routed, purpose: .reply, text: "still failing over")])
            doorbell.ring()
            _ = try await slack.waitForPost(containing: "still failing over")
        }
        let posts = slack.posts.all
        let announcement = try #require(posts.first { $0.message.text.contains("db-1") && $0.message.replyTo == nil })
        #expect(announcement.message.chat == "C0DB")
        #expect(announcement.message.topic == nil)
        #expect(posts.first { $0.message.text == "still failing over" }?.message.replyTo == announcement.ref)
        let other = try #require(posts.first { $0.message.text.contains("web-2") && $0.message.replyTo == nil })
        #expect(other.message.chat == nil, "a route without a slack channel: slack's own channel")
    }
}
