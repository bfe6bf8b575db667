import Foundation
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

@Suite struct ProcessExecutorTests {
    let executor = ProcessExecutor()

    init() { becomeSubreaper }

    func spec(_ argv: [String], timeout: Duration = .seconds(10), grace: Duration = .milliseconds(200),
              limit: Int = 65536, environment: [String: String] = ["PATH": "/usr/bin:/bin"],
              directory: String? = nil) -> ExecSpec {
        execSpec(argv, timeout: timeout, grace: grace, limit: limit, environment: environment, directory: directory)
    }

    /// The first line of output, which the commands below make `$$` (sh's pid, the group id).
    func firstLinePID(_ result: ExecResult) throws -> Int32 {
        let text = String(decoding: result.output, as: UTF8.self)
        return try #require(Int32(text.split(separator: "\n").first ?? ""), "output: \(text)")
    }

    @Test func echoExitsZeroWithItsOutput() async {
        let result = await executor.run(spec(["/bin/echo", "hi"]))
        #expect(result.exitCode == 0)
        #expect(result.signal == nil)
        #expect(!result.timedOut)
        #expect(result.output == Array("hi\n".utf8))
        #expect(!result.truncated)
        #expect(result.spawnError == nil)
    }

    @Test func stdoutAndStderrShareOnePipeInOrder() async {
        let result = await executor.run(spec(["sh", "-c", "echo one; echo two >&2; echo three"]))
        #expect(String(decoding: result.output, as: UTF8.self) == "one\ntwo\nthree\n")
    }

    @Test func nonzeroExit() async {
        let result = await executor.run(spec(["sh", "-c", "exit 3"]))
        #expect(result.exitCode == 3)
        #expect(result.signal == nil)
    }

    @Test func killedBySignal() async {
        let result = await executor.run(spec(["sh", "-c", "kill -9 $$"]))
        #expect(result.exitCode == nil)
        #expect(result.signal == SIGKILL)
        #expect(!result.timedOut)
    }

    @Test(arguments: ["/nonexistent/program", "no-such-program-teleops"])
    func spawnFailure(_ program: String) async throws {
        let result = await executor.run(spec([program, "x"]))
        let error = try #require(result.spawnError)
        #expect(error.contains(program))
        #expect(result.exitCode == 127)
        #expect(result.output.isEmpty)
    }

    @Test func timeoutKillsTheWholeGroupAndReapsIt() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let result = await executor.run(spec(["sh", "-c", "echo $$; sleep 100 & sleep 100"],
                                             timeout: .seconds(1), grace: .milliseconds(100)))
        #expect(clock.now - started < .seconds(30), "stopped long before the 100 s sleep ends")
        #expect(result.timedOut)
        #expect(result.exitCode == nil)
        #expect(result.signal == SIGTERM)
        let pgid = try firstLinePID(result)
        let left = processes(inGroup: pgid)
        #expect(left.isEmpty, "alive or zombie in group \(pgid): \(left)")
    }

    @Test func sigtermIgnoredMeansSigkillAfterGrace() async throws {
        // The timeout leaves time for `trap` to run on a loaded machine.
        let result = await executor.run(spec(["sh", "-c", "trap '' TERM; echo $$; sleep 100 & wait; wait"],
                                             timeout: .milliseconds(1500), grace: .milliseconds(200)))
        #expect(result.timedOut)
        #expect(result.signal == SIGKILL)
        #expect(result.duration >= .milliseconds(1700))
        let pgid = try firstLinePID(result)
        #expect(processes(inGroup: pgid).isEmpty)
    }

    @Test func stragglerAfterTheMainProcessExitsIsKilledAndNamed() async throws {
        let result = await executor.run(spec(["sh", "-c", "echo $$; sleep 100 & echo $!; echo hi"]))
        #expect(result.exitCode == 0)
        #expect(!result.timedOut)
        #expect(result.duration < .seconds(5))
        let lines = outputLines(result)
        let sleeper = try #require(lines.count == 4 ? lines[1] : nil, "output: \(lines)")
        #expect(lines[2] == "hi")
        // Named as the scan found it: `sleep`, or still `sh` when the scan came before its exec.
        let notice = "teleops: killed 1 leftover process(es) of this task, still running after it exited: "
        #expect(["sleep", "sh"].map { "\(notice)\($0)[\(sleeper)]" }.contains(lines[3]), "\(lines[3])")
        let pgid = try firstLinePID(result)
        let left = processes(inGroup: pgid)
        #expect(left.isEmpty, "alive or zombie in group \(pgid): \(left)")
    }

    @Test func outputFloodStaysWithinTheLimit() async {
        let result = await executor.run(spec(["yes"], timeout: .milliseconds(500), grace: .milliseconds(200),
                                             limit: 64 * 1024))
        #expect(result.timedOut)
        #expect(result.truncated)
        #expect(result.output.count == 64 * 1024)
        #expect(result.output.prefix(4) == [UInt8(ascii: "y"), 10, UInt8(ascii: "y"), 10])
    }

    @Test func environmentIsExactlyWhatWasPassedPlusTheMarker() async throws {
        let result = await executor.run(spec(["env"], environment: ["PATH": "/usr/bin:/bin", "ONLY": "this"]))
        let lines = outputLines(result).sorted()
        try #require(lines.count == 3, "output: \(lines)")
        #expect(Array(lines[0...1]) == ["ONLY=this", "PATH=/usr/bin:/bin"])
        #expect(lines[2].wholeMatch(of: /TELEOPS_TASK_TOKEN=[0-9a-f]{32}/) != nil, "\(lines[2])")
    }

    @Test func theMarkerIsNewForEveryRunAndReplacesAGivenOne() async {
        let environment = ["PATH": "/usr/bin:/bin", "TELEOPS_TASK_TOKEN": "forged"]
        let first = await executor.run(spec(["sh", "-c", "echo $TELEOPS_TASK_TOKEN"], environment: environment))
        let second = await executor.run(spec(["sh", "-c", "echo $TELEOPS_TASK_TOKEN"], environment: environment))
        #expect(outputLines(first).first?.count == 32)
        #expect(outputLines(first) != outputLines(second))
    }

    @Test func markerDigitsArePaddedLowercaseHex() {
        #expect(TaskMarker.hex(1, 0xabc) == "0000000000000001" + "0000000000000abc")
        #expect(TaskMarker.hex(.max) == "ffffffffffffffff")
    }

    @Test func defaultPathWhenNoneIsGiven() async {
        let result = await executor.run(spec(["env"], environment: [:]))
        let lines = outputLines(result)
        #expect(lines.first == "PATH=\(defaultPATH)")
        #expect(lines.count == 2 && lines[1].hasPrefix("TELEOPS_TASK_TOKEN="), "\(lines)")
    }

    @Test func workingDirectory() async {
        let result = await executor.run(spec(["pwd"], directory: "/tmp"))
        #expect(String(decoding: result.output, as: UTF8.self) == "/tmp\n")
    }

    @Test func stdinIsDevNull() async {
        let result = await executor.run(spec(["cat"], timeout: .seconds(5)))
        #expect(result.exitCode == 0)
        #expect(result.output.isEmpty)
    }

    @Test func cancellingTheCallerKillsTheGroup() async throws {
        let executor = self.executor
        let task = Task { await executor.run(spec(["sleep", "100"], timeout: .seconds(60), grace: .milliseconds(100))) }
        task.cancel()
        let result = try await withDeadline("cancelled run") { await task.value }
        #expect(result.signal == SIGTERM)
        #expect(!result.timedOut)
    }
}
