import Foundation
import GRDB
import TeleOpsCore
import TeleOpsSQLite
import Testing

/// The v6 migration: the indexes keyed by a digest or fingerprint that intake no longer needs
/// are dropped, and a file written before it still finds its active scenarios and retries.
/// The v7 migration: the full-text index leaves the store file. The v8 migration: every
/// reference to a scenario has an index. The v9 migration: outbox rows name their route. The
/// v10 migration: an index of the scenarios each engineer owns.
@Suite struct SQLiteMigrationTests {
    /// Undoes v10 on a file: no index of owned scenarios.
    static let backToV9 = """
        DROP INDEX scenarios_acknowledged_by;
        DELETE FROM grdb_migrations WHERE identifier = 'v10';

        """

    /// Undoes v10 and v9 on a file: no route column in the outbox.
    static let backToV8 = backToV9 + """
        ALTER TABLE outbox DROP COLUMN route;
        DELETE FROM grdb_migrations WHERE identifier = 'v9';

        """

    /// Undoes v9 and v8 on a file: no indexes behind the references to scenarios.
    static let backToV7 = backToV8 + """
        DROP INDEX scenarios_previous;
        DROP INDEX messages_scenario;
        DROP INDEX outbox_scenario;
        DELETE FROM grdb_migrations WHERE identifier = 'v8';
        """

    /// Undoes v8 and v7 on a file: the full-text index back in the store file (empty: the test
    /// files are small enough that what it held does not matter, as v7 drops it), no store id,
    /// and v7 not recorded.
    static let backToV6 = backToV7 + """
        CREATE VIRTUAL TABLE search USING fts5(
            body, content='', columnsize=0, prefix='2 3', tokenize='unicode61 remove_diacritics 2');
        INSERT INTO search (search, rank) VALUES ('automerge', 0);
        DELETE FROM store_meta WHERE name = 'store_id';
        DELETE FROM grdb_migrations WHERE identifier = 'v7';
        """

    /// Undoes v7 and v6 on a file: v6's indexes as v5 had them, and v6 not recorded.
    static let backToV5 = backToV6 + """
        DROP INDEX alerts_scenario_key;
        CREATE UNIQUE INDEX scenarios_active_fingerprint ON scenarios(fingerprint) WHERE status != 'resolved';
        CREATE INDEX alerts_idempotency_key ON alerts(idempotency_key, id) WHERE idempotency_key IS NOT NULL;
        DELETE FROM grdb_migrations WHERE identifier = 'v6';
        """

    static func keyed(_ check: String, status: AlertStatus = .firing, at seconds: Double, key: String) -> Alert {
        var alert = SQLiteScenarioStoreTests.alert(check, status: status, at: seconds)
        alert.idempotencyKey = key
        return alert
    }

    @Test func aV5FileMigratesAndKeepsItsRetriesAndActiveScenarios() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            let fired = try await store.ingest([Self.keyed("disk", at: 0, key: "disk-fire")]) { _, _, _ in [] }[0]
            let unmatched = try await store.ingest([Self.keyed("ghost", status: .resolved, at: 1, key: "ghost-clear")]) { _, _, _ in [] }[0]
            _ = try await store.ingest([Self.keyed("cpu", at: 2, key: "cpu-fire")]) { _, _, _ in [] }
            _ = try await store.ingest([Self.keyed("cpu", status: .resolved, at: 3, key: "cpu-clear")]) { _, _, _ in [] }
            try store.close()
            try runSQLite(path, Self.backToV5)
            #expect(try Self.indexes(path).contains("scenarios_active_fingerprint"))

            let migrated = try SQLiteScenarioStore(path: path)
            let diagnostics = try await migrated.diagnostics()
            #expect(diagnostics.migrations.suffix(5) == ["v6", "v7", "v8", "v9", "v10"])
            let indexes = try Self.indexes(path)
            #expect(!indexes.contains("scenarios_active_fingerprint"))
            #expect(!indexes.contains("alerts_idempotency_key"))
            #expect(indexes.contains("alerts_scenario_key"))

            let outcomes = try await migrated.ingest([
                Self.keyed("disk", at: 4, key: "disk-fire"),  // retry while its scenario is active
                Self.keyed("ghost", status: .resolved, at: 5, key: "ghost-clear"),  // retry of one that matched nothing
                Self.keyed("cpu", status: .resolved, at: 6, key: "cpu-clear"),  // retry of the resolve
                Self.keyed("disk", at: 7, key: "disk-fire-2"),  // new delivery: joins the active scenario
                Self.keyed("cpu", at: 8, key: "cpu-fire-2"),  // resolved before: opens a new scenario
            ]) { _, _, _ in [] }
            #expect(outcomes.map(\.disposition) == [.duplicate, .duplicate, .duplicate, .repeated, .opened])
            #expect(outcomes[0].alertID == fired.alertID)
            #expect(outcomes[1].alertID == unmatched.alertID)
            #expect(outcomes[3].scenarioID == fired.scenarioID)
            try migrated.close()
        }
    }

    /// A fingerprint's active scenario is its newest, unless resolved: many resolved scenarios
    /// before it change nothing, and none is active once the newest resolves.
    @Test func theActiveScenarioIsTheFingerprintsNewestUnlessResolved() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            var opened: [Int64] = []
            for round in 0..<3 {
                let outcome = try await store.ingest([SQLiteScenarioStoreTests.alert("disk", at: Double(round * 2))]) { _, _, _ in [] }[0]
                #expect(outcome.disposition == .opened)
                opened.append(try #require(outcome.scenarioID))
                let repeated = try await store.ingest([SQLiteScenarioStoreTests.alert("disk", at: Double(round * 2) + 0.5)]) { _, _, _ in [] }[0]
                #expect(repeated.scenarioID == opened.last)
                let resolved = try await store.ingest(
                    [SQLiteScenarioStoreTests.alert("disk", status: .resolved, at: Double(round * 2 + 1))]) { _, _, _ in [] }[0]
                #expect(resolved.disposition == .resolved)
                #expect(resolved.scenarioID == opened.last)
            }
            #expect(Set(opened).count == 3)
            let late = try await store.ingest([SQLiteScenarioStoreTests.alert("disk", status: .resolved, at: 10)]) { _, _, _ in [] }[0]
            #expect(late.disposition == .unmatched)
            try store.close()
        }
    }

    /// Retention removes scenarios one by one; each removal looks up, through every foreign key
    /// that points at the scenario, the rows that refer to it. An index starting with the key's
    /// column turns each lookup into a search instead of a walk of the whole table.
    @Test func everyForeignKeyHasAnIndexAndAV7FileGetsThem() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            try SQLiteScenarioStore(path: path).close()
            #expect(try Self.unindexedForeignKeys(path) == [])
            try runSQLite(path, Self.backToV7)
            #expect(try Self.unindexedForeignKeys(path) == ["messages.scenario_id", "outbox.scenario_id", "scenarios.previous_id"])

            let migrated = try SQLiteScenarioStore(path: path)
            #expect(try await migrated.diagnostics().migrations.last == "v10")
            try migrated.close()
            #expect(try Self.unindexedForeignKeys(path) == [])
        }
    }

    /// A message queued before v9 is still sent after it (no route: the transport's own chat),
    /// and one queued after it keeps its route.
    @Test func aV8FileKeepsItsQueuedMessagesAndNewOnesKeepTheirRoute() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            _ = try await store.ingest([SQLiteScenarioStoreTests.alert("disk", at: 0)]) { _, outcome, _ in
                [OutboxDraft(scenarioID: outcome.scenarioID, purpose: .announcement, text: "before")]
            }
            try store.close()
            try runSQLite(path, Self.backToV8)

            let migrated = try SQLiteScenarioStore(path: path)
            #expect(try await migrated.diagnostics().migrations.last == "v10")
            _ = try await migrated.ingest([SQLiteScenarioStoreTests.alert("cpu", at: 1)]) { _, outcome, _ in
                [OutboxDraft(scenarioID: outcome.scenarioID, purpose: .announcement, text: "after", route: "database")]
            }
            let pending = try await migrated.pendingOutbox(afterID: nil, limit: 10)
            #expect(pending.map(\.draft.text) == ["before", "after"])
            #expect(pending.map(\.draft.route) == [nil, "database"])
            try migrated.close()
        }
    }

    /// "table.column" of each foreign key whose column starts no index of its table that a
    /// lookup by that column can use: a full index, or a partial one on `column IS NOT NULL`
    /// (a partial index on anything else, like `messages_announcements`, does not serve it).
    static func unindexedForeignKeys(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            var unindexed: [String] = []
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            for table in tables {
                let keys = try String.fetchAll(db, sql: "SELECT \"from\" FROM pragma_foreign_key_list(?)", arguments: [table])
                let indexes = try Row.fetchAll(db, sql: """
                    SELECT (SELECT name FROM pragma_index_info(list.name) WHERE seqno = 0) AS leading, list.partial,
                           (SELECT sql FROM sqlite_master WHERE type = 'index' AND name = list.name) AS sql
                    FROM pragma_index_list(?) AS list
                    """, arguments: [table])
                for key in keys {
                    let usable = indexes.contains { index in
                        let sql: String = index["sql"] ?? ""
                        return index["leading"] == key && (index["partial"] == 0 || sql.hasSuffix("WHERE \(key) IS NOT NULL"))
                    }
                    if !usable { unindexed.append("\(table).\(key)") }
                }
            }
            return unindexed.sorted()
        }
    }

    static func indexes(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name") }
    }
}
