import Foundation
import Glibc
import Synchronization
import TeleOpsCore
import TeleOpsTesting
import Testing
@testable import TeleOpsDispatch

/// The registry that attributes orphans to runs by start time (`TaskOrphans`), alone: no
/// process is signalled here.
@Suite struct TaskOrphansRegistryTests {
    func registry() -> TaskOrphans {
        let registry = TaskOrphans()
        registry.enableForTesting()
        return registry
    }

    @Test func offUnlessEnabled() {
        #expect(TaskOrphans().begin(now: 100) == nil)
    }

    @Test func theOnlyRunThatCoversItTakesIt() throws {
        let registry = registry()
        let run = try #require(registry.begin(now: 100))
        let orphan = TaskOrphans.Orphan(pid: 4242, startTime: 150)
        #expect(registry.claim(orphan, by: run, runStart: 100) == .take(named: true))
        // Started before this run's main process: not its own.
        #expect(registry.claim(TaskOrphans.Orphan(pid: 4243, startTime: 90), by: run, runStart: 100) == .notOurs)
        #expect(registry.end(run).isEmpty)
        #expect(registry.runningCount == 0)
    }

    @Test func aRunThatStartedLaterDoesNotHoldItBack() throws {
        let registry = registry()
        let first = try #require(registry.begin(now: 100))
        let later = try #require(registry.begin(now: 200))
        let orphan = TaskOrphans.Orphan(pid: 4242, startTime: 150)
        #expect(registry.claim(orphan, by: first, runStart: 100) == .take(named: true))
        #expect(registry.claim(orphan, by: later, runStart: 200) == .notOurs)
        _ = registry.end(first)
        _ = registry.end(later)
    }

    @Test func anotherRunningRunThatCouldOwnItDefersIt() throws {
        let registry = registry()
        let earlier = try #require(registry.begin(now: 100))
        let ending = try #require(registry.begin(now: 120))
        let orphan = TaskOrphans.Orphan(pid: 4242, startTime: 150)
        #expect(registry.claim(orphan, by: ending, runStart: 120) == .deferred)
        #expect(registry.deferred == [orphan])
        #expect(registry.end(ending).isEmpty, "the earlier run may still own it")
        // The earlier run's own scan takes it when it stops ...
        #expect(registry.claim(orphan, by: earlier, runStart: 100) == .take(named: true))
        #expect(registry.deferred.isEmpty)
        #expect(registry.end(earlier).isEmpty)
    }

    @Test func theLastRunThatCouldOwnItIsHandedIt() throws {
        let registry = registry()
        let first = try #require(registry.begin(now: 100))
        let second = try #require(registry.begin(now: 110))
        let orphan = TaskOrphans.Orphan(pid: 4242, startTime: 150)
        // Both stop at once: each sees the other still running.
        #expect(registry.claim(orphan, by: first, runStart: 100) == .deferred)
        #expect(registry.claim(orphan, by: second, runStart: 110) == .deferred)
        #expect(registry.deferred == [orphan])
        #expect(registry.end(first).isEmpty)
        #expect(registry.end(second) == [orphan])
        #expect(registry.deferred.isEmpty)
    }

    @Test func aDeferredOrphanLeftWithoutAnOwnerGoesToTheNextRunThatEnds() throws {
        let registry = registry()
        let spawning = try #require(registry.begin(now: 140))  // its command never starts
        let ending = try #require(registry.begin(now: 100))
        let orphan = TaskOrphans.Orphan(pid: 4242, startTime: 150)
        #expect(registry.claim(orphan, by: ending, runStart: 100) == .deferred)
        #expect(registry.end(ending).isEmpty)
        registry.withdraw(spawning)
        #expect(registry.deferred == [orphan], "not forgotten")
        let next = try #require(registry.begin(now: 300))
        // Its scan may take it (not named: it started before this task) ...
        #expect(registry.claim(orphan, by: next, runStart: 300) == .take(named: false))
        #expect(registry.deferred.isEmpty)
        #expect(registry.end(next).isEmpty)
    }

    @Test func aDeferredOrphanIsHandedOverAtTheEndEvenIfNoScanTookIt() throws {
        let registry = registry()
        let spawning = try #require(registry.begin(now: 140))
        let ending = try #require(registry.begin(now: 100))
        let orphan = TaskOrphans.Orphan(pid: 4242, startTime: 150)
        #expect(registry.claim(orphan, by: ending, runStart: 100) == .deferred)
        #expect(registry.end(ending).isEmpty)
        #expect(registry.end(spawning) == [orphan])
    }

    @Test func aWindowOpensNoLaterThanItsMainProcessStarted() throws {
        let registry = registry()
        let run = try #require(registry.begin(now: 200))
        registry.started(run, mainStart: 150)  // cannot happen with CLOCK_BOOTTIME; guarded anyway
        let ending = try #require(registry.begin(now: 100))
        #expect(registry.claim(TaskOrphans.Orphan(pid: 4242, startTime: 160), by: ending, runStart: 100) == .deferred)
        _ = registry.end(run)
        _ = registry.end(ending)
    }

    @Test func theDeferredListIsBounded() throws {
        let registry = registry()
        let holder = try #require(registry.begin(now: 100))
        let ending = try #require(registry.begin(now: 110))
        // Pids far above pid_max: gone, so they are pruned to make room.
        for index in 0..<TaskOrphans.deferredLimit {
            let orphan = TaskOrphans.Orphan(pid: 900_000_000 + pid_t(index), startTime: 200)
            #expect(registry.claim(orphan, by: ending, runStart: 110) == .deferred)
        }
        #expect(registry.deferred.count == TaskOrphans.deferredLimit)
        let one = TaskOrphans.Orphan(pid: 899_999_999, startTime: 200)
        #expect(registry.claim(one, by: ending, runStart: 110) == .deferred)
        #expect(registry.deferred == [one])
        _ = registry.end(ending)
        _ = registry.end(holder)
    }

    @Test func ticksAreThoseOfProcStartTimes() throws {
        var proc = ProcReader()
        let before = TaskOrphans.ticksNow()
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        try #require(posix_spawn(&pid, "/bin/true", nil, nil, argv, environ) == 0)
        let started = proc.stat(pid)?.startTime
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        let after = TaskOrphans.ticksNow()
        let startTime = try #require(started)
        #expect(before <= startTime && startTime <= after, "\(before) ≤ \(startTime) ≤ \(after)")
    }

    /// `ProcessRun` takes the tick read before and after a spawn, when they agree, for the main
    /// process's start time instead of reading it from /proc.
    @Test func aSpawnWithinOneTickStartedInThatTick() throws {
        var proc = ProcReader()
        var agreed = 0
        for _ in 0..<20 {
            let before = TaskOrphans.ticksNow()
            let spawned = spawnInGroup(argv: ["/bin/true"], environment: [:], workingDirectory: nil, output: .inherit)
            let after = TaskOrphans.ticksNow()
            guard case .success(let pid) = spawned else {
                Issue.record("spawn failed: \(spawned)")
                return
            }
            let started = proc.stat(pid)?.startTime
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
            guard before == after else { continue }
            agreed += 1
            #expect(started == before)
        }
        #expect(agreed > 0, "no spawn of 20 within one tick")
    }

    @Test func theTestProcessNeverOptsIn() {
        // Other suites start child processes here; orphans of those are nobody's task's.
        #expect(!TaskOrphans.shared.isEnabled)
    }
}

/// A command's process that clears its environment (no marker), calls `setsid` or `setpgid`
/// (leaves the task's process group) from a subshell that exits at once (no parent link) is still
/// stopped by a real `teleops worker`, which attributes the orphans given to it by their start time
/// (docs/isolation.md, "Orphans that nothing ties to a task"). Only `teleops worker` opts in,
/// so these run it as a process of its own.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: teleopsExecutable), "the teleops binary is not built"))
struct WorkerOrphanTests {
    /// Prints the task's token, starts the escapee and prints its pid, and waits (for up to
    /// 20 s on a loaded machine) until it runs `sleep`, environment cleared, before it says
    /// "ready": from then on nothing but its start time ties it to the task.
    static func escapee(_ program: String = "sleep 300", leaving: String = "setsid") -> String {
        "echo $TELEOPS_TASK_TOKEN; p=$( (env -i \(leaving) \(program) >/dev/null 2>&1 & echo $!) ); echo $p; "
            + "i=0; until grep -qx sleep /proc/$p/comm 2>/dev/null; do i=$((i+1)); [ $i -gt 400 ] && break; sleep 0.05; done; "
            + "echo ready"
    }

    /// The escapees this test saw, to clean up after a failure.
    let escapees = Collector<pid_t>()

    /// Runs a broker in this process and `teleops worker` as a process of its own. Afterwards
    /// (when the test failed), an escapee still there is killed, and reaped once it is ours.
    func withWorker(_ body: @escaping @Sendable (Broker, RunningProcess) async throws -> Void) async throws {
        let escapees = self.escapees
        try await withBroker(agents: []) { broker, endpoint in
            let worker = try RunningProcess(executable: teleopsExecutable,
                                            arguments: ["worker", "--connect", endpoint, "--id", "orphans", "--host", "*"])
            defer {
                for pid in escapees.all where Self.leftover(pid, of: worker) != nil { kill(pid, SIGKILL) }
                worker.stop()
            }
            try await eventually("the worker registered", timeout: .seconds(30)) { broker.registeredWorkers().count == 1 }
            #expect(!worker.stderr.all.contains { $0.contains("cannot attribute orphans") }, "\(worker.stderr.all)")
            try await body(broker, worker)
        }
        // A zombie the killed worker left to this process (a subreaper in these tests).
        try? await Task.sleep(for: .milliseconds(100))
        for pid in escapees.all where procStat(pid)?.parent == getpid() {
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
    }

    static func task(_ script: String, timeout: Duration = .seconds(60)) -> TaskRequest {
        TaskRequest(taskID: UUID().uuidString, action: "escape", host: "any", argv: ["sh", "-c", script],
                    timeout: timeout, outputLimit: 65536)
    }

    /// The escapee's pid (second line) and that the script got to "ready".
    func escapeePID(_ result: TaskResult) throws -> pid_t {
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("ready"), "\(result.output)")
        let second = lines.dropFirst().first.flatMap { pid_t($0) }
        let pid = try #require(second, "\(result.output)")
        escapees.append(pid)
        return pid
    }

    /// What is left of `pid` as a child of the worker (alive or a zombie), nil when nothing.
    static func leftover(_ pid: pid_t, of worker: RunningProcess) -> String? {
        guard let stat = procStat(pid), stat.parent == worker.pid else { return nil }
        return "pid \(pid) (\(stat.name)) is still a child of the worker, in state \(stat.state)"
    }

    static func finished(_ outcome: TaskOutcome) throws -> TaskResult {
        guard case .finished(let result) = outcome else { throw UnexpectedOutcome(outcome: outcome) }
        return result
    }

    struct UnexpectedOutcome: Error { var outcome: TaskOutcome }

    @Test func anEscapeeIsStoppedWhenTheCommandExitsAndNamed() async throws {
        try await withWorker { [self] broker, worker in
            let result = try Self.finished(await broker.dispatch(Self.task(Self.escapee() + "; exit 0")))
            #expect(result.exitCode == 0)
            let escapee = try escapeePID(result)
            let notice = try #require(result.output.split(separator: "\n").last.map(String.init))
            #expect(notice == "teleops: killed 1 leftover process(es) of this task, still running after it exited: sleep[\(escapee)]",
                    "\(result.output)")
            #expect(Self.leftover(escapee, of: worker) == nil)
        }
    }

    @Test func anEscapeeIsStoppedAtTheTimeout() async throws {
        try await withWorker { [self] broker, worker in
            // Long enough for the escapee to get ready on a loaded machine.
            let result = try Self.finished(await broker.dispatch(Self.task(Self.escapee() + "; sleep 300", timeout: .seconds(15))))
            #expect(result.timedOut)
            let escapee = try escapeePID(result)
            #expect(Self.leftover(escapee, of: worker) == nil)
        }
    }

    @Test func anEscapeeInAProcessGroupOfItsOwnIsStoppedAtTheTimeout() async throws {
        try await withWorker { [self] broker, worker in
            // setpgid instead of setsid: it stays in the worker's session, where the scans read
            // every process, but nothing there ties it to the task either.
            let script = Self.escapee("/bin/sleep 300", leaving: "perl -e 'setpgrp(0, 0); exec @ARGV'") + "; sleep 300"
            let result = try Self.finished(await broker.dispatch(Self.task(script, timeout: .seconds(15))))
            #expect(result.timedOut)
            let escapee = try escapeePID(result)
            #expect(Self.leftover(escapee, of: worker) == nil)
        }
    }

    @Test func anEscapeeIsStoppedWhenTheTaskIsCancelled() async throws {
        try await withWorker { [self] broker, worker in
            let output = Mutex("")
            let request = Self.task(Self.escapee() + "; sleep 300")
            let run = Task { await broker.dispatch(request) { chunk in output.withLock { $0 += chunk.data } } }
            try await eventually("the escapee ready", timeout: .seconds(40)) {
                output.withLock { $0.contains("ready\n") }
            }
            run.cancel()
            let result = try Self.finished(try await withDeadline("the cancelled task", .seconds(30)) { await run.value })
            #expect(result.cancelled)
            let escapee = try escapeePID(result)
            #expect(Self.leftover(escapee, of: worker) == nil)
        }
    }

    @Test func anEscapeeThatExitedIsNotLeftAZombie() async throws {
        try await withWorker { [self] broker, worker in
            // The escapee exits after a second, while the task still runs: a zombie of the worker.
            let script = Self.escapee("sleep 1") + "; "
                + "i=0; until [ \"$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)\" = Z ]; do i=$((i+1)); [ $i -gt 400 ] && break; sleep 0.05; done; "
                + "echo exited"
            let result = try Self.finished(await broker.dispatch(Self.task(script)))
            #expect(result.exitCode == 0)
            #expect(result.output.contains("exited\n"), "\(result.output)")
            let escapee = try escapeePID(result)
            #expect(Self.leftover(escapee, of: worker) == nil)
            #expect(!result.output.contains("teleops: killed"), "a zombie is reaped, not counted as killed")
        }
    }

    /// A worker that has a child already when it starts (a shell's job, exec'd into the
    /// worker) would be given that child's orphans too: it does not attribute orphans, says so,
    /// and leaves the child alone.
    @Test func aWorkerWithAChildAtStartDoesNotOptIn() async throws {
        let escapees = self.escapees
        try await withBroker(agents: []) { broker, endpoint in
            let worker = try RunningProcess(
                executable: "/bin/sh",
                arguments: ["-c", "sleep 120 </dev/null >/dev/null 2>&1 & echo $!; exec '\(teleopsExecutable)' worker --connect '\(endpoint)' --id with-child --host '*'"])
            let firstLine = try await worker.stdout.waitFor(what: "the child's pid") { _ in true }
            let child = try #require(pid_t(firstLine))
            escapees.append(child)
            defer {
                if procStat(child)?.parent == worker.pid { kill(child, SIGKILL) }
                worker.stop()
            }
            _ = try await worker.stderr.waitFor(what: "the warning", timeout: .seconds(30)) {
                $0.contains("cannot attribute orphans to tasks")
            }
            try await eventually("the worker registered", timeout: .seconds(30)) { broker.registeredWorkers().count == 1 }
            let result = try Self.finished(await broker.dispatch(Self.task("echo ok")))
            #expect(result.output == "ok\n")
            let stat = try #require(procStat(child))
            #expect(stat.parent == worker.pid && stat.state != "Z", "\(stat)")
        }
        // The child, killed, was left to this process (a subreaper in these tests) with the worker.
        try await Task.sleep(for: .milliseconds(100))
        for pid in escapees.all where procStat(pid)?.parent == getpid() {
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
    }

    /// An escapee of a task that is over is left alone while a task that started before it,
    /// and so could own it, still runs; it is stopped (and named) when that one ends.
    @Test func anEscapeeWaitsForTheLastTaskThatCouldOwnIt() async throws {
        try await withWorker { [self] broker, worker in
            let flag = FileManager.default.temporaryDirectory.appendingPathComponent("release-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: flag) }
            let output = Mutex("")
            let holder = Self.task("echo waiting; i=0; until [ -e '\(flag)' ]; do i=$((i+1)); [ $i -gt 1200 ] && break; sleep 0.1; done; echo released",
                                   timeout: .seconds(150))
            let holding = Task { await broker.dispatch(holder) { chunk in output.withLock { $0 += chunk.data } } }
            try await eventually("the holding task running", timeout: .seconds(30)) {
                output.withLock { $0.contains("waiting\n") }
            }

            let first = try Self.finished(await broker.dispatch(Self.task(Self.escapee() + "; exit 0")))
            #expect(first.exitCode == 0)
            let escapee = try escapeePID(first)
            #expect(!first.output.contains("teleops: killed"), "\(first.output)")
            // Still running, as a child of the worker, a while later.
            try await Task.sleep(for: .seconds(1))
            let alive = try #require(procStat(escapee))
            #expect(alive.parent == worker.pid && alive.state != "Z", "\(alive)")

            _ = FileManager.default.createFile(atPath: flag, contents: nil)
            let second = try Self.finished(try await withDeadline("the holding task", .seconds(60)) { await holding.value })
            #expect(second.exitCode == 0)
            #expect(second.output.contains("released\n"))
            let notice = try #require(second.output.split(separator: "\n").last.map(String.init))
            #expect(notice == "teleops: killed 1 leftover process(es) of this task, still running after it exited: sleep[\(escapee)]",
                    "\(second.output)")
            #expect(Self.leftover(escapee, of: worker) == nil)
        }
    }
}
