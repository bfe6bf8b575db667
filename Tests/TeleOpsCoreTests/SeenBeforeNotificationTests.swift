import Foundation
import Synchronization
import Logging
import ServiceLifecycle
import Testing
@testable import TeleOpsCore

/// How an alert's history reads in chat, and when the one-tap rerun is offered.
@Suite struct SeenBeforeNotificationTests {
    static let composer = NotificationComposer(catalogue: .defaults)
    static let opened = Date(timeIntervalSince1970: 1_763_800_000)

    static func scenario(_ id: Int64, host: String = "web-1") -> Scenario {
        Scenario.opening(with: Alert(source: "generic", host: host, check: "disk_usage", severity: .critical, status: .firing,
                                     summary: "disk full", receivedAt: opened), id: id, previousID: nil)
    }

    static func occurrence(_ id: Int64, host: String = "web-1", fix: String?, resolvedAfter: TimeInterval? = 754,
                           handledBy: [String] = ["ana"], actions: [String] = ["uptime", "disk"]) -> SeenBefore.Occurrence {
        SeenBefore.Occurrence(scenarioID: id, host: host, openedAt: opened, resolvedAt: resolvedAfter.map(opened.addingTimeInterval),
                              handledBy: handledBy, actions: actions, fix: fix)
    }

    @Test func theLastTimeIsToldAndItsFixOfferedAsOneTap() {
        let seen = SeenBefore(times: 3, last: Self.occurrence(7, fix: "disk"), elsewhere: 2,
                              lastElsewhere: Self.occurrence(9, host: "web-3", fix: "uptime"))
        let outcome = IngestOutcome(alertID: 1, scenarioID: 12, disposition: .opened, seenBefore: seen)
        let alert = Alert(source: "generic", host: "web-1", check: "disk_usage", severity: .critical, status: .firing, summary: "disk full")
        let drafts = Self.composer.drafts(for: alert, outcome: outcome, scenario: Self.scenario(12))
        #expect(drafts.map(\.purpose) == [.announcement, .reply])
        #expect(drafts[1].text == """
            🔁 Seen before: 3 times, last on 2025-11-22T08:26:40Z (#7).
            Last time: ana handled it; ran uptime, disk; resolved 12m34s after it opened.
            Before the resolve: disk (one tap below runs it again).
            Same check on other hosts: 2 times, last on web-3 (#9, 2025-11-22T08:26:40Z), after uptime.
            """)
        #expect(drafts[1].buttons == [ChatButton(label: "▶ disk again", command: "#12 run disk")])
    }

    @Test func onlyElsewhereItOffersTheOtherHostsFix() {
        let seen = SeenBefore(times: 0, last: nil, elsewhere: SeenBefore.countCap, lastElsewhere: Self.occurrence(9, host: "web-3", fix: "uptime"))
        let text = Self.composer.seenBefore(seen, scenario: Self.scenario(12))
        #expect(text == "Same check on other hosts: 100+ times, last on web-3 (#9, 2025-11-22T08:26:40Z), after uptime.")
        #expect(Self.composer.seenBeforeButtons(seen, scenario: Self.scenario(12)).map(\.command) == ["#12 run uptime"])
    }

    @Test func anActionNoLongerConfiguredOrNeverResolvedIsSaidButNotOffered() {
        let seen = SeenBefore(times: 1, last: Self.occurrence(7, fix: "flush-cache", resolvedAfter: nil, handledBy: [], actions: ["flush-cache"]),
                              elsewhere: 0, lastElsewhere: nil)
        let text = Self.composer.seenBefore(seen, scenario: Self.scenario(12))
        #expect(text.contains("Last time: ran flush-cache; it was never resolved."))
        #expect(text.contains("Before the resolve: flush-cache."))
        #expect(Self.composer.seenBeforeButtons(seen, scenario: Self.scenario(12)).isEmpty)
    }

    @Test func anAlertWithNoHistoryGetsOnlyItsAnnouncement() {
        let alert = Alert(source: "generic", host: "web-1", check: "disk_usage", severity: .critical, status: .firing, summary: "s")
        let drafts = Self.composer.drafts(for: alert, outcome: IngestOutcome(alertID: 1, scenarioID: 12, disposition: .opened),
                                          scenario: Self.scenario(12))
        #expect(drafts.map(\.purpose) == [.announcement])
    }
}

/// The server's retention pass: old resolved scenarios go, active and recent ones stay.
@Suite struct RetentionServiceTests {
    @Test func aPassRemovesOldResolvedScenariosOnly() async throws {
        let store = MemoryScenarioStore()
        let start = Date(timeIntervalSince1970: 1_763_800_000)
        func alert(_ check: String, _ status: AlertStatus, _ seconds: Double) -> Alert {
            Alert(source: "generic", host: "web-1", check: check, severity: .warning, status: status, summary: check,
                  receivedAt: start.addingTimeInterval(seconds))
        }
        _ = try await store.ingest([alert("old", .firing, 0), alert("old", .resolved, 60), alert("open", .firing, 0),
                                    alert("recent", .firing, 0), alert("recent", .resolved, 86_000)]) { _, _, _ in [] }
        let service = RetentionService(
            store: store, settings: RetentionService.Settings(policy: RetentionPolicy(maxAge: .seconds(3600)), batch: 1),
            logger: Logger(label: "test"))
        #expect(await service.pruneOnce(now: start.addingTimeInterval(86_400)) == 1)
        #expect(try await store.scenarios(ScenarioQuery()).map(\.check) == ["recent", "open"])
        #expect(await service.pruneOnce(now: start.addingTimeInterval(86_400)) == 0)
    }
}

extension RetentionServiceTests {
    /// With nothing to remove, the service still runs until shutdown: a service that returned
    /// at once would stop the whole controller.
    @Test func withoutAPolicyItWaitsForShutdownInsteadOfReturning() async throws {
        let service = RetentionService(store: MemoryScenarioStore(), settings: RetentionService.Settings(), logger: Logger(label: "test"))
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let finished = Mutex(false)
        let running = Task {
            defer { finished.withLock { $0 = true } }
            try await group.run()
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!finished.withLock { $0 }, "still running")
        await group.triggerGracefulShutdown()
        try await running.value  // a service that had ended early would make run() throw
    }
}
