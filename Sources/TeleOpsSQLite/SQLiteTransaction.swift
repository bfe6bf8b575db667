import Foundation
import GRDB
import TeleOpsCore

/// The row-level primitives of `ScenarioStoreTransaction` as SQL on one GRDB connection,
/// used only inside a write transaction (`pool.write`). The semantics live in Core.
///
/// Lookups by fingerprint and by check name `INDEXED BY` their index: without planner
/// statistics SQLite may pick `scenarios_status` for `status = 'resolved' ORDER BY id DESC`
/// and walk every resolved scenario for a fingerprint never seen, which at a million
/// scenarios turns one alert's intake into seconds.
struct SQLiteTransaction: ScenarioStoreTransaction {
    let db: Database
    /// The outbox messages this transaction queued, for `OutboxFeed` once it commits.
    private(set) var queuedOutbox: [OutboxMessage] = []
    /// The head hash of each scenario this transaction inserted or appended to (nil: no event
    /// yet), so that the next event on it does not read it back.
    private var heads: [Int64: String?] = [:]

    init(db: Database) {
        self.db = db
    }

    func scenario(id: Int64) throws -> Scenario? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(SQLiteRows.scenarioColumns) FROM scenarios WHERE id = ?"), arguments: [id])
            .map(SQLiteRows.scenario)
    }

    /// The fingerprint's newest scenario, unless it is resolved: a scenario opens only when
    /// none is active, and status never moves back from resolved (schema v6).
    func activeScenario(fingerprint: String) throws -> Scenario? {
        try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT \(SQLiteRows.scenarioColumns) FROM scenarios INDEXED BY scenarios_fingerprint
                WHERE fingerprint = ? ORDER BY id DESC LIMIT 1
                """),
            arguments: [fingerprint]
        ).map(SQLiteRows.scenario).flatMap { $0.status.isActive ? $0 : nil }
    }

    func newestResolvedScenarioID(fingerprint: String) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM scenarios INDEXED BY scenarios_fingerprint WHERE fingerprint = ? AND status = 'resolved' ORDER BY id DESC LIMIT 1"),
            arguments: [fingerprint])
    }

    func scenarioCount(fingerprint: String, below: Int64, cap: Int) throws -> Int {
        try Int.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) FROM (SELECT 1 FROM scenarios INDEXED BY scenarios_fingerprint WHERE fingerprint = ? AND id < ? LIMIT ?)"),
            arguments: [fingerprint, below, cap]) ?? 0
    }

    func scenarioCount(check: String, otherThanHost: String, below: Int64, cap: Int) throws -> Int {
        // The outer LIMIT stops the walk of the window as soon as `cap` are found.
        try Int.fetchOne(
            db.cachedStatement(sql: """
                SELECT count(*) FROM (
                    SELECT 1 FROM (SELECT host FROM scenarios INDEXED BY scenarios_check_resolved
                        WHERE check_name = ? AND status = 'resolved' AND id < ? ORDER BY id DESC LIMIT ?)
                    WHERE host != ? LIMIT ?)
                """),
            arguments: [check, below, SeenBefore.checkWindow, otherThanHost, cap]) ?? 0
    }

    func newestScenario(fingerprint: String, below: Int64) throws -> Scenario? {
        try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT \(SQLiteRows.scenarioColumns) FROM scenarios INDEXED BY scenarios_fingerprint WHERE fingerprint = ? AND id < ? ORDER BY id DESC LIMIT 1
                """),
            arguments: [fingerprint, below]
        ).map(SQLiteRows.scenario)
    }

    func newestScenario(check: String, otherThanHost: String, below: Int64) throws -> Scenario? {
        try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT \(SQLiteRows.scenarioColumns) FROM scenarios INDEXED BY scenarios_check_resolved
                WHERE check_name = ? AND status = 'resolved' AND host != ? AND id < ? ORDER BY id DESC LIMIT 1
                """),
            arguments: [check, otherThanHost, below]
        ).map(SQLiteRows.scenario)
    }

    func events(of scenarioID: Int64, kinds: [EventKind]) throws -> [ScenarioEvent] {
        let placeholders = Array(repeating: "?", count: kinds.count).joined(separator: ", ")
        return try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT \(SQLiteRows.eventColumns) FROM events WHERE scenario_id = ? AND kind IN (\(placeholders)) ORDER BY id
                """),
            arguments: StatementArguments([scenarioID] + kinds.map(\.rawValue))
        ).map(SQLiteRows.event)
    }

    /// The fields "seen before" needs, read in SQL from each event's JSON, without decoding the
    /// events (a finished command's output in particular).
    func occurrenceFacts(of scenarioID: Int64) throws -> [OccurrenceFact] {
        let kinds = SeenBefore.Occurrence.kinds
        let placeholders = Array(repeating: "?", count: kinds.count).joined(separator: ", ")
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT kind, actor, json_extract(data, '$.action') AS action,
                    json_extract(data, '$.exit_code') IS 0 AND NOT coalesce(json_extract(data, '$.timed_out'), 0)
                        AND NOT coalesce(json_extract(data, '$.cancelled'), 0) AS succeeded
                FROM events WHERE scenario_id = ? AND kind IN (\(placeholders)) ORDER BY id
                """),
            arguments: StatementArguments([scenarioID] + kinds.map(\.rawValue)))
        return rows.compactMap { row -> OccurrenceFact? in
            let action: String = row["action"] ?? ""
            switch EventKind(rawValue: row["kind"]) {
            case .replyReceived: return .replied(by: row["actor"])
            case .commandDispatched: return .dispatched(action: action)
            case .commandFinished: return .finished(action: action, succeeded: row["succeeded"])
            case .resolved, .alertResolved: return .resolved
            default: return nil
            }
        }
    }

    func journaledAlertID(idempotencyKey: String, scenarioID: Int64?) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(sql: """
                SELECT id FROM alerts INDEXED BY alerts_scenario_key
                WHERE scenario_id IS ? AND idempotency_key = ? ORDER BY id DESC LIMIT 1
                """),
            arguments: [scenarioID, idempotencyKey])
    }

    mutating func insertScenario(_ scenario: Scenario) throws -> Int64 {
        try db.cachedStatement(sql: """
                INSERT INTO scenarios (fingerprint, source, host, check_name, severity, summary, status, occurrences,
                    opened_at, updated_at, resolved_at, acknowledged_by, previous_id, silenced_until)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(
            arguments: [
                scenario.fingerprint, scenario.source, scenario.host, scenario.check, scenario.severity.rawValue,
                scenario.summary, scenario.status.rawValue, scenario.occurrences,
                scenario.openedAt.millisecondsSince1970, scenario.updatedAt.millisecondsSince1970,
                scenario.resolvedAt?.millisecondsSince1970, scenario.acknowledgedBy, scenario.previousID,
                scenario.silencedUntil?.millisecondsSince1970,
            ])
        let id = db.lastInsertedRowID
        heads[id] = .some(nil)
        return id
    }

    /// Writes the columns events change. SQLite rewrites the entry of every index whose column
    /// an UPDATE names, even to the same value (a page each, a random one in a large store):
    /// so the status is named only when it changed, and the columns no event changes
    /// (fingerprint, source, host, check, opening time, previous scenario) only if they did.
    mutating func updateScenario(_ scenario: Scenario, from previous: Scenario) throws {
        let fixed = scenario.fingerprint == previous.fingerprint && scenario.source == previous.source
            && scenario.host == previous.host && scenario.check == previous.check
            && scenario.openedAt == previous.openedAt && scenario.previousID == previous.previousID
        let changing: StatementArguments = [
            scenario.severity.rawValue, scenario.summary, scenario.occurrences, scenario.updatedAt.millisecondsSince1970,
            scenario.resolvedAt?.millisecondsSince1970, scenario.acknowledgedBy, scenario.silencedUntil?.millisecondsSince1970,
        ]
        let changingColumns = """
            severity = ?, summary = ?, occurrences = ?, updated_at = ?, resolved_at = ?, acknowledged_by = ?,
            silenced_until = ?
            """
        if fixed, scenario.status == previous.status {
            try db.cachedStatement(sql: "UPDATE scenarios SET \(changingColumns) WHERE id = ?")
                .execute(arguments: changing + [scenario.id])
        } else if fixed {
            try db.cachedStatement(sql: "UPDATE scenarios SET status = ?, \(changingColumns) WHERE id = ?")
                .execute(arguments: [scenario.status.rawValue] + changing + [scenario.id])
        } else {
            try db.cachedStatement(sql: """
                    UPDATE scenarios SET fingerprint = ?, source = ?, host = ?, check_name = ?, status = ?, opened_at = ?,
                        previous_id = ?, \(changingColumns)
                    WHERE id = ?
                    """).execute(
                arguments: [
                    scenario.fingerprint, scenario.source, scenario.host, scenario.check, scenario.status.rawValue,
                    scenario.openedAt.millisecondsSince1970, scenario.previousID,
                ] + changing + [scenario.id])
        }
        if db.changesCount == 0 { throw ScenarioStoreError.scenarioNotFound(scenario.id) }
    }

    /// Writes `row`, the text its event's digest covers (`AlertDigest`), as it is.
    mutating func insertAlert(_ alert: Alert, row: AlertRow, scenarioID: Int64?, searchable: Bool) throws -> Int64 {
        try db.cachedStatement(sql: """
                INSERT INTO alerts (scenario_id, source, fingerprint, host, check_name, severity, status, summary,
                    labels, details, idempotency_key, received_at, searchable)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(
            arguments: [
                scenarioID, row.source, row.fingerprint, row.host, row.check, row.severity, row.status, row.summary,
                row.labels, row.details, row.idempotencyKey, row.receivedAtMilliseconds, scenarioID != nil && searchable,
            ])
        // Indexed for search after the commit, by `SQLiteSearchIndex`, from the stored row.
        return db.lastInsertedRowID
    }

    /// Chains the event to its scenario's head (`EventChain`) and moves the head. Its
    /// `SearchText` is indexed after the commit, by `SQLiteSearchIndex`.
    mutating func insertEvent(_ event: NewEvent) throws -> Int64 {
        let data = try event.body.jsonData()
        let previous = try heads[event.scenarioID] ?? String.fetchOne(
            db.cachedStatement(sql: "SELECT head_hash FROM scenarios WHERE id = ?"), arguments: [event.scenarioID])
        let hash = EventChain.hash(previous: previous, scenarioID: event.scenarioID, at: event.at, actor: event.actor,
                                   kind: event.body.kind.rawValue, data: data)
        try db.cachedStatement(sql: "INSERT INTO events (scenario_id, at, actor, kind, data, hash) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: [
                event.scenarioID, event.at.millisecondsSince1970, event.actor, event.body.kind.rawValue,
                String(decoding: data, as: UTF8.self), hash,
            ])
        let id = db.lastInsertedRowID
        try db.cachedStatement(sql: "UPDATE scenarios SET head_hash = ? WHERE id = ?").execute(arguments: [hash, event.scenarioID])
        heads[event.scenarioID] = .some(hash)
        return id
    }

    mutating func insertOutbox(_ draft: OutboxDraft, createdAt: Date) throws -> Int64 {
        try db.cachedStatement(sql: """
                INSERT INTO outbox (scenario_id, purpose, text, buttons, transport, reply_transport, reply_chat,
                    reply_message_id, chat, created_at, key, route)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(
            arguments: [
                draft.scenarioID, draft.purpose.rawValue, draft.text,
                draft.buttons.isEmpty ? nil : SQLiteRows.json(draft.buttons), draft.transport,
                draft.replyTo?.transport, draft.replyTo?.chat, draft.replyTo?.messageID, draft.chat,
                createdAt.millisecondsSince1970, draft.key, draft.route,
            ])
        let id = db.lastInsertedRowID
        queuedOutbox.append(OutboxMessage(id: id, draft: draft, createdAt: createdAt, attempts: 0))
        return id
    }

    func outboxRow(id: Int64) throws -> OutboxRowState? {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(SQLiteRows.outboxColumns) FROM outbox WHERE id = ?"), arguments: [id])
        else { return nil }
        return OutboxRowState(
            draft: try SQLiteRows.outboxDraft(row), sentAt: (row["sent_at"] as Int64?).map(Date.init(millisecondsSince1970:)))
    }

    mutating func setOutboxSent(id: Int64, at: Date) throws {
        try db.cachedStatement(sql: "UPDATE outbox SET sent_at = ? WHERE id = ?").execute(
            arguments: [at.millisecondsSince1970, id])
    }

    mutating func recordOutboxFailure(id: Int64, reason: String, giveUpAt: Date?) throws {
        try db.cachedStatement(sql: """
                UPDATE outbox SET attempts = attempts + 1, last_error = ?, gave_up_at = coalesce(?, gave_up_at)
                WHERE id = ?
                """).execute(
            arguments: [reason, giveUpAt?.millisecondsSince1970, id])
    }

    mutating func mapMessage(_ ref: MessageRef, to scenarioID: Int64, announcement: Bool, key: String?) throws {
        try db.cachedStatement(sql: """
                INSERT INTO messages (transport, chat, message_id, scenario_id, announcement, key) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (transport, chat, message_id) DO UPDATE SET scenario_id = excluded.scenario_id,
                    announcement = max(announcement, excluded.announcement), key = coalesce(excluded.key, key)
                """).execute(
            arguments: [ref.transport, ref.chat, ref.messageID, scenarioID, announcement, key])
    }

    mutating func insertInbox(_ message: IncomingMessage, receivedAt: Date) throws -> Int64? {
        try db.cachedStatement(sql: """
                INSERT INTO inbox (transport, delivery_id, kind, chat, message_id, user_id, display_name, text,
                    reply_transport, reply_chat, reply_message_id, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (transport, delivery_id) WHERE delivery_id IS NOT NULL DO NOTHING
                """).execute(
            arguments: [
                message.ref.transport, message.deliveryID, message.kind.rawValue, message.ref.chat,
                message.ref.messageID, message.userID, message.displayName, message.text, message.replyTo?.transport,
                message.replyTo?.chat, message.replyTo?.messageID, receivedAt.millisecondsSince1970,
            ])
        return db.changesCount == 0 ? nil : db.lastInsertedRowID
    }

    mutating func settleInbox(id: Int64, at: Date) throws -> Bool {
        try db.cachedStatement(sql: "UPDATE inbox SET settled_at = coalesce(settled_at, ?) WHERE id = ?").execute(
            arguments: [at.millisecondsSince1970, id])
        return db.changesCount > 0
    }

    mutating func setCursor(_ cursor: ChatCursor) throws {
        try db.cachedStatement(sql: """
                INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value
                """).execute(arguments: [cursor.name, cursor.value])
    }
}
