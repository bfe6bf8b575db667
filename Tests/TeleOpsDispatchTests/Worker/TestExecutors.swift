import Foundation
import Synchronization
import TeleOpsCore
@testable import TeleOpsDispatch

/// Executors written for tests: they play the `Executor` contract (kept output handed to
/// `onOutput` in order, at most `outputLimit` bytes; cancellation ends the run) without a process,
/// so the agent's streaming and bookkeeping can be checked exactly.

/// Writes `pieces` one after the other, waiting each piece's delay first, then exits 0 with the
/// kept output. Stops early (signal 15) when cancelled. With `honoursLimit` false it breaks the
/// contract and hands every byte to `onOutput`, to show the agent still streams no more than the limit.
struct ScriptedExecutor: Executor {
    var pieces: [(delay: Duration, bytes: [UInt8])]
    var honoursLimit = true

    init(_ pieces: [(delay: Duration, bytes: [UInt8])], honoursLimit: Bool = true) {
        self.pieces = pieces
        self.honoursLimit = honoursLimit
    }

    func run(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?) async -> ExecResult {
        var kept: [UInt8] = []
        var total = 0
        for piece in pieces {
            if piece.delay > .zero {
                do { try await Task.sleep(for: piece.delay) } catch {
                    return ExecResult(exitCode: nil, signal: SIGTERM, timedOut: false, duration: .zero, output: kept,
                                      truncated: total > spec.outputLimit)
                }
            }
            let room = spec.outputLimit - kept.count
            let keep = Array(piece.bytes.prefix(max(0, room)))
            total += piece.bytes.count
            kept += keep
            if honoursLimit { if !keep.isEmpty { onOutput?(keep) } } else { onOutput?(piece.bytes) }
        }
        return ExecResult(exitCode: 0, signal: nil, timedOut: false, duration: .milliseconds(1), output: kept,
                          truncated: total > spec.outputLimit)
    }
}

/// Remembers every spec it is given and exits 0 at once.
final class RecordingExecutor: Executor {
    let specs = Mutex<[ExecSpec]>([])

    func run(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?) async -> ExecResult {
        specs.withLock { $0.append(spec) }
        return ExecResult(exitCode: 0, signal: nil, timedOut: false, duration: .zero, output: [], truncated: false)
    }
}

/// Writes one line, then waits until cancelled (like `echo started; sleep 300`), then reports
/// SIGTERM as an executor does after killing the group.
struct WaitForCancelExecutor: Executor {
    func run(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?) async -> ExecResult {
        onOutput?(Array("started\n".utf8))
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(60)) }
        return ExecResult(exitCode: nil, signal: SIGTERM, timedOut: false, duration: .milliseconds(5),
                          output: Array("started\n".utf8), truncated: false)
    }
}

/// Runs a `WorkerAgent` with `executor` against `broker` while `body` runs.
func withAgent(
    _ options: WorkerOptions, executor: any Executor, registeredWith broker: Broker,
    _ body: @escaping @Sendable () async throws -> Void
) async throws {
    try await withAgents([options], executor: executor, registeredWith: broker, body)
}

/// Runs a `WorkerAgent` with `executor` for each of `options` against `broker` while `body` runs.
func withAgents(
    _ options: [WorkerOptions], executor: any Executor, registeredWith broker: Broker,
    _ body: @escaping @Sendable () async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for options in options {
            let agent = WorkerAgent(options: options, executor: executor, logger: testLogger("agent-\(options.workerID)"))
            group.addTask { try await agent.run() }
        }
        let ids = Set(options.map(\.workerID))
        try await eventually("workers \(ids.sorted()) registered") {
            ids.isSubset(of: broker.registeredWorkers().map(\.id))
        }
        try await body()
        group.cancelAll()
        try await group.waitForAll()
    }
}

/// Processes whose command line is exactly `argv`, from /proc/*/cmdline (a zombie has none, so it is not listed).
func processes(running argv: [String]) -> [Int32] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    let wanted = Array(argv.joined(separator: "\0").utf8) + [0]
    return entries.compactMap { entry in
        guard let pid = Int32(entry),
              let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
        return Array(cmdline) == wanted ? pid : nil
    }
}

/// Collects what a dispatch's `progress` handler is given.
final class ProgressLog: Sendable {
    private let chunks = Mutex<[TaskOutput]>([])

    var handler: @Sendable (TaskOutput) -> Void { { chunk in self.chunks.withLock { $0.append(chunk) } } }
    var all: [TaskOutput] { chunks.withLock { $0 } }
    var text: String { all.map(\.data).joined() }
}
