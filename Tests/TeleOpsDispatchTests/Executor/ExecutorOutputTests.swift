import Foundation
import Glibc
import Synchronization
import TeleOpsCore
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

    @Test func aFloodCostsBoundedMemory() async throws {
        let recorder = OutputRecorder()
        let before = residentBytes()
        let peak = Atomic<Int>(before)
        let sampling = Task {
            while !Task.isCancelled {
                let now = residentBytes()
                _ = peak.fetchMax(now)
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let result = await executor.run(execSpec(["yes"], timeout: .seconds(3), limit: 64 * 1024),
                                        onOutput: recorder.onOutput)
        sampling.cancel()
        _ = await sampling.value
        #expect(result.timedOut)
        #expect(result.truncated)
        #expect(result.output.count == 64 * 1024)
        #expect(recorder.bytes.count == 64 * 1024)
        let growth = peak.load(ordering: .relaxed) - before
        #expect(growth < 20 << 20, "resident memory grew by \(growth >> 20) MiB while `yes` ran for 3 s")
    }
}

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
