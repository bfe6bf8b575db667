import Foundation
import GRDB
import TeleOpsCore

/// Reads: each runs on one of the pool's reader connections, on a snapshot of the last commit.
extension SQLiteScenarioStore {
    public func scenario(id: Int64) async throws -> Scenario? {
        try await pool.read { db in try SQLiteTransaction(db: db).scenario(id: id) }
    }

    /// The active (open or acknowledged) scenario with the highest id.
    public func newestActiveScenario() async throws -> Scenario? {
        try await pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT \(SQLiteRows.scenarioColumns) FROM scenarios WHERE id = (
                        SELECT max(id) FROM (
                            SELECT max(id) AS id FROM scenarios WHERE status = 'open'
                            UNION ALL SELECT max(id) FROM scenarios WHERE status = 'acknowledged'))
                    """
            ).map(SQLiteRows.scenario)
        }
    }

    /// Newest (highest id) first; a `limit` of 0 or less gives none. See `SQLiteQueryPlan`
    /// for how each filter and the search words are read.
    public func scenarios(_ query: ScenarioQuery) async throws -> [Scenario] {
        let limit = max(0, query.limit)
        guard limit > 0 else { return [] }
        let terms = query.text.map(SearchTerms.init) ?? SearchTerms("")
        if !terms.isEmpty { try await catchUpSearch() }
        return try await pool.read { db in
            let plan = try SQLiteQueryPlan(query, db)
            guard !terms.isEmpty else { return try plan.page(db, limit: limit) }
            var found: [Scenario] = []
            try plan.search(db, terms: terms) { row in
                found.append(try SQLiteRows.scenario(row))
                return found.count < limit
            }
            return found
        }
    }

    /// Without search words, exact up to `cap`. With them, the walk of `SQLiteQueryPlan.search`
    /// stops at `cap` matches or after `SQLiteQueryPlan.countBudget` units of work, whichever
    /// comes first (a partial count either way).
    public func count(_ query: ScenarioQuery, upTo cap: Int) async throws -> ScenarioCount {
        let terms = query.text.map(SearchTerms.init) ?? SearchTerms("")
        var query = query
        query.beforeID = nil
        if !terms.isEmpty { try await catchUpSearch() }
        return try await pool.read { [query] db in
            let plan = try SQLiteQueryPlan(query, db)
            guard !terms.isEmpty else {
                let count = try plan.count(db, cap: cap)
                return ScenarioCount(count, isPartial: count >= cap)
            }
            guard cap > 0 else { return ScenarioCount(0, isPartial: true) }
            var count = 0
            let finished = try plan.search(db, terms: terms, budget: SQLiteQueryPlan.countBudget) { _ in
                count += 1
                return count < cap
            }
            return ScenarioCount(count, isPartial: !finished || count >= cap)
        }
    }

    /// A search first indexes what the index has not read yet (normally nothing, or the last
    /// few milliseconds of commits), so it finds what was just written.
    private func catchUpSearch() async throws {
        try await searchIndex.catchUp(from: pool, limit: Self.searchCatchUpLimit)
    }

    public func verifyChain(against checkpoint: ChainCheckpoint?) async throws -> ChainReport {
        try await pool.read { db in try SQLiteHistory.verify(db, against: checkpoint) }
    }

    /// Oldest (lowest id) first; none for an unknown scenario.
    public func events(of scenarioID: Int64) async throws -> [ScenarioEvent] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(SQLiteRows.eventColumns) FROM events WHERE scenario_id = ? ORDER BY id",
                arguments: [scenarioID]
            ).map(SQLiteRows.event)
        }
    }

    /// A range of the newest rowids, then the kind: no index needed.
    public func commandEvents(amongNewest count: Int) async throws -> [ScenarioEvent] {
        let kinds = CommandLedger.kinds.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try await pool.read { db in
            try Row.fetchAll(
                db, sql: """
                    SELECT \(SQLiteRows.eventColumns) FROM events
                    WHERE id > (SELECT coalesce(max(id), 0) FROM events) - ? AND kind IN (\(kinds)) ORDER BY id
                    """,
                arguments: [max(0, count)]
            ).map(SQLiteRows.event)
        }
    }

    public func alerts(ids: [Int64]) async throws -> [Int64: Alert] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.read { db in
            var alerts: [Int64: Alert] = [:]
            // In slices: SQLite caps the variables of one statement.
            for start in stride(from: 0, to: ids.count, by: 500) {
                let slice = Array(ids[start..<min(ids.count, start + 500)])
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ", ")
                for row in try Row.fetchAll(
                    db, sql: "SELECT \(SQLiteRows.alertColumns) FROM alerts WHERE id IN (\(marks))", arguments: StatementArguments(slice))
                {
                    let alert = try SQLiteRows.alert(row)
                    alerts[alert.id] = alert.alert
                }
            }
            return alerts
        }
    }

    /// The highest N among `transport`'s messages in the store whose ids are `prefix` then N:
    /// for a transport that numbers its messages itself (the console's `out-N`), so that a new
    /// run goes on from there instead of giving an old message's number to a new one. Reads
    /// only that transport's part of the messages index; synchronous, for start-up.
    public func highestMessageNumber(transport: String, prefix: String) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(
                db, sql: """
                    SELECT max(CAST(substr(message_id, ?) AS INTEGER)) FROM messages
                    WHERE transport = ? AND substr(message_id, 1, ?) = ?
                    """,
                arguments: [prefix.utf8.count + 1, transport, prefix.utf8.count, prefix]) ?? 0
        }
    }

    public func scenarioID(for message: MessageRef) async throws -> Int64? {
        try await pool.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT scenario_id FROM messages WHERE transport = ? AND chat = ? AND message_id = ?",
                arguments: [message.transport, message.chat, message.messageID])
        }
    }

    /// Ordered by transport, chat and message id.
    public func announcements(of scenarioID: Int64) async throws -> [MessageRef] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT transport, chat, message_id FROM messages WHERE scenario_id = ? AND announcement = 1
                    ORDER BY transport, chat, message_id
                    """,
                arguments: [scenarioID]
            ).map { MessageRef(transport: $0["transport"], chat: $0["chat"], messageID: $0["message_id"]) }
        }
    }

    public func messages(keyed key: String) async throws -> [MessageRef] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT transport, chat, message_id FROM messages WHERE key = ? ORDER BY transport, chat, message_id",
                arguments: [key]
            ).map { MessageRef(transport: $0["transport"], chat: $0["chat"], messageID: $0["message_id"]) }
        }
    }

    public func unsettledIncoming(limit: Int) async throws -> [IncomingMessage] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(SQLiteRows.inboxColumns) FROM inbox WHERE settled_at IS NULL ORDER BY id LIMIT ?",
                arguments: [max(0, limit)]
            ).map(SQLiteRows.incomingMessage)
        }
    }

    public func cursor(named name: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM cursors WHERE name = ?", arguments: [name])
        }
    }

    /// Unsent messages not given up, oldest (lowest id) first; a `limit` of 0 or less gives none.
    public func pendingOutbox(afterID: Int64?, limit: Int) async throws -> [OutboxMessage] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(SQLiteRows.outboxColumns) FROM outbox
                    WHERE sent_at IS NULL AND gave_up_at IS NULL AND id > ? ORDER BY id LIMIT ?
                    """,
                arguments: [afterID ?? 0, max(0, limit)]
            ).map(SQLiteRows.outboxMessage)
        }
    }
}
