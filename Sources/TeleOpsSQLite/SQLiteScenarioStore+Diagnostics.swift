import GRDB
import TeleOpsCore

/// What the store's writer connection reports about itself: for `teleops config check`,
/// the health endpoint, and the tests that pin durability settings.
public struct SQLiteStoreDiagnostics: Sendable, Equatable {
    /// The SQLite library version, e.g. "3.40.1".
    public var sqliteVersion: String
    /// "wal" when the file is shared safely between the server and the CLI.
    public var journalMode: String
    /// `PRAGMA synchronous`: 2 (FULL) means every commit is on disk when the call returns.
    public var synchronous: Int
    public var foreignKeys: Bool
    /// Milliseconds a write waits for another connection's lock.
    public var busyTimeoutMilliseconds: Int
    /// Whether this SQLite build has FTS5 (full-text search of scenarios needs it).
    public var hasFTS5: Bool
    /// Schema migrations applied to the file, in order.
    public var migrations: [String]
}

extension SQLiteScenarioStore {
    /// Reads the settings of the writer connection (the one every write goes through).
    public func diagnostics() async throws -> SQLiteStoreDiagnostics {
        let migrator = SQLiteSchema.migrator
        return try await pool.writeWithoutTransaction { db in
            SQLiteStoreDiagnostics(
                sqliteVersion: try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "",
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1,
                foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false,
                busyTimeoutMilliseconds: try Int.fetchOne(db, sql: "PRAGMA busy_timeout") ?? 0,
                hasFTS5: try Bool.fetchOne(db, sql: "SELECT sqlite_compileoption_used('ENABLE_FTS5')") ?? false,
                migrations: try migrator.completedMigrations(db))
        }
    }
}
