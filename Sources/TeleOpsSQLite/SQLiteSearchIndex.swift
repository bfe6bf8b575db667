import Foundation
import GRDB
import Synchronization
import TeleOpsCore

/// The scenario log's full-text index, in a file of its own beside the store
/// (`teleops.sqlite` → `teleops.search.sqlite`), filled from the store's committed rows by a
/// writer of its own.
///
/// Indexing used to run inside each intake transaction: tokenizing the alert, and at the
/// commit a new index segment of some 15–30 pages, then merges of those segments. That was
/// about a quarter of the single writer's time, on the path of every 202. Here the store's
/// writer only inserts rows; a step (`indexPending`) reads the rows committed since the last
/// one (alert and event ids only grow, and a transaction's ids are visible only once it
/// commits, so "above the marks" is exactly "not read yet") and indexes their documents in one
/// transaction of this file, which also records the new marks. FTS5 merges its segments as it
/// goes (`automerge`), in those same transactions.
///
/// - **Lag:** the controller runs a step shortly after each commit (`SearchIndexer`), and a
///   search first catches up itself (`catchUp`), so a search finds what was just written.
/// - **Durability:** commits here do not wait for the disk (`synchronous = NORMAL`): the file
///   is derived from the store, and a power cut that loses its last steps loses their marks
///   with them, so the next step reads those rows again.
/// - **Identity:** the file records the store it was built from (`store_meta.store_id`). A
///   file of another store, or one that has read rows a store restored from an older copy has
///   not got, is emptied and rebuilt (`adopt`); so is a missing file. Deleting it is safe.
///   A rebuild reads the store's rows newest first (`ReadRange`), beside the new ones, so the
///   scenarios people are most likely to look for are searchable first.
/// - **Retention:** `remove` takes a scenario's documents out before the store deletes the
///   scenario, and records the scenario, so a retry after a crash between the two removes
///   nothing twice (a contentless index must be told each document's exact text once).
///
/// The store's reader connections attach this file as `search_index` (read-only).
final class SQLiteSearchIndex: Sendable {
    /// The schema name the store's reader connections attach the file under.
    static let schema = "search_index"
    /// Rows of each table (alerts, events) one step reads at most.
    static let step = 1000
    /// Page cache of the index's own connection, in KiB.
    static let cacheKiB = 8_192

    /// The ids of one table the index has read (indexed, or found to have no text): `floor`
    /// through `mark`. New rows come above the mark. An index rebuilt for a store that has rows
    /// starts with an empty range at the store's newest id and reads the rows below the floor
    /// downward too, newest first, so that the newest scenarios are searchable first.
    struct ReadRange: Equatable, Sendable {
        var floor: Int64 = 1
        var mark: Int64 = 0

        func contains(_ id: Int64) -> Bool { id >= floor && id <= mark }
        /// Whether rows below the floor are still to be read.
        var hasRowsBelow: Bool { floor > 1 }

        /// An empty range above the `newest` id handed out: everything up to it is to be read
        /// downward.
        static func above(_ newest: Int64) -> ReadRange { ReadRange(floor: newest + 1, mark: newest) }
    }

    /// What the index has read of the alerts and of the events.
    struct Marks: Equatable, Sendable {
        var alerts = ReadRange()
        var events = ReadRange()

        var hasRowsBelow: Bool { alerts.hasRowsBelow || events.hasRowsBelow }

        /// The further each end has reached, of `self` and `other` (both only move outward).
        func union(_ other: Marks) -> Marks {
            Marks(alerts: ReadRange(floor: min(alerts.floor, other.alerts.floor), mark: max(alerts.mark, other.alerts.mark)),
                  events: ReadRange(floor: min(events.floor, other.events.floor), mark: max(events.mark, other.events.mark)))
        }
    }

    let path: String
    private let queue: DatabaseQueue
    /// The marks as this process last saw them; the file's own are read again in each step.
    private let marks: Mutex<Marks>

    /// The index file of the store at `storePath`: its name without the extension, then
    /// `.search.sqlite`.
    static func path(forStore storePath: String) -> String {
        let url = URL(fileURLWithPath: storePath)
        let base = url.pathExtension.isEmpty ? url : url.deletingPathExtension()
        return base.path + ".search.sqlite"
    }

    /// Opens (creating it if needed) the index file at `path`.
    init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(SQLiteScenarioStore.busyTimeout)
        configuration.label = "TeleOpsSQLite.search"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Steps write new segments and merge old ones, reading each page once: a small
            // cache does (SQLite's default is 2 MiB).
            try db.execute(sql: "PRAGMA cache_size = -\(Self.cacheKiB)")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try Self.migrator.migrate(queue)
        marks = Mutex(try queue.read(Self.readMarks))
    }

    func close() throws { try queue.close() }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("search-v1") { db in
            try db.execute(sql: """
                -- No sizes (columnsize=0: nothing ranks by them); prefix indexes of 2 and 3 letters,
                -- as a search for "co*" merges the documents of every word it names otherwise.
                CREATE VIRTUAL TABLE search USING fts5(
                    body, content='', columnsize=0, prefix='2 3', tokenize='unicode61 remove_diacritics 2');
                -- store_id: the store this index was built from; alerts, events, alerts_floor,
                -- events_floor: the ids read (Marks).
                CREATE TABLE search_state (
                    name TEXT PRIMARY KEY,
                    value INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- Scenarios whose documents retention took out (see remove).
                CREATE TABLE removed_scenarios (id INTEGER PRIMARY KEY);
                """)
        }
        return migrator
    }

    private static func readMarks(_ db: Database) throws -> Marks {
        let values = try Dictionary(
            Row.fetchAll(db, sql: "SELECT name, value FROM search_state WHERE name != 'store_id'")
                .map { ($0["name"] as String, $0["value"] as Int64) },
            uniquingKeysWith: { first, _ in first })
        return Marks(alerts: ReadRange(floor: values["alerts_floor"] ?? 1, mark: values["alerts"] ?? 0),
                     events: ReadRange(floor: values["events_floor"] ?? 1, mark: values["events"] ?? 0))
    }

    private static func writeMarks(_ marks: Marks, _ db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO search_state (name, value) VALUES (?, ?)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value
            """)
        try statement.execute(arguments: ["alerts", marks.alerts.mark])
        try statement.execute(arguments: ["events", marks.events.mark])
        try statement.execute(arguments: ["alerts_floor", marks.alerts.floor])
        try statement.execute(arguments: ["events_floor", marks.events.floor])
    }

    /// Keeps the index if it was built from the store `store` (same `store_id`, and no mark
    /// above the ids the store has handed out); empties it otherwise, to be rebuilt by the
    /// next steps, newest rows first (`ReadRange.above`). Returns whether it was emptied.
    @discardableResult
    func adopt(_ store: DatabasePool) throws -> Bool {
        let (storeID, handedOut) = try store.writeWithoutTransaction { db in
            let storeID = try Int64.fetchOne(db, sql: "SELECT value FROM store_meta WHERE name = 'store_id'")
            let sequences = try Dictionary(
                Row.fetchAll(db, sql: "SELECT name, seq FROM sqlite_sequence WHERE name IN ('alerts', 'events')")
                    .map { ($0["name"] as String, $0["seq"] as Int64) },
                uniquingKeysWith: { first, _ in first })
            return (storeID, Marks(alerts: .above(sequences["alerts"] ?? 0), events: .above(sequences["events"] ?? 0)))
        }
        let emptied = try queue.writeWithoutTransaction { db -> Bool in
            var emptied = false
            try db.inTransaction(.immediate) {
                let owner = try Int64.fetchOne(db, sql: "SELECT value FROM search_state WHERE name = 'store_id'")
                let read = try Self.readMarks(db)
                guard owner != storeID || read.alerts.mark > handedOut.alerts.mark || read.events.mark > handedOut.events.mark
                else {
                    return .commit
                }
                try db.execute(sql: """
                    DELETE FROM search_state;
                    DELETE FROM removed_scenarios;
                    INSERT INTO search (search) VALUES ('delete-all');
                    """)
                if let storeID {
                    try db.execute(sql: "INSERT INTO search_state (name, value) VALUES ('store_id', ?)", arguments: [storeID])
                }
                try Self.writeMarks(handedOut, db)
                emptied = true
                return .commit
            }
            return emptied
        }
        let now = try queue.read(Self.readMarks)
        marks.withLock { $0 = now }
        return emptied
    }

    /// One step: reads up to `step` alerts and `step` events above the marks from `store` (a
    /// reader connection, on the last commit), and as many below the floors (newest first: an
    /// index being rebuilt), and indexes their documents in one transaction of this file.
    /// Returns how many rows it read: 0 when the index is up to date.
    ///
    /// Two steps at once (the indexer and a search catching up, or another process) read the
    /// same rows; the second to write finds the marks moved and indexes nothing.
    @discardableResult
    func indexPending(from store: DatabasePool, step: Int = SQLiteSearchIndex.step) async throws -> Int {
        let from = marks.withLock { $0 }
        let pending = try await store.read { db in
            var pending = try SQLiteHistory.pending(db, after: from, limit: step)
            if from.hasRowsBelow { try SQLiteHistory.pending(db, below: from, limit: step, into: &pending) }
            return pending
        }
        guard pending.through != from else { return 0 }
        let now = try await queue.writeWithoutTransaction { db -> Marks in
            var now = from
            try db.inTransaction(.immediate) {
                now = try Self.readMarks(db)
                guard now == from else { return .commit }
                let anyRemoved = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM removed_scenarios)") ?? false
                let removed = try db.cachedStatement(sql: "SELECT 1 FROM removed_scenarios WHERE id = ?")
                // In rowid order: FTS5 writes out what it holds in memory whenever a rowid is
                // lower than the one before, and the rows of a step are not (a repeat's alert is
                // newer than its scenario, events follow alerts, a rebuild reads downward).
                for document in pending.documents.sorted(by: { $0.row.rowID < $1.row.rowID }) {
                    // A scenario retention is deleting may still get an event (a note) on its way out.
                    if anyRemoved, try Bool.fetchOne(removed, arguments: [document.row.scenarioID]) == true { continue }
                    try SQLiteHistory.index(db, document.text, as: document.row)
                }
                try Self.writeMarks(pending.through, db)
                now = pending.through
                return .commit
            }
            return now
        }
        marks.withLock { $0 = $0.union(now) }
        return pending.rows
    }

    /// Steps until the index is up to date, when it is at most `limit` rows behind: what a
    /// search does first, so that it finds what was just committed (normally one step, or none).
    /// Further behind (an index being rebuilt), it steps not at all, and the search finds what is
    /// indexed so far rather than waiting for the rest. Returns whether the index is up to date.
    @discardableResult
    func catchUp(from store: DatabasePool, limit: Int) async throws -> Bool {
        let behind = try await backlogBound(in: store)
        guard behind > 0 else { return true }
        guard behind <= limit else { return false }
        var read = 0
        while read <= limit {
            let rows = try await indexPending(from: store)
            if rows == 0 { return true }
            read += rows
        }
        return false
    }

    /// At least the rows the index has not read: the ids handed out above the marks and below
    /// the floors (ids of rows rolled back or deleted since count too). Two lookups of a
    /// b-tree's last entry.
    func backlogBound(in store: DatabasePool) async throws -> Int64 {
        let from = marks.withLock { $0 }
        return try await store.read { db in
            let alerts = try Int64.fetchOne(db, sql: "SELECT max(id) FROM alerts") ?? 0
            let events = try Int64.fetchOne(db, sql: "SELECT max(id) FROM events") ?? 0
            return max(0, alerts - from.alerts.mark) + max(0, events - from.events.mark)
                + (from.alerts.floor - 1) + (from.events.floor - 1)
        }
    }

    /// Takes the documents of `scenarioIDs` out of the index, before retention deletes the
    /// scenarios from the store; returns how many it took out. The documents the index has not
    /// read stay unread (the scenario's rows are gone by the time a step reaches them, or the
    /// step skips them as removed). A scenario removed before is passed over.
    @discardableResult
    func remove(scenarios scenarioIDs: [Int64], from store: DatabasePool) async throws -> Int {
        guard !scenarioIDs.isEmpty else { return 0 }
        let documents = try await store.read { db in try SQLiteHistory.documents(db, ofScenarios: scenarioIDs) }
        return try await queue.writeWithoutTransaction { db -> Int in
            var count = 0
            try db.inTransaction(.immediate) {
                let read = try Self.readMarks(db)
                let removedBefore = try Set(Int64.fetchAll(
                    db, sql: "SELECT id FROM removed_scenarios WHERE id IN (\(databaseQuestionMarks(count: scenarioIDs.count)))",
                    arguments: StatementArguments(scenarioIDs)))
                // In rowid order, as in a step: a 'delete' goes through FTS5's pending terms too.
                for document in documents.sorted(by: { $0.row.rowID < $1.row.rowID })
                where !removedBefore.contains(document.row.scenarioID) && document.row.isRead(by: read) {
                    try SQLiteHistory.unindex(db, document.text, as: document.row)
                    count += 1
                }
                let record = try db.cachedStatement(sql: "INSERT OR IGNORE INTO removed_scenarios (id) VALUES (?)")
                for scenarioID in scenarioIDs { try record.execute(arguments: [scenarioID]) }
                return .commit
            }
            return count
        }
    }

    /// Rows the store holds that the index has not read, above the marks and below the floors
    /// (for figures and tests).
    func backlog(in store: DatabasePool) async throws -> Int {
        let from = marks.withLock { $0 }
        return try await store.read { db in
            try Int.fetchOne(
                db, sql: """
                    SELECT (SELECT count(*) FROM alerts WHERE id > ? OR id < ?)
                         + (SELECT count(*) FROM events WHERE id > ? OR id < ?)
                    """,
                arguments: [from.alerts.mark, from.alerts.floor, from.events.mark, from.events.floor]) ?? 0
        }
    }
}
