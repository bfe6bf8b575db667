import Foundation
import GRDB
import TeleOpsCore
import TeleOpsSQLite
import Testing

/// Tampering with the file behind the store's back is caught by `verifyChain`, which names the
/// first broken event; the v5 migration chains a log written before the chain existed.
@Suite struct SQLiteChainTests {
    /// Three scenarios: #1 with events 1, 3, 4; #2 with 2, 5; #3 with 6.
    static func filledStore(at path: String) async throws -> SQLiteScenarioStore {
        let store = try SQLiteScenarioStore(path: path)
        for (index, check) in ["disk", "cpu", "disk", "disk", "cpu", "load"].enumerated() {
            _ = try await store.ingest([SQLiteScenarioStoreTests.alert(check, at: Double(index))]) { _, _, _ in [] }
        }
        let report = try await store.verifyChain()
        #expect(report.firstBreak == nil)
        #expect(report.eventsChecked == 6)
        return store
    }

    /// Runs `sql` on a filled store's file, then verifies through a fresh store.
    static func tamper(_ sql: String) async throws -> ChainBreak? {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            try await filledStore(at: path).close()
            try runSQLite(path, sql)
            return try await SQLiteScenarioStore(path: path).verifyChain().firstBreak
        }
    }

    @Test func anEditedEventIsNamed() async throws {
        let found = try await Self.tamper("UPDATE events SET actor = 'mallory' WHERE id = 3")
        #expect(found == ChainBreak(scenarioID: 1, eventID: 3, reason: .eventAltered))
        #expect(found?.description.contains("scenario #1, event 3") == true)
    }

    @Test func anEditedPayloadIsNamed() async throws {
        let found = try await Self.tamper("UPDATE events SET data = json_set(data, '$.summary', 'nothing happened') WHERE id = 2")
        #expect(found == ChainBreak(scenarioID: 2, eventID: 2, reason: .eventAltered))
    }

    @Test func aRemovedEventBreaksTheChainAtTheNextOne() async throws {
        // Scenario 1 holds events 1, 3, 4 (disk fired and repeated): removing 3 breaks at 4.
        let found = try await Self.tamper("DELETE FROM events WHERE id = 3")
        #expect(found == ChainBreak(scenarioID: 1, eventID: 4, reason: .eventAltered))
    }

    @Test func aRemovedNewestEventIsCaughtByTheHead() async throws {
        let found = try await Self.tamper("DELETE FROM events WHERE id = 4")
        #expect(found == ChainBreak(scenarioID: 1, eventID: nil, reason: .eventsRemoved))
    }

    @Test func aRemovedScenarioIsCaught() async throws {
        let found = try await Self.tamper("""
            DELETE FROM alerts WHERE scenario_id = 2; DELETE FROM events WHERE scenario_id = 2;
            DELETE FROM scenarios WHERE id = 2;
            """)
        #expect(found == ChainBreak(scenarioID: 2, eventID: nil, reason: .scenarioRemoved))
        let newest = try await Self.tamper("""
            DELETE FROM alerts WHERE scenario_id = 3; DELETE FROM events WHERE scenario_id = 3;
            DELETE FROM scenarios WHERE id = 3;
            """)
        #expect(newest == ChainBreak(scenarioID: 3, eventID: nil, reason: .scenarioRemoved))
    }

    @Test func aRewrittenChainStillChangesTheDigest() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try await Self.filledStore(at: path)
            let before = try await store.verifyChain()
            try store.close()
            // Someone with write access drops scenario 3's only event and its head: the chain
            // holds, but the digest kept from before no longer matches.
            try runSQLite(path, "DELETE FROM events WHERE scenario_id = 3; UPDATE scenarios SET head_hash = NULL WHERE id = 3")
            let after = try await SQLiteScenarioStore(path: path).verifyChain(against: before.checkpoint)
            #expect(after.firstBreak == nil)
            #expect(after.digest != before.digest)
            #expect(after.checkpointResult == .differs)
            #expect(!after.isIntact)
        }
    }

    /// Someone with write access edits an event and recomputes every hash after it and the
    /// head: each chain holds, but a checkpoint kept from before says the log was rewritten,
    /// while one checked after the log only grew holds.
    @Test func aCheckpointHoldsAsTheLogGrowsAndCatchesARewriteWithEveryHashRecomputed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try await Self.filledStore(at: path)
            let checkpoint = try await store.verifyChain().checkpoint
            #expect(checkpoint.lastEventID == 6)
            #expect(ChainCheckpoint(checkpoint.description) == checkpoint, "the printed line reads back")
            for (index, check) in ["disk", "ntp"].enumerated() {
                _ = try await store.ingest([SQLiteScenarioStoreTests.alert(check, at: Double(10 + index))]) { _, _, _ in [] }
            }
            let grown = try await store.verifyChain(against: checkpoint)
            #expect(grown.checkpointResult == .holds && grown.isIntact)
            #expect(grown.checkpoint.lastEventID == 8 && grown.checkpoint != checkpoint)
            try store.close()

            // Scenario #1 holds events 1, 3, 4, 7: rewrite 3's actor and re-chain 3, 4 and 7.
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE events SET actor = 'mallory' WHERE id = 3")
                var previous: String?
                for row in try Row.fetchAll(db, sql: "SELECT id, at, actor, kind, data FROM events WHERE scenario_id = 1 ORDER BY id") {
                    let data: String = row["data"]
                    let hash = EventChain.hash(previous: previous, scenarioID: 1, at: Date(millisecondsSince1970: row["at"]),
                                               actor: row["actor"], kind: row["kind"], data: Array(data.utf8))
                    try db.execute(sql: "UPDATE events SET hash = ? WHERE id = ?", arguments: [hash, row["id"] as Int64])
                    previous = hash
                }
                try db.execute(sql: "UPDATE scenarios SET head_hash = ? WHERE id = 1", arguments: [previous])
            }
            try queue.close()
            let rewritten = try SQLiteScenarioStore(path: path)
            #expect(try await rewritten.verifyChain().isIntact, "every chain holds: only the checkpoint can tell")
            let checked = try await rewritten.verifyChain(against: checkpoint)
            #expect(checked.checkpointResult == .differs && !checked.isIntact)
            #expect(try await rewritten.verifyChain(against: grown.checkpoint).checkpointResult == .differs)

            // Retention since the checkpoint: it cannot be checked, which is not a break.
            _ = try await rewritten.ingest([SQLiteScenarioStoreTests.alert("ntp", status: .resolved, at: 20)]) { _, _, _ in [] }
            _ = try await rewritten.ingest([SQLiteScenarioStoreTests.alert("load", status: .resolved, at: 21)]) { _, _, _ in [] }
            #expect(try await rewritten.prune(RetentionPolicy(maxCount: 1), now: Date(), batch: 10) == 1)
            let pruned = try await rewritten.verifyChain(against: grown.checkpoint)
            #expect(pruned.checkpointResult == .prunedSince && pruned.isIntact)
            try rewritten.close()
        }
    }

    @Test func theMigrationChainsAndIndexesAnOlderLog() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            try await Self.filledStore(at: path).close()
            // Back to a v4 file as an older TeleOps wrote it: no hashes, no index.
            try runSQLite(path, SQLiteMigrationTests.backToV5)
            try runSQLite(path, """
                UPDATE events SET hash = NULL; UPDATE scenarios SET head_hash = NULL; DROP TABLE search;
                DROP TABLE store_meta; DROP INDEX scenarios_status; DROP INDEX scenarios_check; DROP INDEX scenarios_check_resolved;
                DROP INDEX scenarios_opened;
                DROP INDEX events_actor;
                ALTER TABLE events DROP COLUMN hash; ALTER TABLE scenarios DROP COLUMN head_hash;
                ALTER TABLE alerts DROP COLUMN searchable;
                DELETE FROM grdb_migrations WHERE identifier = 'v5';
                """)
            let store = try SQLiteScenarioStore(path: path)
            let report = try await store.verifyChain()
            #expect(report.firstBreak == nil)
            #expect(report.eventsChecked == 6)
            #expect(try await store.scenarios(ScenarioQuery(text: "load")).map(\.check) == ["load"])
            // The scenarios with repeats can be pruned: exactly what was indexed is removed.
            _ = try await store.ingest([SQLiteScenarioStoreTests.alert("disk", status: .resolved, at: 9)]) { _, _, _ in [] }
            #expect(try await store.prune(RetentionPolicy(maxCount: 1), now: Date(), batch: 10) == 1)
            #expect(try await store.scenarios(ScenarioQuery(text: "disk")).isEmpty)
            #expect(try await store.scenarios(ScenarioQuery(text: "broke")).map(\.check) == ["load", "cpu"])
        }
    }
}
