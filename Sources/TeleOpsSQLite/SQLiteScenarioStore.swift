import Foundation
import GRDB
import TeleOpsCore

/// The embedded `ScenarioStore`: one SQLite file in WAL mode, through a GRDB `DatabasePool`,
/// and beside it the full-text index of its scenarios in a file of its own, derived from it
/// (`SQLiteSearchIndex`: `teleops.search.sqlite` next to `teleops.sqlite`).
///
/// - Durability: `PRAGMA synchronous = FULL` on the writer connection, so every call that
///   writes returns only after its transaction is on disk (power-loss safe); a 202 to a
///   monitoring system means the alert is journaled.
/// - Sharing: writes are `BEGIN IMMEDIATE` transactions with a busy timeout of
///   `busyTimeout`, so a second process (the CLI running `teleops scenarios list` while the
///   server runs) can open the same file normally and read and write safely.
/// - Semantics: those of `ScenarioStoreTransaction` in Core (shared with every store), run
///   inside one write transaction per call; a call that throws writes nothing.
/// - Time: INTEGER milliseconds since 1970 UTC; dates are truncated to the millisecond
///   on the way in, so what you read back compares equal.
///
/// ```swift
/// let store = try SQLiteScenarioStore(path: "/var/lib/teleops/teleops.sqlite")
/// let outcomes = try await store.ingest(alerts) { alert, outcome, scenario in [] }
/// ```
///
/// `compose` runs inside the write transaction: it must not call the store.
public final class SQLiteScenarioStore: ScenarioStore {
    /// How long a write waits for another connection's write lock before failing.
    public static let busyTimeout: TimeInterval = 5
    /// Page cache per connection, in KiB.
    static let cacheKiB = 32_768

    /// WAL pages past which the writer copies the WAL into the database file itself, inside a
    /// commit (SQLite's default is 1,000): a backstop, since `checkpointInBackground` normally
    /// keeps the WAL well below it.
    static let writerCheckpointPages = 10_000

    /// The database file.
    public let path: String
    let pool: DatabasePool
    /// A connection of its own for `checkpointInBackground`.
    private let checkpointer: DatabaseQueue
    /// Each commit's new outbox messages, in commit order (published on the writer queue,
    /// after the commit).
    public let outboxFeed: OutboxFeed? = OutboxFeed()
    /// The full-text index, filled after each commit (`indexSearch`).
    let searchIndex: SQLiteSearchIndex
    /// The full-text index's file: derived from the store, rebuilt when missing.
    public var searchIndexPath: String { searchIndex.path }
    /// Rung after each commit that may have added text to index; `SearchIndexer` waits on it.
    public let searchDoorbell = Doorbell()
    /// How far behind the full-text index may be for a search to index the rest itself
    /// first (`SQLiteSearchIndex.catchUp`: a few steps at most); further behind (an index
    /// being rebuilt), it searches what is indexed so far.
    public static let searchCatchUpLimit = 5_000

    /// Opens (creating it and its parent directories if needed) and migrates the store at `path`.
    ///
    /// Blocks while it opens and migrates: call it at start-up, not from a request handler.
    /// Throws `ScenarioStoreError` with code `.cannotOpen` (path and reason) or `.newerSchema`.
    public init(path: String) throws {
        self.path = path
        let searchPath = SQLiteSearchIndex.path(forStore: path)
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(Self.busyTimeout)
            configuration.foreignKeysEnabled = true
            configuration.label = "TeleOpsSQLite"
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // 32 MiB of page cache per connection (SQLite's default is 2 MiB): the upper
                // levels of the indexes an alert's intake touches stay in memory in a large log.
                try db.execute(sql: "PRAGMA cache_size = -\(Self.cacheKiB)")
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
                // Readers search the index file too; the writer never touches it.
                if db.configuration.readonly {
                    try db.execute(sql: "ATTACH DATABASE ? AS \(SQLiteSearchIndex.schema)", arguments: [searchPath])
                }
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            // DatabasePool sets `synchronous = NORMAL` on the writer after `prepareDatabase`
            // when it enables WAL; commits must reach the disk, so set FULL again.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.writerCheckpointPages)")
            }
            // On the writer: a reader would attach the index file, which is opened after the
            // store is known to be one this build can use.
            let migrator = SQLiteSchema.migrator
            let applied = try pool.writeWithoutTransaction { try migrator.appliedIdentifiers($0) }
            let unknown = applied.subtracting(migrator.migrations)
            guard unknown.isEmpty else { throw Self.newerSchema(path: path, unknown: unknown) }
            try Self.migrate(pool, with: migrator)
            searchIndex = try SQLiteSearchIndex(path: searchPath)
            try searchIndex.adopt(pool)
            var checkpointing = Configuration()
            checkpointing.busyMode = .timeout(Self.busyTimeout)
            checkpointing.label = "TeleOpsSQLite.checkpoint"
            checkpointer = try DatabaseQueue(path: path, configuration: checkpointing)
        } catch let error as ScenarioStoreError {
            throw error
        } catch {
            throw ScenarioStoreError(
                .cannotOpen,
                "cannot open the scenario store at \(path): \(error); check that the directory exists or can be "
                    + "created and is writable by this user and that the file is a TeleOps SQLite database, "
                    + "or point the store path in the configuration at another file")
        }
    }

    /// Runs the migrations this file has not had, with SQLite's `secure_delete` off meanwhile.
    /// Debian builds SQLite with it on: every page a statement frees is zeroed, through the WAL,
    /// and the statement's journal keeps its old content in memory (`temp_store = MEMORY`). The
    /// v7 migration drops the full-text index, whose text lives on in `alerts` and `events`:
    /// with it on, that took 48 s and 2.4 GB of memory at a million scenarios.
    private static func migrate(_ pool: DatabasePool, with migrator: DatabaseMigrator) throws {
        let secureDelete = try pool.writeWithoutTransaction { db in
            defer { try? db.execute(sql: "PRAGMA secure_delete = OFF") }
            return try Int.fetchOne(db, sql: "PRAGMA secure_delete") ?? 1
        }
        defer { try? pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA secure_delete = \(secureDelete)") } }
        try migrator.migrate(pool)
    }

    private static func newerSchema(path: String, unknown: Set<String>) -> ScenarioStoreError {
        ScenarioStoreError(
            .newerSchema,
            "the scenario store at \(path) was written by a newer TeleOps (schema migrations "
                + "\(unknown.sorted().joined(separator: ", ")) are unknown to this build); upgrade teleops on this "
                + "host, or point the store path at another file; the file was not changed")
    }

    // MARK: Writes (semantics: ScenarioStoreTransaction)

    public func ingest(_ alerts: [Alert], compose: @escaping IngestComposer) async throws -> [IngestOutcome] {
        try await write { try $0.ingest(alerts, compose: compose, now: $1) }
    }

    /// One write transaction for all `batches`, each inside its own savepoint: one fsync for
    /// every request waiting (group commit), and a batch that fails is rolled back alone.
    public func ingest(
        batches: [[Alert]], compose: @escaping IngestComposer
    ) async throws -> [Result<[IngestOutcome], any Error>] {
        try await pool.write { [outboxFeed, searchDoorbell] db in
            let now = Date()
            var results: [Result<[IngestOutcome], any Error>] = []
            results.reserveCapacity(batches.count)
            var queued: [OutboxMessage] = []
            for batch in batches {
                do {
                    var outcomes: [IngestOutcome] = []
                    var transaction = SQLiteTransaction(db: db)
                    try db.inSavepoint {
                        outcomes = try transaction.ingest(batch, compose: compose, now: now)
                        return .commit
                    }
                    // Only batches whose savepoint was released: a failed one left no rows.
                    queued += transaction.queuedOutbox
                    results.append(.success(outcomes))
                } catch {
                    results.append(.failure(error))
                }
            }
            Self.publishAfterCommit(queued, to: outboxFeed, db)
            Self.ringAfterCommit(searchDoorbell, db)
            return results
        }
    }

    @discardableResult
    public func append(_ events: [NewEvent], outbox: [OutboxDraft], settling inboxID: Int64?) async throws -> [ScenarioEvent] {
        try await write { try $0.append(events, outbox: outbox, settling: inboxID, now: $1) }
    }

    public func receive(_ messages: [IncomingMessage], cursor: ChatCursor?) async throws -> [IncomingMessage] {
        try await write { try $0.receive(messages, cursor: cursor, now: $1) }
    }

    /// A write that does not wait for the disk (`writeUnsynced`): a power loss right after it
    /// may forget that the message was sent, and the outbox sends it again, which at-least-once
    /// delivery allows anyway.
    public func markSent(outboxID: Int64, as refs: [MessageRef]) async throws {
        try await writeUnsynced { db in
            var transaction = SQLiteTransaction(db: db)
            try transaction.markSent(outboxID: outboxID, as: refs, now: Date())
        }
    }

    public func markFailed(outboxID: Int64, reason: String, giveUp: Bool) async throws {
        try await write { try $0.markFailed(outboxID: outboxID, reason: reason, giveUp: giveUp, now: $1) }
    }

    /// Runs `body` in one IMMEDIATE write transaction on GRDB's writer queue (not on the
    /// cooperative pool); `now` is read inside the transaction, so times follow commit order.
    private func write<T: Sendable>(
        _ body: @escaping @Sendable (inout SQLiteTransaction, Date) throws -> T
    ) async throws -> T {
        try await pool.write { [outboxFeed, searchDoorbell] db in
            var transaction = SQLiteTransaction(db: db)
            let result = try body(&transaction, Date())
            Self.publishAfterCommit(transaction.queuedOutbox, to: outboxFeed, db)
            Self.ringAfterCommit(searchDoorbell, db)
            return result
        }
    }

    /// One IMMEDIATE write transaction that does not wait for the disk (`synchronous = NORMAL`
    /// for it), for writes whose loss in a power cut is harmless: a sent-mark (the message is
    /// sent again). A process crash loses nothing (the WAL is written before the call returns),
    /// and the next FULL commit syncs it. Alert intake and every other write stay FULL, so chat
    /// traffic does not take fsyncs from intake.
    func writeUnsynced<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.writeWithoutTransaction { [searchDoorbell] db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(db)
                Self.ringAfterCommit(searchDoorbell, db)
                return .commit
            }
            guard let result else { preconditionFailure("inTransaction returned without running its body") }
            return result
        }
    }

    /// Hands `messages` to the feed once the current transaction commits (on the writer
    /// queue, so in commit order); nothing if it rolls back.
    private static func publishAfterCommit(_ messages: [OutboxMessage], to feed: OutboxFeed?, _ db: Database) {
        guard let feed, !messages.isEmpty else { return }
        db.afterNextTransaction { _ in feed.publish(messages) }
    }

    private static func ringAfterCommit(_ doorbell: Doorbell, _ db: Database) {
        db.afterNextTransaction { _ in doorbell.ring() }
    }

    // MARK: Maintenance

    /// Retention: each batch is its own short write transaction, so intake waits at most for
    /// one batch. A batch's documents leave the search index first (`SQLiteSearchIndex.remove`),
    /// then its scenarios leave the store.
    public func prune(_ policy: RetentionPolicy, now: Date, batch: Int) async throws -> Int {
        guard !policy.keepsEverything else { return 0 }
        let batch = max(1, batch)
        var removed = 0
        while true {
            let doomed = try await pool.read { db in try SQLiteHistory.doomed(db, policy, now: now, batch: batch) }
            try await searchIndex.remove(scenarios: doomed, from: pool)
            if !doomed.isEmpty {
                try await pool.write { db in try SQLiteHistory.remove(db, scenarioIDs: doomed) }
            }
            removed += doomed.count
            if doomed.count < batch { return removed }
        }
    }

    /// One step of the full-text index (`SQLiteSearchIndex.indexPending`): indexes what the
    /// last commits added, up to a thousand alerts and a thousand events, in a transaction of
    /// the index file. Returns how many rows it read: 0 when the index is up to date.
    @discardableResult
    public func indexSearch() async throws -> Int {
        try await searchIndex.indexPending(from: pool)
    }

    /// Alerts and events the full-text index has not read yet (counted: slow in a large store).
    public func searchBacklog() async throws -> Int {
        try await searchIndex.backlog(in: pool)
    }

    /// At least as many alerts and events as the full-text index has not read yet, cheaply (ids
    /// handed out, not rows). Past `searchCatchUpLimit`, searches find what is indexed so far:
    /// the index is being rebuilt (after an upgrade to v7, or without its file).
    public func searchLag() async throws -> Int {
        Int(try await searchIndex.backlogBound(in: pool))
    }

    /// Copies what the WAL holds into the database file, from a connection of its own and
    /// without waiting for the writer or blocking it (a PASSIVE checkpoint): SQLite would
    /// otherwise do this inside whichever commit crosses 1,000 WAL pages, with an fsync of the
    /// database file, which held up that commit's alerts (and, the writer being single, every
    /// alert behind them). Returns the WAL's pages and how many of them are now in the file;
    /// a WAL whose pages are all copied starts again from its beginning at the next commit.
    /// Nil when another checkpoint was running (the writer's backstop past
    /// `writerCheckpointPages`, or `checkpoint()`): SQLite answers that with SQLITE_BUSY at
    /// once, and there is nothing to do but try again later.
    @discardableResult
    public func checkpointInBackground() async throws -> (walPages: Int, copied: Int)? {
        try await checkpointer.writeWithoutTransaction { db in
            do {
                let result = try db.checkpoint(.passive)
                return (walPages: result.walFrameCount, copied: result.checkpointedFrameCount)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                return nil
            }
        }
    }

    /// Copies the WAL into the main file and truncates the WAL (for backups and before shutdown).
    public func checkpoint() async throws {
        try await pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    /// Closes the file. Any later call throws.
    public func close() throws {
        try checkpointer.close()
        try pool.close()
        try searchIndex.close()
    }
}
