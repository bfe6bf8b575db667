import Foundation
import GRDB
import Testing
import TeleOpsCore
import TeleOpsTesting

/// `teleops scenarios list|search|export|verify|prune` on the file a running server writes.
@Suite(.serialized) struct ScenarioCLITests {
    /// #1 disk on web-1 (a command ran, resolved), #2 replication on db-1 (open).
    static func serverWithHistory() async throws -> TeleOpsServer {
        let server = try await TeleOpsServer()
        _ = try await server.post(sample: "generic-disk.json")
        try await server.console("#1 CRITICAL web-1 · disk_usage")
        server.process.send("run disk")
        try await server.console("#1 disk on web-1: exit 0")
        server.process.send("note | looked at /var, cleared old logs")
        // The note goes to the newest active scenario: wait for it before the resolve, which a
        // busy machine could otherwise commit first (the note then had no scenario to go to).
        try await server.console("📝 noted on #1.")
        _ = try await server.post(sample: "generic-disk-resolved.json")
        try await server.console("✅ #1 resolved by generic")
        let db = #"{"host":"db-1","check":"replication","severity":"warning","status":"firing","summary":"replica lag 42s","details":{"replica":"db-2"}}"#
        #expect(try await server.post(Data(db.utf8)).status == 202)
        try await server.console("#2 WARNING db-1 · replication")
        return server
    }

    @Test func listSearchExportAndVerifyTheLog() async throws {
        let server = try await Self.serverWithHistory()
        defer { server.stop() }

        let resolved = try await server.cli(["scenarios", "list", "--status", "resolved"])
        #expect(resolved.contains("#1") && !resolved.contains("#2"))
        let byHost = try await server.cli(["scenarios", "list", "--host", "db-1", "--since", "1h"])
        #expect(byHost.contains("#2") && !byHost.contains("#1"))
        #expect(try await server.cli(["scenarios", "list", "--engineer", "operator"]).contains("#1"))
        #expect(try await server.cli(["scenarios", "list", "--check", "nope"]) == "No scenarios match.")

        // Words from the command's output (df), a note, and alert details.
        #expect(try await server.cli(["scenarios", "search", "Filesystem"]).contains("#1"))
        #expect(try await server.cli(["scenarios", "search", "cleared", "logs"]).contains("#1"))
        let replica = try await server.cli(["scenarios", "search", "db-2", "--json"])
        let found = try #require(try JSONSerialization.jsonObject(with: Data(replica.utf8)) as? [[String: Any]])
        #expect(found.map { $0["id"] as? Int } == [2])
        #expect(found.first?["opened_at"] is String, "snake_case keys")

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let exported = try await server.cli(["scenarios", "export", "--out", out])
        #expect(exported.hasPrefix("Exported 2 scenarios"))
        let markdown = try String(contentsOfFile: "\(out)/1.md", encoding: .utf8)
        #expect(markdown.hasPrefix("# Scenario #1: web-1 · disk_usage"))
        #expect(markdown.contains("| Status | resolved |"))
        #expect(markdown.contains("```text") && markdown.contains("Filesystem"))
        #expect(markdown.contains("looked at /var, cleared old logs"))
        let twin = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/1.json"))) as? [String: Any]
        #expect((twin?["events"] as? [[String: Any]])?.first?["kind"] as? String == "alert_fired")
        #expect(FileManager.default.fileExists(atPath: "\(out)/2.md"))
        // The word search found is on show too, and in the export: the alert's details.
        let markdown2 = try String(contentsOfFile: "\(out)/2.md", encoding: .utf8)
        #expect(markdown2.contains("  details\n    replica = db-2\n"))
        let twin2 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/2.json"))) as? [String: Any]
        let alert2 = (twin2?["alerts"] as? [[String: Any]])?.first
        #expect((alert2?["details"] as? [String: Any])?["replica"] as? String == "db-2")
        #expect(alert2?["received_at"] is String && alert2?["id"] is Int, "flat and snake_case, as GET /v1/scenarios/{id} gives it")
        #expect(try await server.cli(["scenarios", "show", "2"]).contains("    details\n      replica = db-2"))

        let verified = try await server.cli(["scenarios", "verify"])
        #expect(verified.hasPrefix("OK: 2 scenarios"))
        let line = try #require(verified.split(separator: "\n").first { $0.hasPrefix("checkpoint ") })
        let checkpoint = String(line.dropFirst("checkpoint ".count))
        #expect(ChainCheckpoint(checkpoint) != nil, "\(checkpoint)")
        let again = try await server.cli(["scenarios", "verify", "--checkpoint", checkpoint])
        #expect(again.contains("checkpoint holds: the events up to event \(checkpoint.prefix { $0 != "-" }) are as they were"))

        let bad = try RunningProcess(executable: TeleOpsServer.executable,
                                     arguments: ["scenarios", "verify", "--checkpoint", "12-abc", "--data", server.dataDirectory])
        #expect(try await bad.waitForExit() != 0)
        try await bad.waitForOutputEnd()
        #expect(bad.stderr.all.joined(separator: "\n").contains("--checkpoint '12-abc' is not a checkpoint"))
    }

    @Test func exportOfNumbersWritesOnlyThoseAndVerifyPrintsJSON() async throws {
        let server = try await Self.serverWithHistory()
        defer { server.stop() }

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let exported = try await server.cli(["scenarios", "export", "#2", "--out", out])
        #expect(exported.hasPrefix("Exported 1 scenario to "))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["2.json", "2.md"])
        #expect(try String(contentsOfFile: "\(out)/2.md", encoding: .utf8).hasPrefix("# Scenario #2: db-1 · replication"))

        // A number that is not there fails naming it, and writes nothing (not even the one that is).
        let elsewhere = out + "-missing"
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let missing = try RunningProcess(executable: TeleOpsServer.executable,
                                         arguments: ["scenarios", "export", "1", "99", "--out", elsewhere, "--data", server.dataDirectory])
        #expect(try await missing.waitForExit() != 0)
        try await missing.waitForOutputEnd()
        #expect(missing.stderr.all.joined(separator: "\n").contains("there is no scenario #99"))
        #expect(!FileManager.default.fileExists(atPath: elsewhere))

        let text = try await server.cli(["scenarios", "verify"])
        let json = try await server.cli(["scenarios", "verify", "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(report.keys) == ["scenarios_checked", "events_checked", "digest", "checkpoint"], "no first_break when intact")
        #expect(report["scenarios_checked"] as? Int == 2)
        let events = try #require(report["events_checked"] as? Int)
        #expect(text.hasPrefix("OK: 2 scenarios, \(events) events, every chain intact"))
        let digest = try #require(report["digest"] as? String)
        #expect(digest.count == 64 && digest.allSatisfy(\.isHexDigit))
        let checkpoint = try #require(report["checkpoint"] as? String)
        #expect(checkpoint.hasPrefix("\(events)-0-"), "no event removed: the last id is the count")
        #expect(text.contains("checkpoint \(checkpoint)"), "the checkpoint the text form prints")
    }

    @Test func verifyNamesTheEventSomeoneEditedAndFails() async throws {
        let server = try await Self.serverWithHistory()
        defer { server.stop() }
        server.process.signal(SIGTERM)
        _ = try await server.process.waitForExit()
        let queue = try DatabaseQueue(path: "\(server.dataDirectory)/teleops.sqlite")
        let edited = try await queue.write { db in
            let id = try Int64.fetchOne(db, sql: "SELECT id FROM events WHERE kind = 'command_finished'")!
            try db.execute(sql: "UPDATE events SET data = json_set(data, '$.exit_code', 0, '$.output', 'all fine') WHERE id = ?",
                           arguments: [id])
            return id
        }
        try queue.close()
        let cli = try RunningProcess(executable: TeleOpsServer.executable,
                                     arguments: ["scenarios", "verify", "--data", server.dataDirectory])
        #expect(try await cli.waitForExit() == 1)
        try await cli.waitForOutputEnd()
        #expect(cli.stdout.all.first == "BROKEN: scenario #1, event \(edited): its hash does not match its contents and the event before it (edited, or an earlier event was removed or edited)")

        let json = try RunningProcess(executable: TeleOpsServer.executable,
                                      arguments: ["scenarios", "verify", "--json", "--data", server.dataDirectory])
        #expect(try await json.waitForExit() == 1, "--json fails the same way")
        try await json.waitForOutputEnd()
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(json.stdout.all.joined(separator: "\n").utf8)) as? [String: Any])
        #expect(report["scenarios_checked"] is Int && report["events_checked"] is Int && report["digest"] is String)
        let broken = try #require(report["first_break"] as? [String: Any])
        #expect(broken["scenario_id"] as? Int == 1)
        #expect((broken["event_id"] as? NSNumber)?.int64Value == edited)
        #expect(broken["reason"] as? String == "event_altered")
    }

    /// The alert's details, which `show` and the export print, edited in the file: its event
    /// recorded the alert's digest, so verify names it.
    @Test func verifyNamesTheAlertSomeoneEditedAndFails() async throws {
        let server = try await Self.serverWithHistory()
        defer { server.stop() }
        server.process.signal(SIGTERM)
        _ = try await server.process.waitForExit()
        let queue = try DatabaseQueue(path: "\(server.dataDirectory)/teleops.sqlite")
        let (alertID, eventID) = try await queue.write { db in
            let alertID = try Int64.fetchOne(db, sql: "SELECT id FROM alerts WHERE scenario_id = 2")!
            let eventID = try Int64.fetchOne(db, sql: "SELECT id FROM events WHERE scenario_id = 2 AND kind = 'alert_fired'")!
            try db.execute(sql: "UPDATE alerts SET details = json_set(details, '$.replica', 'db-9') WHERE id = ?", arguments: [alertID])
            return (alertID, eventID)
        }
        try queue.close()
        let cli = try RunningProcess(executable: TeleOpsServer.executable,
                                     arguments: ["scenarios", "verify", "--data", server.dataDirectory])
        #expect(try await cli.waitForExit() == 1)
        try await cli.waitForOutputEnd()
        #expect(cli.stdout.all.first?.hasPrefix("BROKEN: scenario #2, event \(eventID): its alert \(alertID) is not as the event recorded it") == true,
                "\(cli.stdout.all)")

        let json = try RunningProcess(executable: TeleOpsServer.executable,
                                      arguments: ["scenarios", "verify", "--json", "--data", server.dataDirectory])
        #expect(try await json.waitForExit() == 1)
        try await json.waitForOutputEnd()
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(json.stdout.all.joined(separator: "\n").utf8)) as? [String: Any])
        let broken = try #require(report["first_break"] as? [String: Any])
        #expect(broken["scenario_id"] as? Int == 2)
        #expect((broken["event_id"] as? NSNumber)?.int64Value == eventID)
        #expect((broken["alert_id"] as? NSNumber)?.int64Value == alertID)
        #expect(broken["reason"] as? String == "alert_altered")
    }

    @Test func pruneRemovesOnlyResolvedScenarios() async throws {
        let server = try await Self.serverWithHistory()
        defer { server.stop() }
        #expect(try await server.cli(["scenarios", "prune", "--keep", "0"]) == "Removed 1 resolved scenario.")
        let left = try await server.cli(["scenarios", "list"])
        #expect(left.contains("#2") && !left.contains("#1 "))
        #expect(try await server.cli(["scenarios", "verify"]).hasPrefix("OK: 1 scenarios"))
    }
}
