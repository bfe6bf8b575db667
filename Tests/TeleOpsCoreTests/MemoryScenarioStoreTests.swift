import Foundation
@testable import TeleOpsCore
import TeleOpsTesting
import Testing

@Suite("MemoryScenarioStore")
struct MemoryScenarioStoreTests {
    @Test("conformance", arguments: ScenarioStoreConformance.cases.map(\.name))
    func conformance(_ name: String) async throws {
        try await ScenarioStoreConformance.run(name, on: MemoryScenarioStore())
    }

    @Test func unknownCaseNameFails() async throws {
        await #expect(throws: ConformanceFailure.self) {
            try await ScenarioStoreConformance.run("no such case", on: MemoryScenarioStore())
        }
    }

    @Test func caseNamesAreUnique() {
        let names = ScenarioStoreConformance.cases.map(\.name)
        #expect(Set(names).count == names.count)
    }

    @Test func journalsEveryAlertIncludingUnmatched() async throws {
        let store = MemoryScenarioStore()
        let alert = Alert(source: "generic", host: "web-1", check: "disk", severity: .info, status: .resolved, summary: "ok")
        _ = try await store.ingest([alert]) { _, _, _ in [] }
        let journaled = store.journaledAlerts()
        #expect(journaled.count == 1)
        #expect(journaled.first?.scenarioID == nil)
        #expect(journaled.first?.alert.receivedAt == alert.receivedAt.truncatedToMilliseconds)
    }

    /// As with the SQLite file (`SQLiteChainTests`): an alert edited or removed behind the
    /// store's back is named by verify.
    @Test func verifyNamesAnAlertEditedOrRemovedBehindItsBack() async throws {
        func store() async throws -> (MemoryScenarioStore, [IngestOutcome]) {
            let store = MemoryScenarioStore()
            let fired = Alert(source: "generic", host: "web-1", check: "disk", severity: .critical, status: .firing, summary: "full",
                              labels: ["team": "ops"], details: ["used_pct": 95])
            var resolved = fired
            resolved.status = .resolved
            let outcomes = try await store.ingest([fired, fired, resolved]) { _, _, _ in [] }
            #expect(try await store.verifyChain().firstBreak == nil)
            return (store, outcomes)
        }
        let edits: [(inout Alert?) -> Void] = [
            { $0?.labels["team"] = "nobody" }, { $0?.details = ["used_pct": 5] }, { $0?.host = "web-2" },
        ]
        for edit in edits {
            let (edited, outcomes) = try await store()
            edited.tamperWithAlert(id: outcomes[1].alertID, edit)
            #expect(try await edited.verifyChain().firstBreak
                    == ChainBreak(scenarioID: 1, eventID: 2, reason: .alertAltered, alertID: outcomes[1].alertID))
        }
        let (removed, outcomes) = try await store()
        removed.tamperWithAlert(id: outcomes[2].alertID) { $0 = nil }
        #expect(try await removed.verifyChain().firstBreak
                == ChainBreak(scenarioID: 1, eventID: 3, reason: .alertRemoved, alertID: outcomes[2].alertID))
    }
}

/// The suite must catch a store that breaks the contract; each wrapper breaks one thing.
@Suite("ScenarioStoreConformance catches broken stores")
struct BrokenStoreTests {
    enum Breakage: String, CaseIterable, Sendable {
        case eventsNewestFirst, notifiedForEveryMessage, queryIgnoresHost, pendingIncludesGivenUp, inboxReplaysDeliveries
        case alertTimesInSeconds
    }

    static let expectedFailure: [Breakage: String] = [
        .eventsNewestFirst: "every event kind round trips, oldest first, and encodes as JSON",
        .notifiedForEveryMessage: "markSent maps the message and only announcements append notified",
        .queryIgnoresHost: "scenario queries filter by status and host, newest first, with paging",
        .pendingIncludesGivenUp: "markFailed counts attempts and giveUp leaves the queue",
        .inboxReplaysDeliveries: "the inbox takes each delivery once, keeps cursors, and settles with append",
        .alertTimesInSeconds: "alert events record the digest of their alert as it comes back, and an untouched log verifies",
    ]

    @Test(arguments: Breakage.allCases)
    func brokenStoreFails(_ breakage: Breakage) async throws {
        let name = try #require(Self.expectedFailure[breakage])
        let error = await #expect(throws: ConformanceFailure.self) {
            try await ScenarioStoreConformance.run(name, on: BrokenStore(breakage: breakage))
        }
        #expect(error?.caseName == name)
        // The same case passes on the unbroken store, so the failure is the breakage's.
        try await ScenarioStoreConformance.run(name, on: MemoryScenarioStore())
    }
}

/// A `MemoryScenarioStore` with one deliberate bug.
private struct BrokenStore: ScenarioStore {
    let breakage: BrokenStoreTests.Breakage
    let base = MemoryScenarioStore()

    func ingest(_ alerts: [Alert], compose: @escaping IngestComposer) async throws -> [IngestOutcome] {
        try await base.ingest(alerts, compose: compose)
    }

    func append(_ events: [NewEvent], outbox: [OutboxDraft], settling inboxID: Int64?) async throws -> [ScenarioEvent] {
        try await base.append(events, outbox: outbox, settling: inboxID)
    }

    func receive(_ messages: [IncomingMessage], cursor: ChatCursor?) async throws -> [IncomingMessage] {
        let fresh = try await base.receive(messages, cursor: cursor)
        return breakage == .inboxReplaysDeliveries ? messages.enumerated().map { index, message in
            var message = message
            message.inboxID = fresh.first { $0.deliveryID == message.deliveryID }?.inboxID ?? Int64(index + 1)
            return message
        } : fresh
    }

    func cursor(named name: String) async throws -> String? { try await base.cursor(named: name) }
    func unsettledIncoming(limit: Int) async throws -> [IncomingMessage] { try await base.unsettledIncoming(limit: limit) }
    func announcements(of scenarioID: Int64) async throws -> [MessageRef] { try await base.announcements(of: scenarioID) }
    func messages(keyed key: String) async throws -> [MessageRef] { try await base.messages(keyed: key) }

    func scenario(id: Int64) async throws -> Scenario? { try await base.scenario(id: id) }
    func newestActiveScenario() async throws -> Scenario? { try await base.newestActiveScenario() }

    func scenarios(_ query: ScenarioQuery) async throws -> [Scenario] {
        var query = query
        if breakage == .queryIgnoresHost { query.host = nil }
        return try await base.scenarios(query)
    }

    func alerts(ids: [Int64]) async throws -> [Int64: Alert] {
        let alerts = try await base.alerts(ids: ids)
        guard breakage == .alertTimesInSeconds else { return alerts }
        // A store that keeps whole seconds: its alerts no longer have the digest intake recorded.
        return alerts.mapValues { alert in
            var alert = alert
            alert.receivedAt = Date(timeIntervalSince1970: alert.receivedAt.timeIntervalSince1970.rounded(.down))
            return alert
        }
    }
    func commandEvents(amongNewest count: Int) async throws -> [ScenarioEvent] { try await base.commandEvents(amongNewest: count) }

    func events(of scenarioID: Int64) async throws -> [ScenarioEvent] {
        let events = try await base.events(of: scenarioID)
        return breakage == .eventsNewestFirst ? events.reversed() : events
    }

    func scenarioID(for message: MessageRef) async throws -> Int64? { try await base.scenarioID(for: message) }
    func count(_ query: ScenarioQuery, upTo cap: Int) async throws -> ScenarioCount { try await base.count(query, upTo: cap) }
    func verifyChain(against checkpoint: ChainCheckpoint?) async throws -> ChainReport { try await base.verifyChain(against: checkpoint) }
    func prune(_ policy: RetentionPolicy, now: Date, batch: Int) async throws -> Int {
        try await base.prune(policy, now: now, batch: batch)
    }

    func pendingOutbox(afterID: Int64?, limit: Int) async throws -> [OutboxMessage] {
        try await base.pendingOutbox(afterID: afterID, limit: limit)
    }

    func markSent(outboxID: Int64, as refs: [MessageRef]) async throws {
        let pending = try await base.pendingOutbox(limit: .max).first { $0.id == outboxID }
        try await base.markSent(outboxID: outboxID, as: refs)
        if breakage == .notifiedForEveryMessage, let pending, pending.draft.purpose == .reply, let id = pending.draft.scenarioID,
            let ref = refs.first
        {
            try await base.append([NewEvent(scenarioID: id, actor: "teleops", body: .notified(ref))], outbox: [])
        }
    }

    func markFailed(outboxID: Int64, reason: String, giveUp: Bool) async throws {
        try await base.markFailed(outboxID: outboxID, reason: reason, giveUp: giveUp && breakage != .pendingIncludesGivenUp)
    }
}
