import Foundation
import ServiceLifecycle
import Synchronization
import Testing
@testable import TeleOpsDispatch

@Suite(.timeLimit(.minutes(1))) struct LocalWorkerSupervisorTests {
    @Test func restartsAWorkerThatDiesAndReportsIt() async throws {
        let exits = Mutex<[(String, String)]>([])
        let supervisor = LocalWorkerSupervisor(
            executable: "/bin/sleep", count: 2, arguments: { _ in ["sleep", "1000"] },
            onExit: { id, reason in exits.withLock { $0.append((id, reason)) } },
            backoff: .init(initial: .milliseconds(10)), stopGrace: .seconds(2), logger: testLogger("supervisor"))
        let group = ServiceGroup(configuration: .init(services: [supervisor], logger: testLogger("group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually("two workers running") { supervisor.workerPIDs().count == 2 }
            let before = supervisor.workerPIDs()
            let victim = try #require(before["local-1"])
            #expect(getpgid(victim) == victim, "each worker leads its own process group")
            kill(victim, SIGKILL)
            try await eventually("local-1 restarted") {
                if let pid = supervisor.workerPIDs()["local-1"] { return pid != victim }
                return false
            }
            #expect(exits.withLock { $0.map(\.0) } == ["local-1"])
            #expect(exits.withLock { $0.first?.1 } == "killed by signal 9")
            #expect(supervisor.workerPIDs()["local-2"] == before["local-2"])
            let running = Array(supervisor.workerPIDs().values)

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            #expect(supervisor.workerPIDs().isEmpty)
            for pid in running { #expect(!isAlive(pid) && kill(pid, 0) != 0, "pid \(pid) still exists") }
            #expect(exits.withLock { $0.count } == 1, "stopping is not reported as a death")
        }
    }

    @Test func aWorkerThatIgnoresSigtermIsKilledAfterTheGrace() async throws {
        let supervisor = LocalWorkerSupervisor(
            executable: "/bin/sh", count: 1, arguments: { _ in ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"] },
            onExit: { _, _ in }, stopGrace: .milliseconds(200), logger: testLogger("supervisor"))
        let group = ServiceGroup(configuration: .init(services: [supervisor], logger: testLogger("group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually("worker running") { supervisor.workerPIDs().count == 1 }
            let pid = try #require(supervisor.workerPIDs()["local-1"])
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            #expect(kill(pid, 0) != 0, "pid \(pid) still exists")
        }
    }
}
