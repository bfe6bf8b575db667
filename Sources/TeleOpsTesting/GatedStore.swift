import Foundation
import Synchronization
import TeleOpsCore

/// A store that holds every group commit until the test opens the gate, and records how
/// many requests each commit carried: for testing group commit and back-pressure.
///
/// ```swift
/// let store = GatedStore(MemoryScenarioStore())
/// // … start concurrent requests; they queue up behind the closed gate …
/// store.open()
/// store.commits  // [1, 19]: the first request, then the 19 that gathered meanwhile
/// ```
public final class GatedStore: ScenarioStore {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var commits: [Int] = []
    }

    public let inner: any ScenarioStore
    private let state = Mutex(State())

    public init(_ inner: any ScenarioStore) {
        self.inner = inner
    }

    /// Requests per group commit, in order (recorded when a commit starts).
    public var commits: [Int] { state.withLock { $0.commits } }

    public func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    private func passGate() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    public func ingest(
        batches: [[Alert]], compose: @escaping IngestComposer
    ) async throws -> [Result<[IngestOutcome], any Error>] {
        state.withLock { $0.commits.append(batches.count) }
        await passGate()
        return try await inner.ingest(batches: batches, compose: compose)
    }

    public func ingest(_ alerts: [Alert], compose: @escaping IngestComposer) async throws -> [IngestOutcome] {
        state.withLock { $0.commits.append(1) }
        await passGate()
        return try await inner.ingest(alerts, compose: compose)
    }

    public func append(_ events: [NewEvent], outbox: [OutboxDraft], settling inboxID: Int64?) async throws -> [ScenarioEvent] {
        try await inner.append(events, outbox: outbox, settling: inboxID)
    }

    public func receive(_ messages: [IncomingMessage], cursor: ChatCursor?) async throws -> [IncomingMessage] {
        try await inner.receive(messages, cursor: cursor)
    }

    public func cursor(named name: String) async throws -> String? { try await inner.cursor(named: name) }
    public func unsettledIncoming(limit: Int) async throws -> [IncomingMessage] { try await inner.unsettledIncoming(limit: limit) }
    public func announcements(of scenarioID: Int64) async throws -> [MessageRef] { try await inner.announcements(of: scenarioID) }
    public func messages(keyed key: String) async throws -> [MessageRef] { try await inner.messages(keyed: key) }

    public func scenario(id: Int64) async throws -> Scenario? { try await inner.scenario(id: id) }
    public func newestActiveScenario() async throws -> Scenario? { try await inner.newestActiveScenario() }
    public func scenarios(_ query: ScenarioQuery) async throws -> [Scenario] { try await inner.scenarios(query) }
    public func events(of scenarioID: Int64) async throws -> [ScenarioEvent] { try await inner.events(of: scenarioID) }
    public func alerts(ids: [Int64]) async throws -> [Int64: Alert] { try await inner.alerts(ids: ids) }
    public func commandEvents(amongNewest count: Int) async throws -> [ScenarioEvent] { try await inner.commandEvents(amongNewest: count) }
    public func count(_ query: ScenarioQuery, upTo cap: Int) async throws -> ScenarioCount { try await inner.count(query, upTo: cap) }
    public func verifyChain(against checkpoint: ChainCheckpoint?) async throws -> ChainReport {
        try await inner.verifyChain(against: checkpoint)
    }
    public func prune(_ policy: RetentionPolicy, now: Date, batch: Int) async throws -> Int {
        try await inner.prune(policy, now: now, batch: batch)
    }
    public func scenarioID(for message: MessageRef) async throws -> Int64? { try await inner.scenarioID(for: message) }
    public func pendingOutbox(afterID: Int64?, limit: Int) async throws -> [OutboxMessage] {
        try await inner.pendingOutbox(afterID: afterID, limit: limit)
    }

    public func markSent(outboxID: Int64, as refs: [MessageRef]) async throws { try await inner.markSent(outboxID: outboxID, as: refs) }

    public func markFailed(outboxID: Int64, reason: String, giveUp: Bool) async throws {
        try await inner.markFailed(outboxID: outboxID, reason: reason, giveUp: giveUp)
    }
}
