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
                sql: "SELECT \(SQLiteRows.scenarioColumns) FROM scenarios WHERE status != 'resolved' ORDER BY id DESC LIMIT 1"
            ).map(SQLiteRows.scenario)
        }
    }

    /// Newest (highest id) first; a `limit` of 0 or less gives none. With search text, the
    /// full-text index is walked newest scenario first (see `SQLiteHistory.SearchRow`) and each
    /// scenario it names is checked against the other filters, until the page is full.
    public func scenarios(_ query: ScenarioQuery) async throws -> [Scenario] {
        let limit = max(0, query.limit)
        guard limit > 0 else { return [] }
        let terms = query.text.map(SearchTerms.init) ?? SearchTerms("")
        var filter = Self.filter(query)
        guard !terms.isEmpty else {
            if let beforeID = query.beforeID {
                filter.conditions.append("id < ?")
                filter.arguments += [beforeID]
            }
            filter.arguments += [limit]
            let sql = "SELECT \(SQLiteRows.scenarioColumns) FROM scenarios \(filter.whereClause) ORDER BY id DESC LIMIT ?"
            return try await pool.read { [filter] db in
                try Row.fetchAll(db, sql: sql, arguments: filter.arguments).map(SQLiteRows.scenario)
            }
        }
        filter.conditions.insert("id = ?", at: 0)
        let check = "SELECT \(SQLiteRows.scenarioColumns) FROM scenarios \(filter.whereClause)"
        let upper = query.beforeID.map(SQLiteHistory.SearchRow.first(of:)) ?? Int64.max
        return try await pool.read { [filter] db in
            let matches = try Int64.fetchCursor(
                db, sql: "SELECT rowid FROM search WHERE search MATCH ? AND rowid < ? ORDER BY rowid DESC",
                arguments: [terms.fts5, upper])
            let statement = try db.cachedStatement(sql: check)
            var found: [Scenario] = []
            var last: Int64?
            while found.count < limit, let rowID = try matches.next() {
                let scenarioID = SQLiteHistory.SearchRow.scenarioID(of: rowID)
                guard scenarioID != last else { continue }
                last = scenarioID
                if let row = try Row.fetchOne(statement, arguments: [scenarioID] + filter.arguments) {
                    found.append(try SQLiteRows.scenario(row))
                }
            }
            return found
        }
    }

    public func count(_ query: ScenarioQuery) async throws -> Int {
        let filter = Self.filter(query)
        return try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM scenarios \(filter.whereClause)", arguments: filter.arguments) ?? 0
        }
    }

    public func verifyChain() async throws -> ChainReport {
        try await pool.read { db in try SQLiteHistory.verify(db) }
    }

    /// SQL conditions for every filter of `query` but `text`, `beforeID` and `limit`.
    struct Filter: Sendable {
        var conditions: [String] = []
        var arguments: StatementArguments = []

        var whereClause: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }

        mutating func add(_ condition: String, _ value: (any DatabaseValueConvertible & Sendable)?) {
            guard let value else { return }
            conditions.append(condition)
            arguments += [value]
        }
    }

    static func filter(_ query: ScenarioQuery) -> Filter {
        var filter = Filter()
        filter.add("status = ?", query.status?.rawValue)
        filter.add("host = ?", query.host)
        filter.add("check_name = ?", query.check)
        filter.add("source = ?", query.source)
        filter.add("severity = ?", query.severity?.rawValue)
        filter.add("fingerprint = ?", query.fingerprint)
        filter.add("opened_at >= ?", query.openedSince?.millisecondsSince1970)
        filter.add("opened_at < ?", query.openedBefore?.millisecondsSince1970)
        if let engineer = query.engineer {
            filter.conditions.append(
                "(acknowledged_by = ? OR EXISTS (SELECT 1 FROM events WHERE events.actor = ? AND events.scenario_id = scenarios.id))")
            filter.arguments += [engineer, engineer]
        }
        return filter
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
