import Foundation

/// Where an outbox message stands, as `markSent` and `markFailed` need to know it.
public struct OutboxRowState: Sendable, Equatable {
    public var draft: OutboxDraft
    public var sentAt: Date?

    public init(draft: OutboxDraft, sentAt: Date?) {
        self.draft = draft
        self.sentAt = sentAt
    }
}

/// The row-level reads and writes a store offers inside one of its transactions.
///
/// The store semantics (`ingest`, `append`, `markSent`, `markFailed`) are written once,
/// in the extension below, on top of these primitives, so that every store (memory,
/// SQLite, PostgreSQL) opens, joins and resolves scenarios the same way. A store runs
/// them inside its own transaction (a lock, `BEGIN IMMEDIATE`, …) and commits only if
/// they return without throwing.
///
/// ```swift
/// try await pool.write { db in
///     var transaction = SQLiteTransaction(db: db)
///     return try transaction.ingest(alerts, compose: compose, now: Date())
/// }
/// ```
///
/// Primitives receive dates already truncated to the millisecond (see `Date.millisecondsSince1970`).
public protocol ScenarioStoreTransaction {
    func scenario(id: Int64) throws -> Scenario?
    /// The scenario with `fingerprint` whose status is not `.resolved`, if any (at most one exists).
    func activeScenario(fingerprint: String) throws -> Scenario?
    /// The id of the newest (highest id) resolved scenario with `fingerprint`.
    func newestResolvedScenarioID(fingerprint: String) throws -> Int64?
    /// How many scenarios with `fingerprint` have an id below `below`, counting up to `cap`.
    func scenarioCount(fingerprint: String, below: Int64, cap: Int) throws -> Int
    /// How many of the newest `SeenBefore.checkWindow` resolved scenarios of `check` with an
    /// id below `below` are on a host other than `otherThanHost` (at most `cap`). The window
    /// bounds the work whatever the history: a check resolved tens of thousands of times on
    /// this host alone, or firing on hundreds of hosts and never resolved, costs no more.
    func scenarioCount(check: String, otherThanHost: String, below: Int64, cap: Int) throws -> Int
    /// The scenario with `fingerprint` with the highest id below `below`.
    func newestScenario(fingerprint: String, below: Int64) throws -> Scenario?
    /// The resolved scenario of `check` on another host than `otherThanHost` with the highest id below `below`.
    func newestScenario(check: String, otherThanHost: String, below: Int64) throws -> Scenario?
    /// A scenario's events of `kinds`, oldest first.
    func events(of scenarioID: Int64, kinds: [EventKind]) throws -> [ScenarioEvent]
    /// What "seen before" reads of an earlier scenario, oldest first. The default decodes its
    /// events; a store can read just these fields (a command's output can be 64 KiB).
    func occurrenceFacts(of scenarioID: Int64) throws -> [OccurrenceFact]
    /// The id of the newest journaled alert with `idempotencyKey` attached to `scenarioID`
    /// (`nil`: to no scenario).
    func journaledAlertID(idempotencyKey: String, scenarioID: Int64?) throws -> Int64?
    /// Inserts `scenario`, ignoring its `id`, and returns the id the store gave it.
    mutating func insertScenario(_ scenario: Scenario) throws -> Int64
    /// Overwrites the stored scenario with the same `id`, which holds `previous`: a store may
    /// write only what differs (an index whose columns did not change is then not rewritten).
    mutating func updateScenario(_ scenario: Scenario, from previous: Scenario) throws
    /// Journals `alert` (attached to `scenarioID`, or to nothing) and returns its id. `row` is
    /// `AlertRow(alert)`, serialised once for its digest: a store writing text writes it as it
    /// is. With `searchable`, its `SearchText` joins the scenario's full-text index.
    mutating func insertAlert(_ alert: Alert, row: AlertRow, scenarioID: Int64?, searchable: Bool) throws -> Int64
    /// Stores `event` (its scenario exists) and returns its id.
    mutating func insertEvent(_ event: NewEvent) throws -> Int64
    /// Queues `draft` (its scenario, if any, exists) and returns its id.
    mutating func insertOutbox(_ draft: OutboxDraft, createdAt: Date) throws -> Int64
    func outboxRow(id: Int64) throws -> OutboxRowState?
    mutating func setOutboxSent(id: Int64, at: Date) throws
    /// Adds one to the attempts, keeps `reason` as the last error and, when `giveUpAt` is set, gives up.
    mutating func recordOutboxFailure(id: Int64, reason: String, giveUpAt: Date?) throws
    /// Maps a sent chat message to its scenario; a second mapping of the same message replaces
    /// the first. `announcement` marks it as the scenario's announcement on its transport.
    mutating func mapMessage(_ ref: MessageRef, to scenarioID: Int64, announcement: Bool, key: String?) throws
    /// Stores an incoming message unless one with the same transport and delivery id is
    /// stored; returns its new inbox id, or nil for a repeat delivery.
    mutating func insertInbox(_ message: IncomingMessage, receivedAt: Date) throws -> Int64?
    /// Marks an inbox message settled (if it is not already); false when there is no such message.
    mutating func settleInbox(id: Int64, at: Date) throws -> Bool
    mutating func setCursor(_ cursor: ChatCursor) throws
}

extension ScenarioStoreTransaction {
    /// `ScenarioStore.ingest`: for each alert in order, journal it and open, join, acknowledge
    /// or resolve the active scenario with its fingerprint, append the event (actor: the
    /// alert's source, time: its `receivedAt`), then queue what `compose` drafts for it.
    ///
    /// - firing, active scenario: `.alertRepeated`, disposition `.repeated`, or `.escalated`
    ///   when the alert is more severe than the scenario was.
    /// - firing, none: a new scenario (`previousID`: the newest resolved one with the
    ///   fingerprint), `.alertFired`, disposition `.opened`, with its `SeenBefore` history.
    /// - acknowledged, active scenario: `.acknowledged`, disposition `.acknowledged`.
    /// - resolved, active scenario: `.alertResolved`, disposition `.resolved`.
    /// - resolved or acknowledged, none: the alert is journaled with no scenario, disposition `.unmatched`.
    /// - a retry (`idempotencyKey` seen before, see `isRetry`): nothing is written, `compose`
    ///   is not called, disposition `.duplicate` with the earlier alert's ids.
    public mutating func ingest(_ alerts: [Alert], compose: IngestComposer, now: Date) throws -> [IngestOutcome] {
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(alerts.count)
        for original in alerts {
            var alert = original
            alert.receivedAt = alert.receivedAt.truncatedToMilliseconds
            let active = try activeScenario(fingerprint: alert.fingerprint)
            if let earlier = try retry(of: alert, active: active) {
                outcomes.append(IngestOutcome(alertID: earlier.alertID, scenarioID: earlier.scenarioID, disposition: .duplicate))
                continue
            }
            let (outcome, scenario) = try applyAlert(alert, active: active)
            for draft in compose(alert, outcome, scenario) {
                try queue(draft, now: now, existing: scenario?.id)
            }
            outcomes.append(outcome)
        }
        return outcomes
    }

    /// The earlier delivery `alert` repeats, if it is a retry: an alert with the same
    /// idempotency key was journaled against the state it would act on now. With an active
    /// scenario, that is an alert with the key in that scenario (after a resolve, the same
    /// firing payload opens a new scenario, as PagerDuty does with a trigger). A resolve or
    /// acknowledge with nothing active repeats one that closed the fingerprint's newest
    /// scenario or one that matched nothing.
    private func retry(of alert: Alert, active: Scenario?) throws -> (alertID: Int64, scenarioID: Int64?)? {
        guard let key = alert.idempotencyKey else { return nil }
        func journaled(in scenarioID: Int64?) throws -> (alertID: Int64, scenarioID: Int64?)? {
            try journaledAlertID(idempotencyKey: key, scenarioID: scenarioID).map { ($0, scenarioID) }
        }
        switch (alert.status, active) {
        case (_, let scenario?):
            return try journaled(in: scenario.id)
        case (.firing, nil):
            return nil
        case (.acknowledged, nil), (.resolved, nil):
            if let newest = try newestResolvedScenarioID(fingerprint: alert.fingerprint), let earlier = try journaled(in: newest) {
                return earlier
            }
            return try journaled(in: nil)
        }
    }

    /// Whether a later alert of `scenario` is worth indexing for search: a flapping alert
    /// repeats the same text thousands of times, and one copy finds the scenario. Its summary
    /// must differ from the scenario's (the newest alert's).
    private func says(_ alert: Alert, more scenario: Scenario) -> Bool {
        alert.summary != scenario.summary
    }

    private mutating func applyAlert(_ alert: Alert, active: Scenario?) throws -> (IngestOutcome, Scenario?) {
        // Serialised once: the row the store writes, and what the event's digest covers.
        let row = AlertRow(alert)
        /// The alert as its event records it, with the digest of its row: under the chain from then on.
        func facts(_ alertID: Int64) -> AlertFacts {
            AlertFacts(alertID: alertID, source: alert.source, severity: alert.severity, summary: alert.summary,
                       alertDigest: AlertDigest.hex(of: row))
        }
        func journal(scenarioID: Int64?, searchable: Bool) throws -> Int64 {
            try insertAlert(alert, row: row, scenarioID: scenarioID, searchable: searchable)
        }
        switch (alert.status, active) {
        case (.firing, let scenario?):
            let alertID = try journal(scenarioID: scenario.id, searchable: says(alert, more: scenario))
            let after = try record(.alertRepeated(facts(alertID)), actor: alert.source, at: alert.receivedAt, on: scenario).scenario
            let disposition: IngestOutcome.Disposition = alert.severity > scenario.severity ? .escalated : .repeated
            return (IngestOutcome(alertID: alertID, scenarioID: scenario.id, disposition: disposition), after)
        case (.firing, nil):
            let previousID = try newestResolvedScenarioID(fingerprint: alert.fingerprint)
            var opened = Scenario.opening(with: alert, id: 0, previousID: previousID)
            opened.id = try insertScenario(opened)
            let alertID = try journal(scenarioID: opened.id, searchable: true)
            _ = try insertEvent(
                NewEvent(scenarioID: opened.id, at: alert.receivedAt, actor: alert.source, body: .alertFired(facts(alertID))))
            var outcome = IngestOutcome(alertID: alertID, scenarioID: opened.id, disposition: .opened)
            outcome.seenBefore = try seenBefore(opened)
            return (outcome, opened)
        case (.acknowledged, let scenario?):
            let alertID = try journal(scenarioID: scenario.id, searchable: says(alert, more: scenario))
            let after = try record(.acknowledged, actor: alert.source, at: alert.receivedAt, on: scenario).scenario
            return (IngestOutcome(alertID: alertID, scenarioID: scenario.id, disposition: .acknowledged), after)
        case (.resolved, let scenario?):
            let alertID = try journal(scenarioID: scenario.id, searchable: says(alert, more: scenario))
            let after = try record(.alertResolved(facts(alertID)), actor: alert.source, at: alert.receivedAt, on: scenario).scenario
            return (IngestOutcome(alertID: alertID, scenarioID: scenario.id, disposition: .resolved), after)
        case (.resolved, nil), (.acknowledged, nil):
            let alertID = try journal(scenarioID: nil, searchable: false)
            return (IngestOutcome(alertID: alertID, scenarioID: nil, disposition: .unmatched), nil)
        }
    }

    /// `ScenarioStore.append`: stores each event (time truncated to the millisecond), applies it
    /// to its scenario with `Scenario.applying`, then queues `outbox`. Throws
    /// `ScenarioStoreError.scenarioNotFound` for an event or draft naming a missing scenario.
    public mutating func append(
        _ events: [NewEvent], outbox: [OutboxDraft], settling inboxID: Int64? = nil, now: Date
    ) throws -> [ScenarioEvent] {
        if let inboxID, try !settleInbox(id: inboxID, at: now.truncatedToMilliseconds) {
            throw ScenarioStoreError.inboxMessageNotFound(inboxID)
        }
        var stored: [ScenarioEvent] = []
        stored.reserveCapacity(events.count)
        for event in events {
            guard let scenario = try scenario(id: event.scenarioID) else {
                throw ScenarioStoreError.scenarioNotFound(event.scenarioID)
            }
            let at = event.at.truncatedToMilliseconds
            let id = try record(event.body, actor: event.actor, at: at, on: scenario).eventID
            stored.append(ScenarioEvent(id: id, scenarioID: scenario.id, at: at, actor: event.actor, body: event.body))
        }
        for draft in outbox {
            try queue(draft, now: now)
        }
        return stored
    }

    /// `ScenarioStore.markSent`: marks the message sent, maps each of `refs` to its scenario
    /// and, for an announcement, marks the first as the announcement and appends
    /// `.notified(first)` by `teleops`. Marking a sent message again does nothing.
    public mutating func markSent(outboxID: Int64, as refs: [MessageRef], now: Date) throws {
        guard let row = try outboxRow(id: outboxID) else { throw ScenarioStoreError.outboxMessageNotFound(outboxID) }
        guard row.sentAt == nil else { return }
        let now = now.truncatedToMilliseconds
        try setOutboxSent(id: outboxID, at: now)
        guard let scenarioID = row.draft.scenarioID else { return }
        let announces = row.draft.purpose == .announcement
        for (index, ref) in refs.enumerated() {
            try mapMessage(ref, to: scenarioID, announcement: announces && index == 0, key: row.draft.key)
        }
        if announces, let first = refs.first {
            guard let scenario = try scenario(id: scenarioID) else { throw ScenarioStoreError.scenarioNotFound(scenarioID) }
            try record(.notified(first), actor: "teleops", at: now, on: scenario)
        }
    }

    /// `ChatInbox.receive`: stores the messages not seen before and sets `cursor`.
    public mutating func receive(_ messages: [IncomingMessage], cursor: ChatCursor?, now: Date) throws -> [IncomingMessage] {
        var fresh: [IncomingMessage] = []
        let now = now.truncatedToMilliseconds
        for var message in messages {
            guard let id = try insertInbox(message, receivedAt: now) else { continue }
            message.inboxID = id
            fresh.append(message)
        }
        if let cursor { try setCursor(cursor) }
        return fresh
    }

    /// `ScenarioStore.markFailed`: one more attempt, `reason` kept; with `giveUp` the message
    /// leaves the pending queue.
    public mutating func markFailed(outboxID: Int64, reason: String, giveUp: Bool, now: Date) throws {
        guard try outboxRow(id: outboxID) != nil else { throw ScenarioStoreError.outboxMessageNotFound(outboxID) }
        try recordOutboxFailure(id: outboxID, reason: reason, giveUpAt: giveUp ? now.truncatedToMilliseconds : nil)
    }

    /// Queues `draft` after checking that its scenario exists (`existing` is one known to).
    private mutating func queue(_ draft: OutboxDraft, now: Date, existing: Int64? = nil) throws {
        if let scenarioID = draft.scenarioID, scenarioID != existing, try scenario(id: scenarioID) == nil {
            throw ScenarioStoreError.scenarioNotFound(scenarioID)
        }
        _ = try insertOutbox(draft, createdAt: now.truncatedToMilliseconds)
    }

    /// Applies `body` to `scenario` (`Scenario.applying`), stores the result and the event.
    @discardableResult
    private mutating func record(
        _ body: EventBody, actor: String, at: Date, on scenario: Scenario
    ) throws -> (scenario: Scenario, eventID: Int64) {
        let next = scenario.applying(body, actor: actor, at: at)
        try updateScenario(next, from: scenario)
        let eventID = try insertEvent(NewEvent(scenarioID: scenario.id, at: at, actor: actor, body: body))
        return (next, eventID)
    }
}
