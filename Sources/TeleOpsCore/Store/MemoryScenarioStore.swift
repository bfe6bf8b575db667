import Foundation
import Synchronization

/// A `ScenarioStore` in memory: for unit tests of the stages around the store, and for
/// running the whole pipeline in one process. Nothing survives the process.
///
/// It has the same semantics as the SQLite store (both pass `ScenarioStoreConformance`):
/// the shared logic in `ScenarioStoreTransaction` runs on a copy of the state under a
/// `Mutex`, and the copy replaces the state only when the call succeeds, so a call that
/// throws changes nothing. Dates are truncated to the millisecond on the way in.
///
/// ```swift
/// let store = MemoryScenarioStore()
/// let outcomes = try await store.ingest([alert]) { _, _, _ in [] }
/// ```
///
/// `compose` runs under the store's lock: it must not call the store.
public final class MemoryScenarioStore: ScenarioStore {
    private let state = Mutex(State())
    /// Each call's new outbox messages, published under the lock (in commit order).
    public let outboxFeed: OutboxFeed? = OutboxFeed()

    public init() {}

    public func ingest(_ alerts: [Alert], compose: @escaping IngestComposer) async throws -> [IngestOutcome] {
        let now = Date()
        return try transaction { try $0.ingest(alerts, compose: compose, now: now) }
    }

    @discardableResult
    public func append(_ events: [NewEvent], outbox: [OutboxDraft], settling inboxID: Int64?) async throws -> [ScenarioEvent] {
        let now = Date()
        return try transaction { try $0.append(events, outbox: outbox, settling: inboxID, now: now) }
    }

    public func receive(_ messages: [IncomingMessage], cursor: ChatCursor?) async throws -> [IncomingMessage] {
        let now = Date()
        return try transaction { try $0.receive(messages, cursor: cursor, now: now) }
    }

    public func cursor(named name: String) async throws -> String? {
        state.withLock { $0.cursors[name] }
    }

    public func unsettledIncoming(limit: Int) async throws -> [IncomingMessage] {
        state.withLock { state in
            Array(state.inbox.lazy.filter { $0.settledAt == nil }.prefix(max(0, limit)).map(\.message))
        }
    }

    public func announcements(of scenarioID: Int64) async throws -> [MessageRef] {
        state.withLock { state in
            (state.announcements[scenarioID] ?? []).sorted { ($0.transport, $0.chat, $0.messageID) < ($1.transport, $1.chat, $1.messageID) }
        }
    }

    public func messages(keyed key: String) async throws -> [MessageRef] {
        state.withLock { state in
            (state.keyed[key] ?? []).sorted { ($0.transport, $0.chat, $0.messageID) < ($1.transport, $1.chat, $1.messageID) }
        }
    }

    public func scenario(id: Int64) async throws -> Scenario? {
        state.withLock { $0.scenario(id: id) }
    }

    public func newestActiveScenario() async throws -> Scenario? {
        state.withLock { $0.scenarios.last(where: { $0.status.isActive }) }
    }

    public func scenarios(_ query: ScenarioQuery) async throws -> [Scenario] {
        state.withLock { state in
            let terms = query.text.map(SearchTerms.init) ?? SearchTerms("")
            var found: [Scenario] = []
            for scenario in state.scenarios.reversed() where found.count < query.limit && state.matches(scenario, query, terms) {
                found.append(scenario)
            }
            return found
        }
    }

    public func count(_ query: ScenarioQuery, upTo cap: Int) async throws -> ScenarioCount {
        var query = query
        query.beforeID = nil
        let terms = query.text.map(SearchTerms.init) ?? SearchTerms("")
        return state.withLock { state in
            var count = 0
            for scenario in state.scenarios.reversed() where count < cap && state.matches(scenario, query, terms) {
                count += 1
            }
            return ScenarioCount(count, isPartial: count >= cap)
        }
    }

    public func verifyChain(against checkpoint: ChainCheckpoint?) async throws -> ChainReport {
        state.withLock { state in
            var verifier = ChainVerifier(prunedBelow: state.prunedBelow, against: checkpoint)
            var alertsByScenario: [Int64: [Int64: Alert]] = [:]
            for row in state.alerts {
                if let scenarioID = row.scenarioID { alertsByScenario[scenarioID, default: [:]][row.id] = row.alert }
            }
            var fingerprints: [Int64: String] = [:]
            for scenario in state.scenarios { fingerprints[scenario.id] = scenario.fingerprint }
            for scenario in state.scenarios {
                let events = (state.eventsByScenario[scenario.id] ?? []).map { event in
                    ChainVerifier.StoredEvent(id: event.id, at: event.at, actor: event.actor, kind: event.kind.rawValue,
                                              data: (try? event.body.jsonData()).map(Array.init) ?? [],
                                              hash: state.eventHashes[event.id])
                }
                let alerts = alertsByScenario[scenario.id] ?? [:]
                verifier.check(scenarioID: scenario.id, head: state.heads[scenario.id], events: events,
                               alert: { alerts[$0].map(AlertRow.init) },
                               columns: StoredScenarioColumns(scenario, previousFingerprint: scenario.previousID.flatMap { fingerprints[$0] }))
            }
            verifier.finish(lastAllocatedID: state.lastScenarioID)
            return verifier.report
        }
    }

    public func prune(_ policy: RetentionPolicy, now: Date, batch: Int) async throws -> Int {
        guard !policy.keepsEverything else { return 0 }
        var removed = 0
        while true {
            let count = state.withLock { $0.prune(policy, now: now, batch: max(1, batch)) }
            removed += count
            if count < max(1, batch) { return removed }
        }
    }

    public func events(of scenarioID: Int64) async throws -> [ScenarioEvent] {
        state.withLock { $0.eventsByScenario[scenarioID] ?? [] }
    }

    public func commandEvents(amongNewest count: Int) async throws -> [ScenarioEvent] {
        state.withLock { state in
            let floor = state.eventCount - Int64(max(0, count))
            return state.eventsByScenario.values.joined()
                .filter { $0.id > floor && CommandLedger.kinds.contains($0.kind) }
                .sorted { $0.id < $1.id }
        }
    }

    public func alerts(ids: [Int64]) async throws -> [Int64: Alert] {
        let wanted = Set(ids)
        return state.withLock { state in
            Dictionary(uniqueKeysWithValues: state.alerts.filter { wanted.contains($0.id) }.map { ($0.id, $0.alert) })
        }
    }

    public func scenarioID(for message: MessageRef) async throws -> Int64? {
        state.withLock { $0.messages[message] }
    }

    public func pendingOutbox(afterID: Int64?, limit: Int) async throws -> [OutboxMessage] {
        state.withLock { state in
            let pending = state.outbox.lazy.filter { $0.sentAt == nil && $0.gaveUpAt == nil && $0.id > (afterID ?? 0) }
                .prefix(max(0, limit))
            return pending.map { OutboxMessage(id: $0.id, draft: $0.draft, createdAt: $0.createdAt, attempts: $0.attempts) }
        }
    }

    public func markSent(outboxID: Int64, as refs: [MessageRef]) async throws {
        let now = Date()
        try transaction { try $0.markSent(outboxID: outboxID, as: refs, now: now) }
    }

    public func markFailed(outboxID: Int64, reason: String, giveUp: Bool) async throws {
        let now = Date()
        try transaction { try $0.markFailed(outboxID: outboxID, reason: reason, giveUp: giveUp, now: now) }
    }

    /// The alerts journaled so far, in order, with the scenario each was attached to.
    public func journaledAlerts() -> [(alert: Alert, scenarioID: Int64?)] {
        state.withLock { $0.alerts.map { ($0.alert, $0.scenarioID) } }
    }

    /// Edits a journaled alert in place, behind the store's back, as someone editing a store's
    /// file would (`@testable` tests of tamper evidence); `nil` removes it.
    func tamperWithAlert(id: Int64, _ edit: (inout Alert?) -> Void) {
        state.withLock { state in
            guard let index = state.alerts.firstIndex(where: { $0.id == id }) else { return }
            var alert: Alert? = state.alerts[index].alert
            edit(&alert)
            if let alert { state.alerts[index].alert = alert } else { state.alerts.remove(at: index) }
        }
    }

    /// Runs `body` on a copy of the state and keeps the copy only if `body` returns.
    private func transaction<T: Sendable>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { state in
            var copy = state
            let result = try body(&copy)
            let queued = copy.outbox.reversed().prefix { $0.id > state.lastOutboxID }.reversed().map {
                OutboxMessage(id: $0.id, draft: $0.draft, createdAt: $0.createdAt, attempts: 0)
            }
            state = copy
            outboxFeed?.publish(queued)
            return result
        }
    }
}

extension MemoryScenarioStore {
    fileprivate struct InboxRow {
        var message: IncomingMessage
        var receivedAt: Date
        var settledAt: Date?
    }

    fileprivate struct OutboxRow {
        var id: Int64
        var draft: OutboxDraft
        var createdAt: Date
        var attempts = 0
        var lastError: String?
        var sentAt: Date?
        var gaveUpAt: Date?
    }

    /// Everything the store holds. Ids start at 1. Inbox rows are never removed, so inbox row
    /// `id` sits at index `id - 1`; retention removes scenarios and outbox rows, found by id.
    fileprivate struct State: ScenarioStoreTransaction {
        /// In id order; retention removes rows, so ids come from `lastAlertID`, not positions.
        var alerts: [(id: Int64, alert: Alert, scenarioID: Int64?)] = []
        var lastAlertID: Int64 = 0
        var scenarios: [Scenario] = []
        var eventsByScenario: [Int64: [ScenarioEvent]] = [:]
        var eventCount: Int64 = 0
        /// In id order; retention removes rows, so ids come from `lastOutboxID`, not positions.
        var outbox: [OutboxRow] = []
        var lastOutboxID: Int64 = 0
        var messages: [MessageRef: Int64] = [:]
        var announcements: [Int64: [MessageRef]] = [:]
        var keyed: [String: [MessageRef]] = [:]
        var inbox: [InboxRow] = []
        var deliveries: Set<String> = []
        var cursors: [String: String] = [:]
        /// The chain (`EventChain`): each event's hash, and each scenario's head.
        var eventHashes: [Int64: String] = [:]
        var heads: [Int64: String] = [:]
        /// What search looks through, per scenario: its alerts' and events' `SearchText`.
        var searchText: [Int64: [String]] = [:]
        var lastScenarioID: Int64 = 0
        /// Scenario ids below this one may be missing: retention removed them.
        var prunedBelow: Int64 = 0

        /// Whether `scenario` passes the filters of `query` and has a text with all of `terms`.
        func matches(_ scenario: Scenario, _ query: ScenarioQuery, _ terms: SearchTerms) -> Bool {
            guard query.matchesColumns(scenario) else { return false }
            if let engineer = query.engineer, scenario.acknowledgedBy != engineer,
               !(eventsByScenario[scenario.id] ?? []).contains(where: { $0.actor == engineer }) {
                return false
            }
            return terms.isEmpty || (searchText[scenario.id] ?? []).contains(where: terms.matches)
        }

        /// Removes up to `batch` of the oldest resolved scenarios that `policy` does not keep.
        mutating func prune(_ policy: RetentionPolicy, now: Date, batch: Int) -> Int {
            let cutoff = policy.maxAge.map { now.addingTimeInterval(-$0.secondsValue) }
            let overCount = policy.maxCount.map { max(0, scenarios.count - $0) } ?? 0
            var doomed: Set<Int64> = []
            for (index, scenario) in scenarios.enumerated() where !scenario.status.isActive && doomed.count < batch {
                let tooOld = cutoff.map { (scenario.resolvedAt ?? scenario.updatedAt) < $0 } ?? false
                if tooOld || index < overCount { doomed.insert(scenario.id) }
            }
            guard !doomed.isEmpty else { return 0 }
            for id in doomed {
                for event in eventsByScenario.removeValue(forKey: id) ?? [] { eventHashes[event.id] = nil }
                heads[id] = nil
                searchText[id] = nil
                announcements[id] = nil
            }
            scenarios.removeAll { doomed.contains($0.id) }
            alerts.removeAll { $0.scenarioID.map(doomed.contains) ?? false }
            messages = messages.filter { !doomed.contains($0.value) }
            outbox.removeAll { $0.draft.scenarioID.map(doomed.contains) ?? false }
            prunedBelow = max(prunedBelow, (doomed.max() ?? 0) + 1)
            return doomed.count
        }

        func scenario(id: Int64) -> Scenario? {
            index(of: id).map { scenarios[$0] }
        }

        func scenarioCount(fingerprint: String, below: Int64, cap: Int) -> Int {
            min(cap, scenarios.count { $0.fingerprint == fingerprint && $0.id < below })
        }

        func scenarioCount(check: String, otherThanHost: String, below: Int64, cap: Int) -> Int {
            let window = scenarios.reversed().lazy.filter { $0.check == check && $0.id < below && $0.status == .resolved }
                .prefix(SeenBefore.checkWindow)
            return min(cap, window.count { $0.host != otherThanHost })
        }

        func newestScenario(fingerprint: String, below: Int64) -> Scenario? {
            scenarios.last { $0.fingerprint == fingerprint && $0.id < below }
        }

        func newestScenario(check: String, otherThanHost: String, below: Int64) -> Scenario? {
            scenarios.last { $0.check == check && $0.host != otherThanHost && $0.id < below && $0.status == .resolved }
        }

        func events(of scenarioID: Int64, kinds: [EventKind]) -> [ScenarioEvent] {
            (eventsByScenario[scenarioID] ?? []).filter { kinds.contains($0.kind) }
        }

        /// Scenarios are kept in id order (retention may leave gaps): a binary search.
        func index(of id: Int64) -> Int? {
            var low = 0, high = scenarios.count
            while low < high {
                let middle = (low + high) / 2
                if scenarios[middle].id < id { low = middle + 1 } else { high = middle }
            }
            return low < scenarios.count && scenarios[low].id == id ? low : nil
        }

        func activeScenario(fingerprint: String) -> Scenario? {
            scenarios.last { $0.fingerprint == fingerprint && $0.status.isActive }
        }

        func newestResolvedScenarioID(fingerprint: String) -> Int64? {
            scenarios.last { $0.fingerprint == fingerprint && $0.status == .resolved }?.id
        }

        func journaledAlertID(idempotencyKey: String, scenarioID: Int64?) -> Int64? {
            alerts.last { $0.alert.idempotencyKey == idempotencyKey && $0.scenarioID == scenarioID }?.id
        }

        mutating func insertScenario(_ scenario: Scenario) -> Int64 {
            var scenario = scenario
            lastScenarioID += 1
            scenario.id = lastScenarioID
            scenarios.append(scenario)
            return scenario.id
        }

        mutating func updateScenario(_ scenario: Scenario, from previous: Scenario) throws {
            guard let index = index(of: scenario.id) else { throw ScenarioStoreError.scenarioNotFound(scenario.id) }
            scenarios[index] = scenario
        }

        mutating func insertAlert(_ alert: Alert, row: AlertRow, scenarioID: Int64?, searchable: Bool) -> Int64 {
            lastAlertID += 1
            alerts.append((lastAlertID, alert, scenarioID))
            if let scenarioID, searchable { searchText[scenarioID, default: []].append(SearchText.of(alert)) }
            return lastAlertID
        }

        mutating func insertEvent(_ event: NewEvent) -> Int64 {
            eventCount += 1
            let stored = ScenarioEvent(id: eventCount, scenarioID: event.scenarioID, at: event.at, actor: event.actor, body: event.body)
            eventsByScenario[event.scenarioID, default: []].append(stored)
            let hash = EventChain.hash(previous: heads[event.scenarioID], scenarioID: event.scenarioID, at: event.at,
                                       actor: event.actor, kind: event.body.kind.rawValue,
                                       data: (try? event.body.jsonData()) ?? Data())
            eventHashes[eventCount] = hash
            heads[event.scenarioID] = hash
            if let text = SearchText.of(event.body) { searchText[event.scenarioID, default: []].append(text) }
            return eventCount
        }

        mutating func insertOutbox(_ draft: OutboxDraft, createdAt: Date) -> Int64 {
            lastOutboxID += 1
            outbox.append(OutboxRow(id: lastOutboxID, draft: draft, createdAt: createdAt))
            return lastOutboxID
        }

        /// Where the row `id` is (rows are in id order).
        private func outboxIndex(_ id: Int64) -> Int? {
            var low = 0
            var high = outbox.count
            while low < high {
                let middle = (low + high) / 2
                if outbox[middle].id < id { low = middle + 1 } else { high = middle }
            }
            return low < outbox.count && outbox[low].id == id ? low : nil
        }

        func outboxRow(id: Int64) -> OutboxRowState? {
            guard let index = outboxIndex(id) else { return nil }
            return OutboxRowState(draft: outbox[index].draft, sentAt: outbox[index].sentAt)
        }

        mutating func setOutboxSent(id: Int64, at: Date) {
            guard let index = outboxIndex(id) else { return }
            outbox[index].sentAt = at
        }

        mutating func recordOutboxFailure(id: Int64, reason: String, giveUpAt: Date?) {
            guard let index = outboxIndex(id) else { return }
            outbox[index].attempts += 1
            outbox[index].lastError = reason
            if let giveUpAt { outbox[index].gaveUpAt = giveUpAt }
        }

        mutating func mapMessage(_ ref: MessageRef, to scenarioID: Int64, announcement: Bool, key: String?) {
            messages[ref] = scenarioID
            if let key, !(keyed[key] ?? []).contains(ref) { keyed[key, default: []].append(ref) }
            if announcement, !(announcements[scenarioID] ?? []).contains(ref) {
                announcements[scenarioID, default: []].append(ref)
            }
        }

        mutating func insertInbox(_ message: IncomingMessage, receivedAt: Date) -> Int64? {
            if let delivery = message.deliveryID {
                guard deliveries.insert(message.ref.transport + "\u{1F}" + delivery).inserted else { return nil }
            }
            var stored = message
            stored.inboxID = Int64(inbox.count + 1)
            inbox.append(InboxRow(message: stored, receivedAt: receivedAt))
            return stored.inboxID
        }

        mutating func settleInbox(id: Int64, at: Date) -> Bool {
            guard inbox.indices.contains(Int(id) - 1) else { return false }
            if inbox[Int(id) - 1].settledAt == nil { inbox[Int(id) - 1].settledAt = at }
            return true
        }

        mutating func setCursor(_ cursor: ChatCursor) {
            cursors[cursor.name] = cursor.value
        }
    }
}
