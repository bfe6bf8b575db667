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

    /// Newest (highest id) first; a `limit` of 0 or less gives none.
    public func scenarios(_ query: ScenarioQuery) async throws -> [Scenario] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let status = query.status {
            conditions.append("status = ?")
            arguments += [status.rawValue]
        }
        if let host = query.host {
            conditions.append("host = ?")
            arguments += [host]
        }
        if let beforeID = query.beforeID {
            conditions.append("id < ?")
            arguments += [beforeID]
        }
        arguments += [max(0, query.limit)]
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT \(SQLiteRows.scenarioColumns) FROM scenarios \(filter) ORDER BY id DESC LIMIT ?"
        return try await pool.read { [arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(SQLiteRows.scenario)
        }
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
