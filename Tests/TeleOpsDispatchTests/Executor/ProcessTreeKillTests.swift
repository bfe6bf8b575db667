import Foundation
import Glibc
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

/// Every process a command starts is gone when its run returns, however it tried to get away:
/// background children, double-forked daemons, `setsid`, a cleared environment. Each command
/// prints its token, then the pids it leaves behind; "gone" means no process carries the token
/// and none of those pids is still there, alive or as a zombie.
@Suite struct ProcessTreeKillTests {
    let executor = ProcessExecutor()

    init() { becomeSubreaper }

    /// Commands that leave processes behind and then wait (so that the timeout ends them).
    static let escapes = [
        // Background children.
        "sleep 300 & echo $!; sleep 300 & echo $!; sleep 300",
        // A double-forked daemon (its parent exits at once; it stays in the group).
        "(sleep 300 & echo $!); sleep 300",
        // A setsid escapee.
        "setsid sleep 300 & echo $!; sleep 300",
        // A setsid daemon whose parent is gone: found by the marker only.
        "(setsid sleep 300 & echo $!); sleep 300",
        // No marker in its environment and a session of its own: found as a child of the main process.
        "env -i setsid /bin/sleep 300 & echo $!; sleep 300",
        // No marker and its parent gone, but still in the task's process group: found by the group.
        "(env -i /bin/sleep 300 & echo $!); sleep 300",
        // No marker and a process group of its own: found as a child of the main process. (With
        // its parent gone as well, only a worker that claims orphans finds it: WorkerOrphanTests.)
        "env -i perl -e 'setpgrp(0, 0); exec \"/bin/sleep\", \"300\"' & echo $!; sleep 300",
    ]

    @Test(arguments: escapes)
    func goneAfterTheTimeout(_ script: String) async throws {
        // Long enough for the script to start everything on a loaded machine.
        let result = await executor.run(execSpec(["sh", "-c", "echo $TELEOPS_TASK_TOKEN; " + script],
                                                 timeout: .seconds(2)))
        #expect(result.timedOut)
        #expect(result.signal == SIGTERM)
        let report = try TreeReport(result)
        #expect(!report.pids.isEmpty)
        #expect(report.leftovers.isEmpty, "\(report.leftovers)")
    }

    @Test(arguments: escapes)
    func goneAfterCancellation(_ script: String) async throws {
        let recorder = OutputRecorder()
        let executor = self.executor
        let spec = execSpec(["sh", "-c", "echo $TELEOPS_TASK_TOKEN; " + script + "; echo unreachable"],
                            timeout: .seconds(60))
        let run = Task { await executor.run(spec, onOutput: recorder.onOutput) }
        let expectedLines = script.components(separatedBy: "echo $!").count  // token + one per pid
        try await eventually("the pids on the output", timeout: .seconds(10)) {
            recorder.text.split(separator: "\n").count >= expectedLines
        }
        run.cancel()
        let result = try await withDeadline("the cancelled run") { await run.value }
        #expect(!result.timedOut)
        #expect(result.signal == SIGTERM)
        let report = try TreeReport(result)
        #expect(report.pids.count == expectedLines - 1)
        #expect(report.leftovers.isEmpty, "\(report.leftovers)")
    }

    @Test func aDaemonLeftWhenTheCommandExitsIsKilledAndNamedInTheOutput() async throws {
        // Its own session, and its parent (the subshell) exits at once: only the marker finds it.
        let result = await executor.run(execSpec(
            ["sh", "-c", "echo $TELEOPS_TASK_TOKEN; (setsid sleep 300 & echo $!); echo done"]))
        #expect(result.exitCode == 0)
        #expect(result.duration < .seconds(5))
        let report = try TreeReport(result)
        let daemon = try #require(report.pids.first)
        // Named as it was when killed: `sleep`, or still `sh`/`setsid` if it had not exec'd yet.
        let notice = try #require(outputLines(result).last)
        #expect(notice.hasPrefix("teleops: killed 1 leftover process(es) of this task, still running after it exited: "))
        #expect(notice.hasSuffix("[\(daemon)]"), "\(notice)")
        #expect(report.leftovers.isEmpty, "\(report.leftovers)")
    }

    @Test func aLeftoverAboutToSetsidAfterTheCommandExitsIsKilled() async throws {
        // The main process exits at once; its background subshell would setsid a moment later.
        let result = await executor.run(execSpec(
            ["sh", "-c", "echo $TELEOPS_TASK_TOKEN; (sleep 0.3; exec setsid sleep 300) & echo $!"]))
        #expect(result.exitCode == 0)
        let report = try TreeReport(result)
        // The subshell, and its `sleep 0.3` when it had started it already.
        let notice = try #require(outputLines(result).last)
        #expect(notice.wholeMatch(of: /teleops: killed [12] leftover process\(es\) of this task, .*/) != nil, "\(notice)")
        #expect(report.leftovers.isEmpty, "\(report.leftovers)")
    }

    @Test func leftoversThatIgnoreSigtermGetSigkillAfterTheGrace() async throws {
        // The command exits only once the subshell ignores SIGTERM and has started its daemon
        // (it says so through a fifo), so the SIGTERM cannot come first.
        let script = "echo $TELEOPS_TASK_TOKEN; f=$(mktemp -u); mkfifo $f; "
            + "(trap '' TERM; setsid sleep 300 & echo $!; echo > $f; exec sleep 301) & echo $!; read _ < $f; rm $f"
        let result = await executor.run(execSpec(["sh", "-c", script], grace: .milliseconds(300)))
        #expect(result.exitCode == 0)
        #expect(result.duration < .seconds(5))
        let report = try TreeReport(result)
        #expect(report.pids.count == 2)
        #expect(report.leftovers.isEmpty, "\(report.leftovers)")
    }

    /// The shortcut that spares a scan when a command exits by itself (`TaskTree`): an orphan
    /// of a process this one started, whatever thread started it, is on the main thread's list.
    @Test func anOrphanIsAChildOfTheMainThread() async throws {
        var proc = ProcReader()
        // Started from a thread of the pool, not the main thread; `sh` exits, `sleep` is orphaned.
        // Its pid comes back in a file: a pipe would stay open in `sleep` until it ends.
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("orphan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        let sleeper = try await Task.detached { () -> pid_t in
            let script = "sleep 30 </dev/null >/dev/null 2>&1 & echo $! > '\(pidFile.path)'"
            let words: [String] = ["/bin/sh", "-c", script]
            let argv: [UnsafeMutablePointer<CChar>?] = words.map { word in strdup(word) } + [nil]
            defer { argv.forEach { free($0) } }
            var shell: pid_t = 0
            try #require(posix_spawn(&shell, "/bin/sh", nil, nil, argv, environ) == 0)
            var status: Int32 = 0
            _ = waitpid(shell, &status, 0)
            let text = try String(contentsOf: pidFile, encoding: .utf8)
            return try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }.value
        defer {
            kill(sleeper, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(sleeper, &status, 0)
        }
        let listed = try String(contentsOfFile: "/proc/self/task/\(getpid())/children", encoding: .utf8)
        #expect(listed.split(separator: " ").contains("\(sleeper)"), "\(listed)")
        #expect(proc.mainThreadHasChildren() == true)
        #expect(proc.stat(sleeper)?.parent == getpid())
    }

    @Test func nothingLeftMeansNoNotice() async {
        let result = await executor.run(execSpec(["sh", "-c", "sleep 0 & wait; echo ok"]))
        #expect(result.exitCode == 0)
        #expect(outputLines(result) == ["ok"])
    }

    /// Each run reaps only its own processes: one that leaves a child behind and one that
    /// exits with a known status a moment later, together, many times.
    @Test func concurrentRunsDoNotTakeEachOthersChildren() async throws {
        let executor = self.executor
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<6 {
                group.addTask {
                    let messy = await executor.run(execSpec(
                        ["sh", "-c", "echo $TELEOPS_TASK_TOKEN; sleep 300 & echo $!; (sleep 300 &); exit 4"]))
                    #expect(messy.exitCode == 4, "messy run \(index): \(messy)")
                    let report = try TreeReport(messy)
                    #expect(report.leftovers.isEmpty, "\(report.leftovers)")
                }
                group.addTask {
                    let tidy = await executor.run(execSpec(["sh", "-c", "sleep 0.2; exit 7"]))
                    #expect(tidy.exitCode == 7, "tidy run \(index): \(tidy)")
                }
            }
            try await group.waitForAll()
        }
    }
}
