import Foundation
import Glibc
import Synchronization
import TeleOpsCore
import TeleOpsTesting
import Testing
@testable import TeleOpsDispatch

/// Output is handed over as it is read, on the executor's own thread, and never more than the
/// limit is kept, however much the command writes.
@Suite struct ExecutorOutputTests {
    let executor = ProcessExecutor()

    init() { becomeSubreaper }

    /// All the numbers 1…20000, one a line: 108894 bytes.
    static let numbers = Array((1...20000).map { "\($0)\n" }.joined().utf8)

    @Test(arguments: [200_000, 50_000, 1])
    func onOutputGetsExactlyTheKeptBytesInOrder(limit: Int) async {
        let recorder = OutputRecorder()
        let result = await executor.run(execSpec(["seq", "1", "20000"], limit: limit), onOutput: recorder.onOutput)
        #expect(result.exitCode == 0)
        #expect(result.output == Array(Self.numbers.prefix(limit)))
        #expect(recorder.bytes == result.output)
        #expect(result.truncated == (limit < Self.numbers.count))
        #expect(recorder.chunks.allSatisfy { !$0.isEmpty })
        #expect(recorder.threads == ["teleops-exec"])
    }

    @Test func outputArrivesWhileTheCommandRuns() async throws {
        let recorder = OutputRecorder()
        let executor = self.executor
        let run = Task {
            await executor.run(execSpec(["sh", "-c", "echo first; sleep 300"], timeout: .seconds(60)),
                               onOutput: recorder.onOutput)
        }
        try await eventually("the first line before the command ends", timeout: .seconds(10)) {
            recorder.text == "first\n"
        }
        run.cancel()
        let result = try await withDeadline("the cancelled run") { await run.value }
        #expect(result.output == Array("first\n".utf8))
    }

    @Test func theLeftoverNoticeIsStreamedToo() async {
        let recorder = OutputRecorder()
        let result = await executor.run(execSpec(["sh", "-c", "sleep 300 & printf x"], limit: 1),
                                        onOutput: recorder.onOutput)
        #expect(recorder.bytes == result.output)
        #expect(recorder.text.hasPrefix("x\nteleops: killed 1 leftover process(es)"), "\(recorder.text)")
    }

    /// Measured in a real `teleops worker` process (this test process runs other tests at the
    /// same time, whose memory would blur the figure): its resident memory while it runs `yes`
    /// for 3 s with a 64 KiB limit, against before.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: teleopsExecutable), "the teleops binary is not built"))
    func aFloodCostsBoundedMemory() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            let worker = try RunningProcess(executable: teleopsExecutable,
                                            arguments: ["worker", "--connect", endpoint, "--id", "flood", "--host", "*"])
            defer { worker.stop() }
            try await eventually("the worker registered", timeout: .seconds(20)) { broker.registeredWorkers().count == 1 }
            let before = residentBytes(of: worker.pid)
            let peak = Atomic<Int>(before)
            let sampling = Task {
                while !Task.isCancelled {
                    peak.fetchMax(residentBytes(of: worker.pid))
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            let outcome = await broker.dispatch(TaskRequest(action: "flood", host: "any", argv: ["yes"],
                                                            timeout: .seconds(3), outputLimit: 64 * 1024))
            sampling.cancel()
            _ = await sampling.value
            guard case .finished(let result) = outcome else {
                Issue.record("not finished: \(outcome)")
                return
            }
            #expect(result.timedOut)
            #expect(result.truncated)
            #expect(result.output.utf8.count == 64 * 1024)
            let growth = peak.load(ordering: .relaxed) - before
            #expect(before > 0)
            #expect(growth < 20 << 20, "the worker's resident memory grew by \(growth >> 10) KiB while `yes` ran for 3 s")
        }
    }
}

/// The `teleops` binary built next to the tests (`swift build --build-tests` builds it).
let teleopsExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    .appendingPathComponent("teleops").path

extension Atomic where Value == Int {
    /// Raises the value to `candidate` if that is larger; returns the previous value.
    @discardableResult
    func fetchMax(_ candidate: Int) -> Int {
        var current = load(ordering: .relaxed)
        while current < candidate {
            let (exchanged, original) = compareExchange(expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { return original }
            current = original
        }
        return current
    }
}
