import Foundation
import Testing
import TeleOpsTesting

/// Black-box: the real `teleops serve` binary with a real SQLite file, real ZeroMQ sockets and
/// real worker processes; alerts over HTTP, replies typed on its console.
@Suite(.serialized) struct AcceptanceTests {
    static let actions = """
        actions:
          - name: tree
            help: a shell with a background child, printing its process group first
            argv: [sh, -c, "echo pgid=$$; sleep 100 & sleep 100"]
            timeout: 1s
          - name: slow
            argv: [sleep, "25"]
            timeout: 60s
        """

    @Test func alertReachesTheConsoleAndAReplyRunsOnAWorker() async throws {
        let server = try await TeleOpsServer(extraYAML: Self.actions)
        defer { server.stop() }

        let posted = try await server.post(sample: "generic-disk.json")
        #expect(posted.status == 202)
        let outcome = try #require((posted.json["alerts"] as? [[String: Any]])?.first)
        #expect(outcome["scenario_id"] as? Int == 1)
        #expect(outcome["disposition"] as? String == "opened")
        try await server.console("#1 CRITICAL web-1 · disk_usage")

        server.process.send("run disk")
        let result = try await server.console("#1 disk on web-1: exit 0")
        let afterResult = server.process.stdout.count
        try await server.console("Filesystem")
        server.process.send("ack")
        try await server.console("#1 acknowledged by operator", from: afterResult)

        let repeated = try await server.post(sample: "generic-disk.json")
        #expect((repeated.json["alerts"] as? [[String: Any]])?.first?["disposition"] as? String == "repeated")
        let resolved = try await server.post(sample: "generic-disk-resolved.json")
        #expect((resolved.json["alerts"] as? [[String: Any]])?.first?["disposition"] as? String == "resolved")
        try await server.console("✅ #1 resolved by generic")

        // The timeline, read by the CLI from the same SQLite file while the server runs.
        let json = try await server.cli(["scenarios", "show", "1", "--json"])
        let detail = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let events = try #require(detail["events"] as? [[String: Any]])
        let kinds = events.compactMap { $0["kind"] as? String }
        #expect(kinds.filter { $0 != "notified" } == [
            "alert_fired", "reply_received", "command_dispatched", "command_finished", "reply_received", "acknowledged",
            "alert_repeated", "alert_resolved",
        ])
        #expect(kinds.filter { $0 == "notified" }.count == 1)
        let finished = try #require(events.first { $0["kind"] as? String == "command_finished" }?["data"] as? [String: Any])
        #expect(finished["exit_code"] as? Int == 0)
        #expect((finished["output"] as? String)?.contains("Filesystem") == true)
        #expect((detail["scenario"] as? [String: Any])?["status"] as? String == "resolved")
        #expect(result.contains("exit 0"))

        let text = try await server.cli(["scenarios", "show", "1"])
        #expect(text.contains("dispatched disk to web-1"))
        let list = try await server.cli(["scenarios", "list"])
        #expect(list.contains("#1") && list.contains("resolved"))

        // SIGTERM: a clean stop that takes the local workers with it.
        server.process.signal(SIGTERM)
        #expect(try await server.process.waitForExit() == 0)
    }

    /// An alert that comes back says what fixed it last time, and offers that action as one tap.
    @Test func aReturningAlertShowsWhatFixedItLastTimeAndTheTapRunsIt() async throws {
        let server = try await TeleOpsServer(extraYAML: Self.actions)
        defer { server.stop() }
        _ = try await server.post(sample: "generic-disk.json")
        try await server.console("#1 CRITICAL web-1 · disk_usage")
        server.process.send("run disk")
        try await server.console("#1 disk on web-1: exit 0")
        _ = try await server.post(sample: "generic-disk-resolved.json")
        try await server.console("✅ #1 resolved by generic")

        let before = server.process.stdout.count
        let reopened = try await server.post(sample: "generic-disk.json")
        let outcome = try #require((reopened.json["alerts"] as? [[String: Any]])?.first)
        #expect(outcome["scenario_id"] as? Int == 2)
        let seen = try #require(outcome["seen_before"] as? [String: Any], "the 202 carries the history")
        #expect(seen["times"] as? Int == 1)
        #expect((seen["last"] as? [String: Any])?["fix"] as? String == "disk")
        try await server.console("🔁 Seen before: once", from: before)
        try await server.console("Last time: operator handled it; ran disk; resolved", from: before)
        try await server.console("[▶ disk again: #2 run disk]", from: before)

        // The button's command, as a press sends it.
        server.process.send("#2 run disk")
        try await server.console("#2 disk on web-1: exit 0", from: before)
    }

    /// A controller run as root (as CI runs the tests) has its local workers run commands as
    /// `dispatch.worker_user` when the action names no user.
    @Test(.enabled(if: geteuid() == 0, "switching users needs root")) func localWorkersRunCommandsAsTheConfiguredUser() async throws {
        let server = try await TeleOpsServer(extraYAML: """
            actions:
              - name: who
                argv: [id, -un]
                cwd: /
                timeout: 5s
            """, dispatchYAML: "  worker_user: nobody")
        defer { server.stop() }
        #expect(try await server.post(sample: "generic-disk.json").status == 202)
        try await server.console("#1 CRITICAL web-1")
        let before = server.process.stdout.count
        server.process.send("run who")
        try await server.console("#1 who on web-1: exit 0", from: before)
        try await server.console("nobody", from: before)
    }

    @Test func badInputGetsClearErrors() async throws {
        let server = try await TeleOpsServer()
        defer { server.stop() }
        let missing = try await server.post(Data(#"{"host":"web-1","severity":"critical","summary":"s","status":"firing"}"#.utf8))
        #expect(missing.status == 400)
        #expect(missing.json["field"] as? String == "check")
        #expect(missing.json["error"] as? String == "check: is required")
        let broken = try await server.post(Data("{not json".utf8))
        #expect(broken.status == 400)
        #expect((broken.json["error"] as? String)?.contains("not valid JSON") == true)
        let huge = try await server.post(Data(repeating: UInt8(ascii: " "), count: (1 << 20) + 1))
        #expect(huge.status == 413)
        let unknown = try await server.post(Data("{}".utf8), source: "nagios")
        #expect(unknown.status == 404)
        #expect((unknown.json["error"] as? String)?.contains("alert source 'nagios'") == true)
        let list = try await server.cli(["scenarios", "list"])
        #expect(list.contains("No scenarios yet."))
    }

    @Test func aTimedOutCommandLeavesNoProcessOfItsTree() async throws {
        let server = try await TeleOpsServer(extraYAML: Self.actions)
        defer { server.stop() }
        _ = try await server.post(sample: "generic-disk.json")
        try await server.console("#1 CRITICAL")
        server.process.send("run tree")
        let result = try await server.console("#1 tree on web-1: timed out")
        let line = try await server.console("pgid=")
        let pgid = try #require(Int32(line.split(separator: "=").last ?? ""))
        #expect(result.contains("timed out after"))
        #expect(processesInGroup(pgid) == [], "processes left in group \(pgid)")
    }

    @Test func aWorkerKilledMidTaskIsReportedLostAndTheNextCommandRuns() async throws {
        let server = try await TeleOpsServer(extraYAML: Self.actions)
        defer { server.stop() }
        _ = try await server.post(sample: "generic-disk.json")
        try await server.console("#1 CRITICAL")
        server.process.send("run slow")
        try await server.process.stderr.waitFor(what: "the slow task to be dispatched") { $0.contains("dispatching") }

        // The worker running it is the parent of `sleep 25`; the workers are the server's children.
        let (worker, sleeper) = try await withDeadline(.seconds(10), what: "the worker running `sleep 25`") { () -> (Int32, Int32) in
            while true {
                for worker in allChildren(of: server.process.pid) {
                    if let sleeper = children(of: worker, running: ["sleep", "25"]).first { return (worker, sleeper) }
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { kill(sleeper, SIGKILL) }
        kill(worker, SIGKILL)
        try await server.console("#1 slow on web-1 was lost")

        server.process.send("run uptime")
        try await server.console("#1 uptime on web-1: exit 0")
        let json = try await server.cli(["scenarios", "show", "1", "--json"])
        #expect(json.contains("\"command_lost\""))
    }

    @Test func aConsoleOperatorWhoIsNotAnEngineerIsRefused() async throws {
        let server = try await TeleOpsServer(extraYAML: """
            console:
              operator: mallory
            engineers:
              - name: ana
                console: ana
            """)
        defer { server.stop() }
        _ = try await server.post(sample: "generic-disk.json")
        try await server.console("#1 CRITICAL")
        server.process.send("run disk")
        try await server.console("only engineers listed in the TeleOps configuration may issue commands")
        let json = try await server.cli(["scenarios", "show", "1", "--json"])
        #expect(json.contains("\"reply_refused\""))
        #expect(!json.contains("\"command_dispatched\""))
    }
}
