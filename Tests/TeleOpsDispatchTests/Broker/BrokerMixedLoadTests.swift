import Foundation
import Synchronization
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

/// A thousand tasks with every kind of ending through one broker, two in-process workers and a
/// real `teleops worker` process that is killed with SIGKILL while its tasks run.
@Suite(.timeLimit(.minutes(2))) struct BrokerMixedLoadTests {
    /// What a task should end as.
    enum Expected: Equatable, CustomStringConvertible {
        case exit(Int32), timedOut, cancelled, lost

        var description: String {
            switch self {
            case .exit(let code): "exit \(code)"
            case .timedOut: "timed out"
            case .cancelled: "cancelled"
            case .lost: "lost"
            }
        }

        func matches(_ outcome: TaskOutcome) -> Bool {
            switch (self, outcome) {
            case (.exit(let code), .finished(let result)):
                result.exitCode == code && !result.timedOut && !result.cancelled
            case (.timedOut, .finished(let result)): result.timedOut && !result.cancelled
            case (.cancelled, .finished(let result)): result.cancelled && !result.timedOut
            case (.lost, .lost(let worker, let reason)):
                worker == "doomed" && reason.contains("stopped answering heartbeats")
            default: false
            }
        }
    }

    /// The `teleops` binary built next to the tests.
    static let teleops: String = {
        let candidates = [
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
                .appendingPathComponent("teleops").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/teleops").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }()

    /// The command the doomed worker runs; distinctive, so its orphans can be found and reaped.
    static let doomedCommand = ["sleep", "31.7"]
    static let cancelledCommand = ["sleep", "32.3"]

    @Test func aThousandTasksWithMixedOutcomesEachComeBackOnceWithTheRightOutcome() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.teleops),
                     "no teleops binary at \(Self.teleops); run `swift build` first")
        defer { Self.reapOrphans() }
        // Long enough that a busy in-process worker is never taken for dead on a loaded machine.
        let heartbeatTimeout = Duration.seconds(2)
        try await withBroker(heartbeatInterval: .milliseconds(100), heartbeatTimeout: heartbeatTimeout,
                             maxQueued: 2000, agents: []) { broker, endpoint in
            // The doomed worker is a real process, started by the supervisor (so no one else reaps it);
            // its death is left for the heartbeats to notice, and it is not restarted.
            let supervisor = LocalWorkerSupervisor(
                executable: Self.teleops, count: 1, idPrefix: "doomed-process-",
                arguments: { _ in
                    [Self.teleops, "worker", "--connect", endpoint, "--id", "doomed", "--host", "doomed",
                     "--capacity", "10", "--heartbeat-interval-ms", "100", "--parent-pid", "\(getpid())",
                     "--log-level", "critical"]
                },
                onExit: { _, _ in }, backoff: .init(initial: .seconds(600)), stopGrace: .seconds(2),
                logger: testLogger("supervisor"))
            let web = (1...2).map { index in
                WorkerOptions(connect: endpoint, workerID: "web-\(index)", hosts: ["web"], capacity: 8,
                              heartbeatInterval: .milliseconds(100), killGrace: .milliseconds(100))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await supervisor.run() }
                defer { group.cancelAll() }
                try await withAgents(web, executor: ProcessExecutor(), registeredWith: broker) {
                    try await eventually("the doomed worker registered", timeout: .seconds(20)) {
                        broker.registeredWorkers().contains { $0.id == "doomed" }
                    }
                    try await Self.run(broker, doomedPID: { supervisor.workerPIDs().values.first },
                                       heartbeatTimeout: heartbeatTimeout)
                }
            }
        }
    }

    /// Dispatches the plan, kills the doomed worker mid-run, cancels the tasks meant to be
    /// cancelled once they run, and checks every outcome.
    static func run(_ broker: Broker, doomedPID: @Sendable () -> Int32?, heartbeatTimeout: Duration) async throws {
        var plan: [(TaskRequest, Expected)] = []
        func add(_ count: Int, _ argv: [String], host: String = "web", timeout: Duration = .seconds(20),
                 _ expected: Expected) {
            for index in 0..<count {
                plan.append((TaskRequest(taskID: "\(expected)-\(index)", action: "load", host: host, argv: argv,
                                         timeout: timeout, outputLimit: 1024), expected))
            }
        }
        add(10, doomedCommand, host: "doomed", timeout: .seconds(60), .lost)
        add(860, ["/bin/true"], .exit(0))
        add(100, ["/bin/false"], .exit(1))
        add(20, ["no-such-program-teleops"], .exit(127))
        add(5, ["sleep", "5"], timeout: .milliseconds(300), .timedOut)
        add(5, cancelledCommand, timeout: .seconds(60), .cancelled)
        #expect(plan.count == 1000)
        let expected = Dictionary(uniqueKeysWithValues: plan.map { ($0.0.taskID, $0.1) })
        var rest = Array(plan.dropFirst(10))
        var random = SeededRandom(seed: 5)
        rest.shuffle(using: &random)

        let clock = ContinuousClock()
        let outcomes = Mutex<[(id: String, outcome: TaskOutcome, at: ContinuousClock.Instant)]>([])
        let record: @Sendable (String, TaskOutcome) -> Void = { id, outcome in
            outcomes.withLock { $0.append((id, outcome, clock.now)) }
        }
        var tasks: [String: Task<Void, Never>] = [:]
        for (request, _) in plan.prefix(10) {
            tasks[request.taskID] = Task { record(request.taskID, await broker.dispatch(request)) }
        }
        try await eventually("the doomed worker runs its ten tasks", timeout: .seconds(10)) {
            broker.registeredWorkers().first { $0.id == "doomed" }?.inFlight == 10
        }
        for (request, _) in rest {
            tasks[request.taskID] = Task { record(request.taskID, await broker.dispatch(request)) }
        }
        try await eventually("a third of the tasks done", timeout: .seconds(30)) { outcomes.withLock { $0.count } >= 330 }
        let victim = try #require(doomedPID())
        kill(victim, SIGKILL)
        let killedAt = clock.now
        for (request, kind) in plan where kind == .cancelled {
            try await eventually("\(request.taskID) running", timeout: .seconds(30)) {
                broker.state.withLock { $0.pending[request.taskID]?.worker != nil }
            }
            tasks[request.taskID]?.cancel()
        }
        for task in tasks.values { await task.value }

        let all = outcomes.withLock { $0 }
        #expect(all.count == 1000)
        #expect(Set(all.map(\.id)).count == 1000, "a task came back twice")
        var wrong: [String] = []
        for entry in all {
            guard let kind = expected[entry.id], kind.matches(entry.outcome) else {
                wrong.append("\(entry.id): \(entry.outcome)")
                continue
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) wrong outcomes, e.g. \(wrong.prefix(5))")
        let lostAt = all.filter { expected[$0.id] == .lost }.map(\.at)
        let latest = try #require(lostAt.max())
        #expect(latest - killedAt < heartbeatTimeout + .seconds(2), "lost \(latest - killedAt) after the kill")
        let servedAfterTheKill = all.filter { $0.at > killedAt && expected[$0.id] != .lost }.count
        #expect(servedAfterTheKill > 0, "the other workers kept serving")
        #expect(broker.registeredWorkers().map(\.id) == ["web-1", "web-2"])
    }

    /// The doomed worker's commands outlive it (each leads its own group); SIGKILL and reap them.
    static func reapOrphans() {
        for pid in processes(running: doomedCommand) + processes(running: cancelledCommand) {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }
}
