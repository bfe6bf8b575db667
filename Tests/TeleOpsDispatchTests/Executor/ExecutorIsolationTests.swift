import CShims
import Foundation
import Glibc
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

let runningAsRoot = geteuid() == 0

/// What the child is given before exec: limits, user, directory; and clear errors when it
/// cannot be. Serialized: the user switches and the fork bomb share user nobody's process count.
@Suite(.serialized) struct ExecutorIsolationTests {
    let executor = ProcessExecutor()

    init() { becomeSubreaper }

    @Test func limitsAreVisibleInTheChild() async {
        let limits = ResourceLimits(cpuSeconds: 30, addressSpaceBytes: 1 << 30, openFiles: 100, processes: 200)
        let result = await executor.run(execSpec(
            ["sh", "-c", "ulimit -n; ulimit -c; ulimit -t; ulimit -v; ulimit -p; ulimit -Hn; ulimit -Ht; ulimit -Hc"],
            limits: limits))
        #expect(result.exitCode == 0)
        // -v in KiB; the CPU hard limit is one second above the soft one (SIGXCPU, then SIGKILL).
        #expect(outputLines(result) == ["100", "0", "30", "1048576", "200", "100", "31", "0"])
    }

    @Test func unsetLimitsAreLeftAsTheyAre() async {
        var ours = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &ours)
        let result = await executor.run(execSpec(["sh", "-c", "ulimit -n; ulimit -c"], limits: ResourceLimits()))
        #expect(outputLines(result) == ["\(ours.rlim_cur)", "0"], "core files are off even then")
    }

    /// Worker processes (LocalWorkerSupervisor) get no limits and no user switch.
    @Test func spawningWithoutLimitsChangesNoLimit() throws {
        var fds: [Int32] = [-1, -1]
        try #require(teleops_pipe_cloexec(&fds) == 0)
        defer { close(fds[0]) }
        let spawned = spawnInGroup(argv: ["sh", "-c", "ulimit -c; ulimit -n; id -u"], environment: [:],
                                   workingDirectory: nil, output: .pipe(writeEnd: fds[1]))
        close(fds[1])
        let pid = try spawned.get()
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let count = read(fds[0], &buffer, buffer.count), count > 0 { output += buffer[0..<count] }
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        var core = rlimit(), files = rlimit()
        getrlimit(Int32(RLIMIT_CORE.rawValue), &core)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        let coreText = core.rlim_cur == rlim_t.max ? "unlimited" : "\(core.rlim_cur)"
        #expect(String(decoding: output, as: UTF8.self) == "\(coreText)\n\(files.rlim_cur)\n\(geteuid())\n")
    }

    /// The child shares this process's memory until it execs: the limits, signal dispositions,
    /// directory and process group it sets up are its own, not this process's.
    @Test func aChildChangesNothingInThisProcess() async {
        let before = ProcessSettings()
        let result = await executor.run(execSpec(
            ["true"], directory: "/usr/share",
            limits: ResourceLimits(cpuSeconds: 30, addressSpaceBytes: 1 << 30, openFiles: 100, processes: 200)))
        #expect(result.exitCode == 0)
        #expect(result.spawnError == nil)
        #expect(ProcessSettings() == before)
    }

    @Test func cpuLimitStopsABusyLoop() async {
        let result = await executor.run(execSpec(["sh", "-c", "while :; do :; done"], timeout: .seconds(30),
                                                 limits: ResourceLimits(cpuSeconds: 1)))
        #expect(!result.timedOut)
        #expect(result.signal == SIGXCPU || result.signal == SIGKILL, "\(result)")
    }

    @Test(.enabled(if: resolveProgram("python3", searchPath: "/usr/bin:/bin") != nil, "python3 is not installed"))
    func addressSpaceLimitMakesABigAllocationFail() async {
        let result = await executor.run(execSpec(["python3", "-c", "bytearray(2 << 30)"],
                                                 limits: ResourceLimits(addressSpaceBytes: 512 << 20)))
        #expect(result.exitCode == 1, "\(result)")
        #expect(String(decoding: result.output, as: UTF8.self).contains("MemoryError"))
    }

    @Test func workingDirectory() async {
        let result = await executor.run(execSpec(["pwd"], directory: "/usr/share"))
        #expect(outputLines(result) == ["/usr/share"])
    }

    @Test func aMissingWorkingDirectoryIsASpawnError() async {
        let result = await executor.run(execSpec(["pwd"], directory: "/nope"))
        #expect(result.spawnError == "cannot chdir to '/nope': No such file or directory")
        #expect(result.exitCode == 126)
        #expect(result.output.isEmpty)
    }

    @Test func aProgramThatCannotBeRunIs126() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-not-executable-\(getpid())").path
        try #require(FileManager.default.createFile(atPath: path, contents: Data("echo hi\n".utf8),
                                                    attributes: [.posixPermissions: 0o644]))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = await executor.run(execSpec([path]))
        #expect(result.spawnError == "cannot start '\(path)': Permission denied (errno 13)")
        #expect(result.exitCode == 126)
    }

    @Test(arguments: [("no-such-user-teleops", nil), ("nobody", "no-such-group-teleops")] as [(String, String?)])
    func anUnknownUserOrGroupIsASpawnErrorNamingIt(user: String, group: String?) async throws {
        let result = await executor.run(execSpec(["id"], user: user, group: group))
        let error = try #require(result.spawnError)
        if let group {
            #expect(error == "unknown group '\(group)' (no group entry)")
        } else {
            #expect(error == "unknown user '\(user)' (no passwd entry)")
        }
        #expect(result.exitCode == 126)
    }

    /// `teleops worker --user/--group` is checked before the worker connects, not at each command.
    @Test func aWorkersDefaultUserIsCheckedUpFront() {
        func problem(_ user: String?, _ group: String?) -> String? {
            var options = WorkerOptions(connect: "tcp://127.0.0.1:1", workerID: "w")
            options.user = user
            options.group = group
            return options.identityProblem
        }
        #expect(problem(nil, nil) == nil)
        #expect(problem("no-such-user-teleops", nil) == "unknown user 'no-such-user-teleops' (no passwd entry)")
        #expect(problem("nobody", "no-such-group-teleops") == "unknown group 'no-such-group-teleops' (no group entry)")
        if runningAsRoot { #expect(problem("nobody", nil) == nil) }
    }

    // MARK: - As root

    @Test(.enabled(if: runningAsRoot, "switching users needs root"))
    func switchesToTheUserAndItsGroups() async {
        let result = await executor.run(execSpec(["sh", "-c", "id -u; id -g; id -G"], user: "nobody"))
        #expect(result.spawnError == nil)
        #expect(outputLines(result) == ["65534", "65534", "65534"])
    }

    @Test(.enabled(if: runningAsRoot, "switching users needs root"))
    func aGivenGroupReplacesThePrimaryGroup() async {
        let result = await executor.run(execSpec(["sh", "-c", "id -u; id -g"], user: "65534", group: "daemon"))
        #expect(outputLines(result) == ["65534", "1"])
    }

    @Test(.enabled(if: runningAsRoot, "switching users needs root"))
    func aGroupWithoutAUserIsRefused() async throws {
        let result = await executor.run(execSpec(["id"], group: "daemon"))
        let error = try #require(result.spawnError)
        #expect(error.hasPrefix("group 'daemon' given without a user"))
    }

    @Test(.enabled(if: runningAsRoot, "switching users needs root"))
    func theDirectoryIsEnteredAsTheNewUser() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-private-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = await executor.run(execSpec(["pwd"], directory: directory, user: "nobody"))
        #expect(result.spawnError == "cannot chdir to '\(directory)': Permission denied")
    }

    @Test(.enabled(if: runningAsRoot, "switching users needs root"))
    func aForkBombAsNobodyIsContainedAndReaped() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let result = await executor.run(execSpec(
            ["sh", "-c", "echo $$; f() { while :; do f & done; }; f & exec sleep 300"], timeout: .seconds(2), grace: .milliseconds(200),
            limit: 4096, limits: ResourceLimits(processes: 64), user: "nobody"))
        #expect(result.timedOut)
        #expect(clock.now - started < .seconds(10))
        let pgid = try #require(outputLines(result).first.flatMap { Int32($0) }, "\(outputLines(result))")
        let left = processes(inGroup: pgid)
        #expect(left.isEmpty, "alive or zombie in group \(pgid): \(left)")
        let nobodys = processesOf(uid: 65534)
        #expect(nobodys.isEmpty, "processes of nobody left: \(nobodys)")
        // And this process can still start processes.
        let after = await executor.run(execSpec(["true"]))
        #expect(after.exitCode == 0)
    }
}

/// What a child must not change in the process that starts it.
struct ProcessSettings: Equatable {
    var limits: [[UInt]]
    /// Handler (the union's bytes) and flags of every standard signal.
    var dispositions: [[UInt8]]
    var directory: String
    var group: pid_t

    init() {
        let resources = [RLIMIT_CPU, RLIMIT_AS, RLIMIT_NOFILE, __RLIMIT_NPROC, RLIMIT_CORE]
        limits = resources.map { resource in
            var limit = rlimit()
            getrlimit(Int32(resource.rawValue), &limit)
            return [UInt(limit.rlim_cur), UInt(limit.rlim_max)]
        }
        dispositions = (1..<32).map { (signal: Int32) in
            var action = sigaction()
            _ = sigaction(signal, nil, &action)
            return withUnsafeBytes(of: action.__sigaction_handler) { Array($0) } + withUnsafeBytes(of: action.sa_flags) { Array($0) }
        }
        directory = FileManager.default.currentDirectoryPath
        group = getpgrp()
    }
}

/// Pids of every process of `uid` (from /proc/PID/status, Uid line).
func processesOf(uid: uid_t) -> [Int32] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry in
        guard let pid = Int32(entry),
              let status = try? String(contentsOfFile: "/proc/\(entry)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
              line.split(separator: "\t").dropFirst().first.flatMap({ uid_t($0) }) == uid else { return nil }
        return pid
    }
}
