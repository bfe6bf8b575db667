import Foundation
import GRDB
import TeleOpsCore
@testable import TeleOpsSQLite
import Testing

/// The full-text index lives in a file of its own, filled after the commits.
@Suite struct SQLiteSearchIndexTests {
    static func alert(host: String, summary: String, status: AlertStatus = .firing, at seconds: Double) -> Alert {
        Alert(source: "generic", host: host, check: "storage", severity: .warning, status: status, summary: summary,
              receivedAt: Date(timeIntervalSince1970: 1_750_000_000 + seconds))
    }

    /// Rowids in the index file that `word` matches (a document indexed twice shows twice).
    static func matches(_ word: String, in store: SQLiteScenarioStore) throws -> [Int64] {
        let queue = try DatabaseQueue(path: store.searchIndexPath)
        defer { try? queue.close() }
        return try queue.read { db in
            try Int64.fetchAll(db, sql: "SELECT rowid FROM search WHERE search MATCH ? ORDER BY rowid", arguments: [word])
        }
    }

    /// Deletes the index file of the store at `storePath`, with its WAL.
    static func removeIndexFile(ofStore storePath: String) {
        let index = SQLiteSearchIndex.path(forStore: storePath)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: index + suffix) }
    }

    static func ingest(_ store: SQLiteScenarioStore, _ alerts: [Alert]) async throws {
        for alert in alerts { _ = try await store.ingest([alert]) { _, _, _ in [] } }
    }

    @Test func intakeWritesNoTextAndASearchCatchesUpFirst() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            #expect(store.searchIndexPath == directory.appendingPathComponent("teleops.search.sqlite").path)
            try await Self.ingest(store, (0..<5).map { Self.alert(host: "web-\($0)", summary: "disk full on web-\($0)", at: Double($0)) })
            let tables = try await store.pool.writeWithoutTransaction { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            #expect(!tables.contains("search"), "the store file holds no index: \(tables)")
            // Five alerts and their five "fired" events: nothing read yet.
            #expect(try await store.searchBacklog() == 10)
            #expect(try Self.matches("disk", in: store).isEmpty)

            #expect(try await store.scenarios(ScenarioQuery(text: "web-3")).map(\.host) == ["web-3"])
            #expect(try await store.searchBacklog() == 0)
            #expect(try Self.matches("disk", in: store).count == 5)
            #expect(try await store.indexSearch() == 0, "nothing left to read")

            // A note added later is found once a step has read it.
            let scenario = try #require(try await store.scenarios(ScenarioQuery(host: "web-1")).first)
            try await store.append([NewEvent(scenarioID: scenario.id, actor: "alice", body: .note(NoteFacts(text: "swapped the fan")))],
                                   outbox: [], settling: nil)
            #expect(try await store.indexSearch() == 1)
            #expect(try await store.scenarios(ScenarioQuery(text: "fan")).map(\.id) == [scenario.id])
            try store.close()
        }
    }

    @Test func aSearchCatchesUpOnlyWhenTheIndexIsALittleBehind() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            try await Self.ingest(store, (0..<10).map { Self.alert(host: "web-\($0)", summary: "disk full", at: Double($0)) })
            // 20 rows behind: with a limit of 5 (an index being rebuilt), nothing is indexed first.
            #expect(try await store.searchIndex.catchUp(from: store.pool, limit: 5) == false)
            #expect(try await store.searchBacklog() == 20)
            #expect(try await store.searchIndex.catchUp(from: store.pool, limit: 50) == true)
            #expect(try await store.searchBacklog() == 0)
            try store.close()
        }
    }

    @Test func stepsAtOnceIndexEachDocumentOnce() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            try await Self.ingest(store, (0..<40).map { Self.alert(host: "db-\($0)", summary: "replica lag", at: Double($0)) })
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 { group.addTask { try await store.indexSearch() } }
                try await group.waitForAll()
            }
            while try await store.indexSearch() > 0 {}
            let rows = try Self.matches("replica", in: store)
            #expect(rows.count == 40)
            #expect(Set(rows).count == 40)
            try store.close()
        }
    }

    @Test func aMissingOrForeignIndexFileIsRebuiltFromTheStore() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let otherPath = directory.appendingPathComponent("other.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            try await Self.ingest(store, [Self.alert(host: "web-1", summary: "disk full", at: 0)])
            #expect(try await store.scenarios(ScenarioQuery(text: "disk")).count == 1)
            try store.close()
            let other = try SQLiteScenarioStore(path: otherPath)
            try await Self.ingest(other, [Self.alert(host: "mail-1", summary: "queue stuck", at: 0),
                                          Self.alert(host: "mail-2", summary: "queue stuck", at: 1)])
            #expect(try await other.scenarios(ScenarioQuery(text: "queue")).count == 2)
            let otherIndex = other.searchIndexPath
            try other.close()

            func replaceIndex(with source: String?) throws {
                let target = SQLiteSearchIndex.path(forStore: path)
                Self.removeIndexFile(ofStore: path)
                if let source { try FileManager.default.copyItem(atPath: source, toPath: target) }
            }
            // Gone: rebuilt.
            try replaceIndex(with: nil)
            var reopened = try SQLiteScenarioStore(path: path)
            #expect(try await reopened.searchBacklog() == 2)
            #expect(try await reopened.scenarios(ScenarioQuery(text: "disk")).map(\.host) == ["web-1"])
            try reopened.close()
            // Another store's: emptied and rebuilt, so its documents do not show here.
            try replaceIndex(with: otherIndex)
            reopened = try SQLiteScenarioStore(path: path)
            #expect(try await reopened.scenarios(ScenarioQuery(text: "queue")).isEmpty)
            #expect(try await reopened.scenarios(ScenarioQuery(text: "disk")).map(\.host) == ["web-1"])
            try reopened.close()
        }
    }

    @Test func aRebuildReadsTheNewestRowsFirstBesideNewOnes() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            try await Self.ingest(store, (1...30).map { Self.alert(host: "web-\($0)", summary: "word\($0) broke", at: Double($0)) })
            try store.close()
            Self.removeIndexFile(ofStore: path)

            let reopened = try SQLiteScenarioStore(path: path)
            try await Self.ingest(reopened, [Self.alert(host: "web-31", summary: "word31 broke", at: 31)])
            #expect(try await reopened.searchLag() == 62, "31 alerts and their 31 events, none read")
            // One small step: the new alert, and the newest of the older ones.
            _ = try await reopened.searchIndex.indexPending(from: reopened.pool, step: 5)
            #expect(try Self.matches("word31", in: reopened).count == 1)
            #expect(try Self.matches("word30", in: reopened).count == 1)
            #expect(try Self.matches("word26", in: reopened).count == 1)
            #expect(try Self.matches("word1", in: reopened).isEmpty)
            while try await reopened.searchIndex.indexPending(from: reopened.pool, step: 5) > 0 {}
            #expect(try await reopened.searchBacklog() == 0)
            #expect(try await reopened.searchLag() == 0)
            let all = try Self.matches("broke", in: reopened)
            #expect(all.count == 31 && Set(all).count == 31)
            try reopened.close()
        }
    }

    @Test func anIndexAheadOfTheStoreIsRebuilt() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let copy = directory.appendingPathComponent("copy.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            try await Self.ingest(store, [Self.alert(host: "web-1", summary: "disk full", at: 0)])
            try await store.checkpoint()
            try FileManager.default.copyItem(atPath: path, toPath: copy)  // a backup, taken now
            try await Self.ingest(store, [Self.alert(host: "web-2", summary: "cpu hot", at: 1)])
            #expect(try await store.scenarios(ScenarioQuery(text: "cpu")).count == 1)
            try store.close()
            // The backup restored over the store: the index has read rows it does not hold.
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.moveItem(atPath: copy, toPath: path)
            let restored = try SQLiteScenarioStore(path: path)
            try await Self.ingest(restored, [Self.alert(host: "web-3", summary: "fan loud", at: 2)])
            #expect(try await restored.scenarios(ScenarioQuery(text: "cpu")).isEmpty, "the old index's document for a row the store reuses")
            #expect(try await restored.scenarios(ScenarioQuery(text: "fan")).map(\.host) == ["web-3"])
            #expect(try await restored.scenarios(ScenarioQuery(text: "disk")).map(\.host) == ["web-1"])
            try restored.close()
        }
    }

    @Test func retentionTakesAScenariosDocumentsOutOnce() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            try await Self.ingest(store, [
                Self.alert(host: "web-1", summary: "disk full", at: 0),
                Self.alert(host: "web-1", summary: "disk full", status: .resolved, at: 1),
                Self.alert(host: "web-2", summary: "disk full", at: 2),
            ])
            let doomed = try #require(try await store.scenarios(ScenarioQuery(host: "web-1")).first)
            try await store.append([NewEvent(scenarioID: doomed.id, actor: "alice", body: .note(NoteFacts(text: "cleaned tmp")))],
                                   outbox: [], settling: nil)
            #expect(try await store.scenarios(ScenarioQuery(text: "disk")).count == 2)

            // Taken out of the index, then a crash before the store deleted it: a retry takes
            // nothing out twice.
            #expect(try await store.searchIndex.remove(scenarios: [doomed.id], from: store.pool) == 2)
            #expect(try await store.searchIndex.remove(scenarios: [doomed.id], from: store.pool) == 0)
            // An event on its way out is not indexed.
            try await store.append([NewEvent(scenarioID: doomed.id, actor: "alice", body: .note(NoteFacts(text: "last words")))],
                                   outbox: [], settling: nil)
            #expect(try await store.scenarios(ScenarioQuery(text: "last")).isEmpty)

            #expect(try await store.prune(RetentionPolicy(maxCount: 1), now: Date(), batch: 10) == 1)
            #expect(try await store.scenarios(ScenarioQuery(text: "disk")).map(\.host) == ["web-2"])
            #expect(try Self.matches("disk", in: store).count == 1)
            #expect(try Self.matches("tmp", in: store).isEmpty)
            let queue = try DatabaseQueue(path: store.searchIndexPath)
            try await queue.write { db in try db.execute(sql: "INSERT INTO search (search) VALUES ('integrity-check')") }
            try queue.close()
            try store.close()
        }
    }

    @Test func aV6FileMigratesItsIndexOutOfTheStore() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            try await Self.ingest(store, [Self.alert(host: "web-1", summary: "disk full", at: 0)])
            try store.close()
            try runSQLite(path, SQLiteMigrationTests.backToV6)
            Self.removeIndexFile(ofStore: path)

            let migrated = try SQLiteScenarioStore(path: path)
            #expect(try await migrated.diagnostics().migrations.last == "v10")
            let storeID = try await migrated.pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT value FROM store_meta WHERE name = 'store_id'")
            }
            #expect(storeID != nil)
            // Migrations run with secure_delete off (the dropped index's text lives on); the
            // writer has its usual setting back afterwards.
            let usual = try await DatabaseQueue().read { try Int.fetchOne($0, sql: "PRAGMA secure_delete") }
            let writer = try await migrated.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA secure_delete") }
            #expect(writer == usual)
            #expect(try await migrated.scenarios(ScenarioQuery(text: "disk")).map(\.host) == ["web-1"])
            try migrated.close()
        }
    }
}
