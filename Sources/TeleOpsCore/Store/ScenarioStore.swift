import Foundation

/// What intake did with one alert.
public struct IngestOutcome: Sendable, Equatable, Codable {
    public enum Disposition: String, Sendable, Codable {
        /// A firing alert with a new fingerprint opened a scenario.
        case opened
        /// A firing alert joined the active scenario with its fingerprint.
        case repeated
        /// A firing alert joined the active scenario and raised its severity.
        case escalated
        /// The source acknowledged the active scenario with its fingerprint.
        case acknowledged
        /// A resolved alert closed the active scenario with its fingerprint.
        case resolved
        /// A resolve or acknowledge matched no active scenario; it is journaled and nothing else happens.
        case unmatched
        /// A retry of a delivery already taken (same idempotency key): nothing was written;
        /// the ids are those of the first delivery.
        case duplicate
    }

    public var alertID: Int64
    public var scenarioID: Int64?
    public var disposition: Disposition
    /// For `.opened`: what happened the earlier times this alert came up, if it did.
    public var seenBefore: SeenBefore?

    public init(alertID: Int64, scenarioID: Int64?, disposition: Disposition, seenBefore: SeenBefore? = nil) {
        self.alertID = alertID
        self.scenarioID = scenarioID
        self.disposition = disposition
        self.seenBefore = seenBefore
    }

    enum CodingKeys: String, CodingKey {
        case alertID = "alert_id", scenarioID = "scenario_id", disposition, seenBefore = "seen_before"
    }
}

/// A chat message to send, queued in the store's outbox in the same transaction as the
/// events that caused it, so a restart never loses it.
public struct OutboxDraft: Sendable, Equatable {
    public enum Purpose: String, Sendable, Codable {
        /// The first message about a scenario; sending it records a `notified` event.
        case announcement
        /// Anything else: command results, acknowledgements, refusals, help.
        case reply
        /// Not a new message: the scenario's announcements, wherever they were posted, are
        /// edited to `text` and `buttons` (state changes: acknowledged, silenced, resolved).
        case update
    }

    public var scenarioID: Int64?
    public var purpose: Purpose
    public var text: String
    /// Post in the thread of this message (the alert's announcement, or the engineer's reply).
    public var replyTo: MessageRef?
    /// The chat to post in; nil means the transport's default chat.
    public var chat: String?
    /// Buttons under the message (for an update: the announcement's new buttons).
    public var buttons: [ChatButton]
    /// The transport to post on; nil lets the outbox choose: the transport of `replyTo` or of
    /// the scenario's announcement, else the active one (the primary unless it failed over).
    public var transport: String?
    /// Drafts with the same key are one message that changes: the first one sent is posted,
    /// each later one edits it in place (a running command's progress). A later draft with the
    /// key waiting in the same lane makes an earlier one unnecessary.
    public var key: String?
    /// The `chat.routes` rule that took the alert (`AlertRouting`): where on each transport the
    /// scenario is announced, when `chat` is nil. Set on the drafts an opening alert makes.
    public var route: String?

    public init(
        scenarioID: Int64?, purpose: Purpose, text: String, replyTo: MessageRef? = nil, chat: String? = nil,
        buttons: [ChatButton] = [], transport: String? = nil, key: String? = nil, route: String? = nil
    ) {
        self.scenarioID = scenarioID
        self.purpose = purpose
        self.text = text
        self.replyTo = replyTo
        self.chat = chat
        self.buttons = buttons
        self.transport = transport
        self.key = key
        self.route = route
    }
}

/// A queued chat message with its place in the outbox.
public struct OutboxMessage: Sendable, Equatable {
    public var id: Int64
    public var draft: OutboxDraft
    public var createdAt: Date
    public var attempts: Int

    public init(id: Int64, draft: OutboxDraft, createdAt: Date, attempts: Int) {
        self.id = id
        self.draft = draft
        self.createdAt = createdAt
        self.attempts = attempts
    }
}

/// Which scenarios to list: every filter that is set must hold. Results are newest (highest
/// id) first; `beforeID` pages backwards and is stable while new scenarios arrive.
public struct ScenarioQuery: Sendable, Equatable {
    public var status: ScenarioStatus?
    public var host: String?
    public var check: String?
    public var source: String?
    public var severity: Severity?
    public var fingerprint: String?
    /// Scenarios this engineer acted on (any event with them as its actor), or acknowledged.
    public var engineer: String?
    /// Opened at or after this time.
    public var openedSince: Date?
    /// Opened before this time.
    public var openedBefore: Date?
    /// Full-text search over summaries, alert details and labels, replies, notes, commands and
    /// their output: words (all must appear, any order, case and accents ignored); a word
    /// ending in `*` matches as a prefix. See `SearchTerms`.
    public var text: String?
    /// At most this many.
    public var limit: Int
    /// Only scenarios with an id below this one (for paging backwards).
    public var beforeID: Int64?

    public init(status: ScenarioStatus? = nil, host: String? = nil, check: String? = nil, source: String? = nil,
                severity: Severity? = nil, fingerprint: String? = nil, engineer: String? = nil,
                openedSince: Date? = nil, openedBefore: Date? = nil, text: String? = nil, limit: Int = 50,
                beforeID: Int64? = nil) {
        self.status = status
        self.host = host
        self.check = check
        self.source = source
        self.severity = severity
        self.fingerprint = fingerprint
        self.engineer = engineer
        self.openedSince = openedSince
        self.openedBefore = openedBefore
        self.text = text
        self.limit = limit
        self.beforeID = beforeID
    }

    /// Whether `scenario` passes every filter but `engineer` and `text` (which need its events).
    public func matchesColumns(_ scenario: Scenario) -> Bool {
        if let status, scenario.status != status { return false }
        if let host, scenario.host != host { return false }
        if let check, scenario.check != check { return false }
        if let source, scenario.source != source { return false }
        if let severity, scenario.severity != severity { return false }
        if let fingerprint, scenario.fingerprint != fingerprint { return false }
        // Stores keep milliseconds: compare at that precision.
        if let openedSince, scenario.openedAt < openedSince.truncatedToMilliseconds { return false }
        if let openedBefore, scenario.openedAt >= openedBefore.truncatedToMilliseconds { return false }
        if let beforeID, scenario.id >= beforeID { return false }
        return true
    }
}

/// What retention keeps: resolved scenarios older than `maxAge` (by when they resolved) and
/// beyond the newest `maxCount` scenarios are removed with their events, alerts and messages.
/// Active scenarios are always kept. Nil keeps everything on that measure.
public struct RetentionPolicy: Sendable, Equatable {
    public var maxAge: Duration?
    public var maxCount: Int?

    public init(maxAge: Duration? = nil, maxCount: Int? = nil) {
        self.maxAge = maxAge
        self.maxCount = maxCount
    }

    public var keepsEverything: Bool { maxAge == nil && maxCount == nil }
}

extension ScenarioStore {
    public var outboxFeed: OutboxFeed? { nil }

    @discardableResult
    public func append(_ events: [NewEvent], outbox: [OutboxDraft]) async throws -> [ScenarioEvent] {
        try await append(events, outbox: outbox, settling: nil)
    }

    public func markSent(outboxID: Int64, as ref: MessageRef) async throws {
        try await markSent(outboxID: outboxID, as: [ref])
    }

    public func pendingOutbox(limit: Int) async throws -> [OutboxMessage] {
        try await pendingOutbox(afterID: nil, limit: limit)
    }

    /// One transaction per batch, for stores without a cheaper way.
    public func ingest(batches: [[Alert]], compose: @escaping IngestComposer) async throws -> [Result<[IngestOutcome], any Error>] {
        var results: [Result<[IngestOutcome], any Error>] = []
        for batch in batches {
            do {
                results.append(.success(try await ingest(batch, compose: compose)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}

/// Renders the chat messages that an intake result should produce, inside the store's transaction.
public typealias IngestComposer = @Sendable (_ alert: Alert, _ outcome: IngestOutcome, _ scenario: Scenario?) -> [OutboxDraft]

/// The single source of truth: alerts, scenarios, their events, chat message ids, and the outbox.
///
/// Every implementation passes `ScenarioStoreConformance` in TeleOpsTesting. Writes are
/// atomic: each call commits all of its rows or none, and returns only once they are durable.
///
/// ```swift
/// let outcomes = try await store.ingest([alert]) { alert, outcome, scenario in
///     outcome.disposition == .opened ? [OutboxDraft(scenarioID: outcome.scenarioID, purpose: .announcement, text: alert.summary)] : []
/// }
/// let events = try await store.events(of: outcomes[0].scenarioID!)
/// ```
public protocol ScenarioStore: ChatInbox {
    /// Journals `alerts` in order and applies each to scenarios: open, join (repeat) or resolve.
    /// `compose` is called once per alert, after it is applied; its drafts join the outbox in
    /// the same transaction. It is `@escaping` because a store may run its transaction on
    /// another executor (GRDB's writer queue, a database connection's event loop); it is
    /// called before `ingest` returns and never kept. It must not call the store.
    func ingest(_ alerts: [Alert], compose: @escaping IngestComposer) async throws -> [IngestOutcome]

    /// Group commit: ingests several independent batches (one per request) in one
    /// transaction, so that they share one sync to disk. Each batch is all-or-nothing on its
    /// own: a batch that throws leaves nothing behind and does not affect the others.
    /// Results are in the order of `batches`.
    func ingest(batches: [[Alert]], compose: @escaping IngestComposer) async throws -> [Result<[IngestOutcome], any Error>]

    /// Appends `events` (which may change their scenarios' state, see `Scenario.applying`)
    /// and queues `outbox` in one transaction. Returns the stored events.
    ///
    /// With `settling`, the inbox message with that id is marked handled in the same
    /// transaction (the responder's first write about a message settles it; settling twice
    /// does nothing). Throws `.inboxMessageNotFound` for an unknown id.
    @discardableResult
    func append(_ events: [NewEvent], outbox: [OutboxDraft], settling inboxID: Int64?) async throws -> [ScenarioEvent]

    func scenario(id: Int64) async throws -> Scenario?
    /// The most recently opened scenario that is not resolved.
    func newestActiveScenario() async throws -> Scenario?
    func scenarios(_ query: ScenarioQuery) async throws -> [Scenario]
    /// A scenario's events, oldest first.
    func events(of scenarioID: Int64) async throws -> [ScenarioEvent]
    /// The command events (`CommandLedger.kinds`) among the `count` newest events of the
    /// whole log, oldest first: what a controller starting up checks for dispatches its
    /// predecessor left without an end.
    func commandEvents(amongNewest count: Int) async throws -> [ScenarioEvent]
    /// The journaled alerts with these ids (`AlertFacts.alertID`), as they arrived: their
    /// labels and details are what a reader of the scenario wants beside its timeline. Ids the
    /// store does not hold (removed by retention) are left out.
    func alerts(ids: [Int64]) async throws -> [Int64: Alert]
    /// How many scenarios match `query`, search words included (its `limit` and `beforeID`
    /// are ignored), counting no further than `cap`. A count with search words walks the
    /// matches, so a page that shows counts caps them, and a store may also stop such a walk
    /// when going on would cost too much: the count then says it is partial.
    func count(_ query: ScenarioQuery, upTo cap: Int) async throws -> ScenarioCount
    /// Walks every scenario's hash chain (`EventChain`), and each alert an event recorded the
    /// digest of (`AlertDigest`), and reports the first break, the checkpoint of the log as it
    /// stands, and whether the log still holds `checkpoint`.
    func verifyChain(against checkpoint: ChainCheckpoint?) async throws -> ChainReport
    /// Removes what `policy` does not keep, at most `batch` scenarios per transaction so that
    /// intake is never held up for long; returns how many scenarios were removed.
    func prune(_ policy: RetentionPolicy, now: Date, batch: Int) async throws -> Int
    /// The scenario a chat message belongs to, when it is one TeleOps sent.
    func scenarioID(for message: MessageRef) async throws -> Int64?
    /// Where the scenario was announced (one ref per transport it was announced on),
    /// ordered by transport, chat and message id.
    func announcements(of scenarioID: Int64) async throws -> [MessageRef]
    /// Where the message of a keyed draft (`OutboxDraft.key`) was posted, ordered by transport,
    /// chat and message id; empty until its first draft is sent.
    func messages(keyed key: String) async throws -> [MessageRef]

    /// Inbox messages received but not settled, oldest first: what a restart must still handle.
    func unsettledIncoming(limit: Int) async throws -> [IncomingMessage]

    /// Unsent outbox messages with an id above `afterID` (all when nil), oldest first. Ids
    /// are given in commit order, so a reader that remembers the last id it saw misses none.
    func pendingOutbox(afterID: Int64?, limit: Int) async throws -> [OutboxMessage]
    /// Marks a message sent as `refs` (one per part, when the outbox split a long text; none
    /// for an update): maps each to the scenario and, for an announcement, records the first
    /// as the scenario's announcement on its transport and appends a `notified` event.
    func markSent(outboxID: Int64, as refs: [MessageRef]) async throws
    /// Records a failed attempt; with `giveUp` the message leaves the queue with `reason` kept.
    func markFailed(outboxID: Int64, reason: String, giveUp: Bool) async throws

    /// Where the store hands each commit's new outbox messages to the sender (`OutboxFeed`);
    /// nil when it does not, and the sender reads `pendingOutbox` after every doorbell.
    var outboxFeed: OutboxFeed? { get }
}

/// How many scenarios matched a query, and whether that is all of them.
public struct ScenarioCount: Sendable, Equatable, CustomStringConvertible {
    public var value: Int
    /// The count stopped (at its cap, or where the store judged going on too costly): there
    /// are `value` or more.
    public var isPartial: Bool

    public init(_ value: Int, isPartial: Bool = false) {
        self.value = value
        self.isPartial = isPartial
    }

    /// "12", or "1000+" for a partial count.
    public var description: String { isPartial ? "\(value)+" : String(value) }
}

extension ScenarioStore {
    /// Every chain, without an earlier checkpoint to compare with.
    public func verifyChain() async throws -> ChainReport {
        try await verifyChain(against: nil)
    }
}
