import Foundation
import Synchronization
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

@Suite(.timeLimit(.minutes(1))) struct BrokerDispatchTests {
    @Test func dispatchesToTheWorkerServingTheHost() async throws {
        try await withBroker(agents: [AgentSpec(id: "web", hosts: ["web-1"]), AgentSpec(id: "db", hosts: ["db-1"])]) {
            broker, _ in
            for (host, worker) in [("db-1", "db"), ("web-1", "web")] {
                let outcome = await broker.dispatch(request(host, ["/bin/echo", host]))
                guard case .finished(let result) = outcome else {
                    Issue.record("\(outcome)")
                    return
                }
                #expect(result.worker == worker)
                #expect(result.exitCode == 0)
                #expect(result.output == "\(host)\n")
            }
        }
    }

    @Test func rejectsAtOnceWhenNoWorkerServesTheHost() async throws {
        try await withBroker(agents: [AgentSpec(id: "web", hosts: ["web-1"])]) { broker, _ in
            let outcome = await broker.dispatch(request("mail-9", ["/bin/true"]))
            guard case .rejected(let reason) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(reason.contains("no worker serves host 'mail-9'"))
        }
    }

    @Test func twoWorkersShareTheLoad() async throws {
        try await withBroker(maxQueued: 0, agents: [AgentSpec(id: "a", capacity: 1), AgentSpec(id: "b", capacity: 1)]) {
            broker, _ in
            async let first = broker.dispatch(request("any", ["sleep", "0.3"]))
            async let second = broker.dispatch(request("any", ["sleep", "0.3"]))
            let outcomes = await [first, second]
            let workers = outcomes.compactMap { outcome -> String? in
                if case .finished(let result) = outcome, result.exitCode == 0 { return result.worker }
                return nil
            }
            #expect(Set(workers) == ["a", "b"], "\(outcomes)")
        }
    }

    @Test func queuesWhenBusyThenRejectsBeyondMaxQueued() async throws {
        try await withBroker(maxQueued: 1, agents: [AgentSpec(id: "solo", capacity: 1)]) { broker, _ in
            let order = Mutex<[String]>([])
            // The first task runs until the test lets it end, so the second stays queued however
            // slowly a loaded machine gets to look.
            let release = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-release-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: release) }
            async let running = broker.dispatch(request("h", ["/bin/sh", "-c", "while [ ! -e '\(release)' ]; do sleep 0.01; done"],
                                                        id: "running"))
            try await eventually("first task in flight") { broker.registeredWorkers().first?.inFlight == 1 }
            async let queued = broker.dispatch(request("h", ["/bin/echo", "queued"], id: "queued"))
            try await eventually("second task queued") { broker.state.withLock { $0.queue == ["queued"] } }
            let overflow = await broker.dispatch(request("h", ["/bin/true"], id: "overflow"))
            #expect(overflow == .rejected(reason: "busy: all 1 worker(s) serving 'h' are at capacity (1 slots) and "
                + "1 task(s) are already queued (limit 1); retry later"))
            FileManager.default.createFile(atPath: release, contents: nil)
            for outcome in await [running, queued] {
                guard case .finished(let result) = outcome else {
                    Issue.record("\(outcome)")
                    continue
                }
                order.withLock { $0.append(result.taskID) }
            }
            #expect(order.withLock { $0 } == ["running", "queued"])
        }
    }

    @Test func spawnFailureComesBackAsExit127() async throws {
        try await withBroker(agents: [AgentSpec(id: "w")]) { broker, _ in
            let outcome = await broker.dispatch(request("h", ["no-such-program-teleops"]))
            guard case .finished(let result) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(result.exitCode == 127)
            #expect(result.output.contains("no-such-program-teleops"))
        }
    }

    @Test func timeoutIsReportedAsFinishedAndTimedOut() async throws {
        try await withBroker(agents: [AgentSpec(id: "w")]) { broker, _ in
            let outcome = await broker.dispatch(request("h", ["sleep", "100"], timeout: .milliseconds(200)))
            guard case .finished(let result) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(result.timedOut)
            #expect(result.signal == SIGTERM)
        }
    }

    @Test func cancellingTheDispatchCancelsTheRunningTask() async throws {
        try await withBroker(agents: [AgentSpec(id: "w")]) { broker, _ in
            #expect(processes(running: ["sleep", "271.828"]).isEmpty, "left over from an earlier run")
            let task = Task { await broker.dispatch(request("h", ["sleep", "271.828"], id: "long", timeout: .seconds(600))) }
            try await eventually("sleep 271.828 running") { !processes(running: ["sleep", "271.828"]).isEmpty }
            task.cancel()
            let outcome = try await withDeadline("cancelled dispatch") { await task.value }
            guard case .finished(let result) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(result.cancelled)
            #expect(result.signal == SIGTERM)
            #expect(!result.timedOut)
            #expect(result.outcomeDescription.hasPrefix("cancelled after"))
            #expect(processes(running: ["sleep", "271.828"]).isEmpty, "the command was killed and reaped before DONE")
        }
    }

    /// Prints round-trip figures (dispatch → TASK → spawn /bin/true → DONE → resume); asserts only success.
    @Test func roundTripLatency() async throws {
        try await withBroker(agents: [AgentSpec(id: "w", capacity: 1)]) { broker, _ in
            var samples: [Duration] = []
            let clock = ContinuousClock()
            for index in 0..<120 {
                let started = clock.now
                let outcome = await broker.dispatch(request("h", ["/bin/true"]))
                if index >= 20 { samples.append(clock.now - started) }
                guard case .finished(let result) = outcome, result.exitCode == 0 else {
                    Issue.record("\(outcome)")
                    return
                }
            }
            samples.sort()
            let micro = { (d: Duration) in d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000 }
            print("dispatch round trip /bin/true (debug build, \(samples.count) samples): "
                + "p50 \(micro(samples[samples.count / 2])) µs, p90 \(micro(samples[samples.count * 9 / 10])) µs, "
                + "max \(micro(samples.last!)) µs")
        }
    }
}
