import Foundation
import GRDB
import TeleOpsCore
@testable import TeleOpsSQLite
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

    /// The lines of SQLite's plan for `sql` on the file at `path`.
    static func queryPlan(_ sql: String, in path: String) async throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try await queue.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(sql)").map { $0["detail"] as String }
        }
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

    // Each alert's event records its digest: alert N is event N's in the filled store (#1 holds
    // alerts and events 1, 3, 4; #2 2, 5; #3 6).

    @Test(arguments: [
        "UPDATE alerts SET labels = json_set(labels, '$.team', 'nobody') WHERE id = 3",
        "UPDATE alerts SET labels = '{}' WHERE id = 3",
        "UPDATE alerts SET details = json_set(details, '$.used_pct', 5) WHERE id = 3",
        "UPDATE alerts SET details = NULL WHERE id = 3",
        "UPDATE alerts SET host = 'web-2' WHERE id = 3",
        "UPDATE alerts SET summary = 'nothing happened', severity = 'info' WHERE id = 3",
        "UPDATE alerts SET idempotency_key = 'k' WHERE id = 3",
        "UPDATE alerts SET received_at = received_at + 1 WHERE id = 3",
        // A value of another type than the store writes is read, not a crash.
        "UPDATE alerts SET received_at = 'yesterday' WHERE id = 3",
        // The same labels as values, written differently: the text is what is shown and hashed.
        #"UPDATE alerts SET labels = '{"team":"ops", "env":"prod"}' WHERE id = 3"#,
    ])
    func anEditedAlertIsNamed(sql: String) async throws {
        let found = try await Self.tamper(sql)
        #expect(found == ChainBreak(scenarioID: 1, eventID: 3, reason: .alertAltered, alertID: 3))
        #expect(found?.description.hasPrefix("scenario #1, event 3: its alert 3 is not as the event recorded it") == true)
    }

    /// The scenario's row is derived from its events (`ScenarioReplay`): an edit of a column is
    /// named, with the columns that differ. #1 is disk (fired, repeated twice), #2 cpu, #3 load.
    @Test(arguments: [
        ("UPDATE scenarios SET status = 'resolved' WHERE id = 1", 1, ["status"]),
        ("UPDATE scenarios SET status = 'acknowledged', acknowledged_by = 'mallory' WHERE id = 1", 1,
         ["status", "acknowledged_by"]),
        ("UPDATE scenarios SET occurrences = 1 WHERE id = 1", 1, ["occurrences"]),
        ("UPDATE scenarios SET severity = 'info' WHERE id = 2", 2, ["severity"]),
        ("UPDATE scenarios SET summary = 'nothing happened', host = 'web-2' WHERE id = 3", 3, ["host", "summary"]),
        ("UPDATE scenarios SET updated_at = updated_at - 1 WHERE id = 2", 2, ["updated_at"]),
        ("UPDATE scenarios SET resolved_at = opened_at WHERE id = 1", 1, ["resolved_at"]),
        ("UPDATE scenarios SET silenced_until = opened_at + 3600000 WHERE id = 3", 3, ["silenced_until"]),
        ("UPDATE scenarios SET occurrences = 'many' WHERE id = 1", 1, ["occurrences"]),
    ])
    func anEditedScenarioRowIsNamed(sql: String, scenarioID: Int64, columns: [String]) async throws {
        let found = try await Self.tamper(sql)
        #expect(found == ChainBreak(scenarioID: scenarioID, eventID: nil, reason: .scenarioAltered, columns: columns))
        #expect(found?.description.contains("scenario #\(scenarioID): its \(columns.joined(separator: ", "))") == true,
                "\(found?.description ?? "")")
    }

    /// `previous_id` must name an earlier scenario with the same fingerprint, as the store links
    /// them. #1 disk, #2 cpu, #3 load: none follows another.
    @Test(arguments: [
        ("UPDATE scenarios SET previous_id = 1 WHERE id = 3", 3),  // earlier, another fingerprint
        ("UPDATE scenarios SET previous_id = 3 WHERE id = 1", 1),  // later
    ])
    func anEditedLinkToAnotherScenarioIsNamed(sql: String, scenarioID: Int64) async throws {
        let found = try await Self.tamper(sql)
        #expect(found == ChainBreak(scenarioID: scenarioID, eventID: nil, reason: .scenarioAltered, columns: ["previous_id"]))
    }

    /// A scenario opened after its fingerprint's last one resolved follows that one, and verifies;
    /// and the verify walk looks each link up by id, in scenario order without a sort.
    @Test func aScenarioThatFollowsAResolvedOneVerifies() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            for (status, seconds) in [(AlertStatus.firing, 0.0), (.resolved, 1), (.firing, 2), (.resolved, 3), (.firing, 4)] {
                _ = try await store.ingest([SQLiteScenarioStoreTests.alert("disk", status: status, at: seconds)]) { _, _, _ in [] }
            }
            let links = try await store.scenarios(ScenarioQuery()).map { [$0.id, $0.previousID ?? 0] }
            #expect(links == [[3, 2], [2, 1], [1, 0]])
            #expect(try await store.verifyChain().firstBreak == nil)
            try store.close()
            try runSQLite(path, "UPDATE scenarios SET previous_id = 3 WHERE id = 2")
            #expect(try await SQLiteScenarioStore(path: path).verifyChain().firstBreak
                    == ChainBreak(scenarioID: 2, eventID: nil, reason: .scenarioAltered, columns: ["previous_id"]))

            let plan = try await Self.queryPlan(SQLiteHistory.verifiedScenariosSQL, in: path)
            #expect(plan.contains { $0.contains("USING INTEGER PRIMARY KEY") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        }
    }

    @Test func theFirstEditedAlertIsNamed() async throws {
        // Scenario #2's alert 5 and #3's alert 6: scenario order, then event order.
        let found = try await Self.tamper("UPDATE alerts SET details = '{}' WHERE id IN (5, 6)")
        #expect(found == ChainBreak(scenarioID: 2, eventID: 5, reason: .alertAltered, alertID: 5))
        let last = try await Self.tamper("UPDATE alerts SET host = 'db-1' WHERE id = 6")
        #expect(last == ChainBreak(scenarioID: 3, eventID: 6, reason: .alertAltered, alertID: 6))
    }

    @Test func aRemovedOrMovedAlertIsNamed() async throws {
        let removed = try await Self.tamper("DELETE FROM alerts WHERE id = 4")
        #expect(removed == ChainBreak(scenarioID: 1, eventID: 4, reason: .alertRemoved, alertID: 4))
        #expect(removed?.description.contains("its alert 4 is missing from the scenario") == true)
        let moved = try await Self.tamper("UPDATE alerts SET scenario_id = 3 WHERE id = 2")
        #expect(moved == ChainBreak(scenarioID: 2, eventID: 2, reason: .alertRemoved, alertID: 2))
        let detached = try await Self.tamper("UPDATE alerts SET scenario_id = NULL WHERE id = 6")
        #expect(detached == ChainBreak(scenarioID: 3, eventID: 6, reason: .alertRemoved, alertID: 6))
    }

    /// Alert rows no event records a digest of (an acknowledgement, an alert matching no
    /// scenario) are not under the chain; the rest of the log still verifies.
    @Test func alertsNoEventRecordsAreNotChecked() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try await Self.filledStore(at: path)
            _ = try await store.ingest([SQLiteScenarioStoreTests.alert("load", status: .acknowledged, at: 7),
                                        SQLiteScenarioStoreTests.alert("ntp", status: .resolved, at: 8)]) { _, _, _ in [] }
            try store.close()
            try runSQLite(path, "UPDATE alerts SET labels = '{}' WHERE id IN (7, 8)")
            #expect(try await SQLiteScenarioStore(path: path).verifyChain().firstBreak == nil)
        }
    }

    /// An event written before digests were recorded (here: its digest taken out and the chain
    /// hashed again, as an older TeleOps wrote it) still verifies, and its alert is not checked.
    @Test func anEventWithoutADigestStillVerifies() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            try await Self.filledStore(at: path).close()
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE events SET data = json_remove(data, '$.alert_digest') WHERE id IN (1, 3)")
                try Self.rechain(db, scenarioID: 1)
            }
            let data = try await queue.read { db in try String.fetchAll(db, sql: "SELECT data FROM events WHERE scenario_id = 1 ORDER BY id") }
            try queue.close()
            #expect(data[0].hasPrefix(#"{"alert_id":1,"#) && data[2].hasPrefix(#"{"alert_digest":""#), "\(data)")
            let store = try SQLiteScenarioStore(path: path)
            #expect(try await store.verifyChain().firstBreak == nil)
            try store.close()

            try runSQLite(path, "UPDATE alerts SET labels = '{}' WHERE id IN (1, 3)")
            #expect(try await SQLiteScenarioStore(path: path).verifyChain().firstBreak == nil, "old events' alerts are not checked")
            try runSQLite(path, "UPDATE alerts SET labels = '{}' WHERE id = 4")
            #expect(try await SQLiteScenarioStore(path: path).verifyChain().firstBreak
                    == ChainBreak(scenarioID: 1, eventID: 4, reason: .alertAltered, alertID: 4), "a newer one in the same scenario is")
        }
    }

    /// Verify reads the alerts alongside the events, in scenario order on `alerts_scenario`:
    /// no sort, no table in memory.
    @Test func verifyWalksTheAlertsByTheirScenarioIndex() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            try await Self.filledStore(at: path).close()
            let plan = try await Self.queryPlan(SQLiteHistory.verifiedAlertsSQL, in: path)
            #expect(plan.contains { $0.contains("USING INDEX alerts_scenario") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        }
    }

    /// Hashes scenario `scenarioID`'s events again from their stored fields, and its head.
    static func rechain(_ db: Database, scenarioID: Int64) throws {
        var previous: String?
        for row in try Row.fetchAll(db, sql: "SELECT id, at, actor, kind, data FROM events WHERE scenario_id = ? ORDER BY id",
                                    arguments: [scenarioID]) {
            let data: String = row["data"]
            let hash = EventChain.hash(previous: previous, scenarioID: scenarioID, at: Date(millisecondsSince1970: row["at"]),
                                       actor: row["actor"], kind: row["kind"], data: Array(data.utf8))
            try db.execute(sql: "UPDATE events SET hash = ? WHERE id = ?", arguments: [hash, row["id"] as Int64])
            previous = hash
        }
        try db.execute(sql: "UPDATE scenarios SET head_hash = ? WHERE id = ?", arguments: [previous, scenarioID])
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
