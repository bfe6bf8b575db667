import Foundation
import Logging
import ServiceLifecycle
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

@Suite(.timeLimit(.minutes(1))) struct BrokerWorkerLifecycleTests {
    static func hello(_ id: String, hosts: [String] = ["*"], capacity: Int = 1) -> [[UInt8]] {
        WireCodec.encode(.hello(Hello(workerID: id, hosts: hosts, capacity: capacity, version: "raw", pid: 999)))
    }

    @Test func silentWorkerIsLostWithinTheHeartbeatWindowWhileAnotherKeepsServing() async throws {
        // 1 s: short enough to see the silent one go, long enough that the good one, whose
        // heartbeats come every 50 ms, is not taken for dead on a loaded machine.
        try await withBroker(heartbeatInterval: .milliseconds(50), heartbeatTimeout: .seconds(1),
                             agents: [AgentSpec(id: "good", hosts: ["db-1"])]) { broker, endpoint in
            let release = WakeSignal()
            async let sawTask: Bool = withRawDealer(endpoint, routingID: "silent/1") { socket in
                try socket.send(Self.hello("silent", hosts: ["web-1"]))
                guard case .welcome = try receiveMessage(socket) else { return false }
                // Alive until its task comes (a loaded machine may take over the 1 s window to
                // dispatch it), then silent with the socket still open.
                guard case .task = try receiveMessageBeating(socket) else { return false }
                hold(until: release)
                return true
            }
            try await eventually("silent worker registered") { broker.registeredWorkers().count == 2 }
            let clock = ContinuousClock()
            let started = clock.now
            async let lost = broker.dispatch(request("web-1", ["sleep", "10"]))
            let served = await broker.dispatch(request("db-1", ["/bin/echo", "ok"]))
            let outcome = await lost
            let elapsed = clock.now - started
            release.signal()
            #expect(try await sawTask)
            guard case .finished(let result) = served, result.worker == "good" else {
                Issue.record("db-1 not served: \(served)")
                return
            }
            guard case .lost(let worker, let reason) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(worker == "silent")
            #expect(reason.contains("stopped answering heartbeats"))
            // Its task sleeps 10 s: reported lost well before that, it was the heartbeat window
            // that caught it; the margin is for a loaded machine.
            #expect(elapsed < .seconds(5), "lost after \(elapsed)")
            #expect(broker.registeredWorkers().map(\.id) == ["good"])
        }
    }

    @Test func workerExitedResolvesItsTasksAtOnce() async throws {
        try await withBroker(heartbeatTimeout: .seconds(60), agents: []) { broker, endpoint in
            let release = WakeSignal()
            async let sawTask: Bool = withRawDealer(endpoint, routingID: "local-1/1") { socket in
                try socket.send(Self.hello("local-1"))
                guard case .welcome = try receiveMessage(socket) else { return false }
                guard case .task = try receiveMessage(socket) else { return false }
                hold(until: release)
                return true
            }
            try await eventually("worker registered") { broker.registeredWorkers().count == 1 }
            let outcome = Task { await broker.dispatch(request("h", ["sleep", "10"])) }
            try await eventually("task in flight") { broker.registeredWorkers().first?.inFlight == 1 }
            broker.workerExited(id: "local-1", reason: "killed by signal 9")
            let resolved = try await withDeadline("lost outcome", .seconds(2)) { await outcome.value }
            release.signal()
            #expect(try await sawTask)
            #expect(resolved == .lost(worker: "local-1", reason: "worker 'local-1' exited: killed by signal 9"))
            #expect(broker.registeredWorkers().isEmpty)
        }
    }

    @Test func duplicateWorkerIDIsRefused() async throws {
        try await withBroker(agents: [AgentSpec(id: "w1")]) { broker, endpoint in
            let reply = try await withRawDealer(endpoint, routingID: "w1/impostor") { socket in
                try socket.send(Self.hello("w1"))
                return try receiveMessage(socket)
            }
            guard case .error(let body) = reply else {
                Issue.record("\(reply)")
                return
            }
            #expect(body.code == "duplicate_id")
            #expect(body.message.contains("'w1'"))
            #expect(broker.registeredWorkers().map(\.pid) == [getpid()])
        }
    }

    /// Garbage thrown at the broker over a real DEALER: each message gets the right ERROR (or,
    /// for a stray OUTPUT from a registered worker, nothing), and the broker keeps serving.
    @Test func garbageIsAnsweredWithErrorAndTheBrokerKeepsServing() async throws {
        try await withBroker(agents: [AgentSpec(id: "w")]) { broker, endpoint in
            let v1 = Array("teleops.v1".utf8)
            let unregistered: [(name: String, frames: [[UInt8]])] = [
                ("one frame", [Array("hello".utf8)]),
                ("an empty frame", [[]]),
                ("five frames", [v1, Array("HEARTBEAT".utf8), Array("{}".utf8), Array("x".utf8), Array("y".utf8)]),
                ("another version", [Array("teleops.v9".utf8), Array("HELLO".utf8), Array("{}".utf8)]),
                ("an unknown type", [v1, Array("NOPE".utf8), Array("{}".utf8)]),
                ("a binary type", [v1, [0xFF, 0x00, 0x1B], Array("{}".utf8)]),
                ("bad JSON", [v1, Array("HELLO".utf8), Array("{oops".utf8)]),
                ("a JSON array", [v1, Array("DONE".utf8), Array("[]".utf8)]),
                ("a HELLO without hosts", WireCodec.encode(.hello(Hello(workerID: "x", hosts: [], capacity: 1,
                                                                        version: "v", pid: 1)))),
                ("a huge body", [v1, Array("DONE".utf8), [UInt8](repeating: UInt8(ascii: "x"),
                                                                 count: WireCodec.maxBodyBytes + 1)]),
                ("a large valid body", [v1, Array("HEARTBEAT".utf8),
                                        Array(("{\"pad\":\"" + String(repeating: "p", count: 2 << 20) + "\"}").utf8)]),
                ("HEARTBEAT before HELLO", WireCodec.encode(.heartbeat(Heartbeat()))),
                ("OUTPUT before HELLO", WireCodec.encode(.output(TaskOutput(taskID: "x", seq: 0, data: "?")))),
                ("DONE before HELLO", WireCodec.encode(.done(TaskResult(
                    taskID: "x", action: "a", worker: "garbage", exitCode: 0, signal: nil, timedOut: false,
                    durationMs: 1, output: "", truncated: false)))),
            ]
            let answers: [String] = try await withRawDealer(endpoint, routingID: "garbage/1") { socket in
                var answers: [String] = []
                for (name, frames) in unregistered {
                    try socket.send(frames)
                    let reply = try receiveMessage(socket)
                    guard case .error(let body) = reply else { return answers + ["\(name): \(reply.type)"] }
                    answers.append(body.code)
                }
                // Registered now: a stray OUTPUT is ignored, a controller's message is unexpected.
                try socket.send(Self.hello("garbage", hosts: ["nowhere"]))
                answers.append(try receiveMessage(socket).type)
                try socket.send(WireCodec.encode(.output(TaskOutput(taskID: "no-such-task", seq: 0, data: "?"))))
                try socket.send(WireCodec.encode(.task(request("h", ["/bin/true"]))))
                try socket.send(WireCodec.encode(.heartbeat(Heartbeat())))
                for _ in 0..<2 {
                    let message = try WireCodec.decode(try receiveFrames(socket)).get()
                    if case .error(let body) = message { answers.append("ERROR \(body.code)") } else {
                        answers.append(message.type)
                    }
                }
                return answers
            }
            let codes = Array(answers.prefix(unregistered.count))
            let afterHello = Array(answers.dropFirst(unregistered.count))
            #expect(codes == ["bad_frames", "bad_frames", "bad_frames", "bad_version", "bad_type", "bad_type",
                              "bad_json", "bad_json", "bad_json", "too_large", "unregistered", "unregistered",
                              "unregistered", "unregistered"])
            #expect(afterHello == ["WELCOME", "ERROR unexpected", "HEARTBEAT"])
            let outcome = await broker.dispatch(request("h", ["/bin/echo", "still here"]))
            guard case .finished(let result) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(result.output == "still here\n")
        }
    }

    @Test func gracefulShutdownOfAWorkerSendsBye() async throws {
        try await withBroker(heartbeatTimeout: .seconds(60), agents: []) { broker, endpoint in
            let agent = WorkerAgent(options: WorkerOptions(connect: endpoint, workerID: "leaving",
                                                           heartbeatInterval: .milliseconds(50)),
                                    logger: testLogger("agent"))
            let group = ServiceGroup(configuration: .init(services: [agent], logger: testLogger("group")))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await eventually("registered") { broker.registeredWorkers().map(\.id) == ["leaving"] }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            // Heartbeat timeout is 60 s: only BYE can have removed it this soon.
            try await eventually("worker left", timeout: .seconds(3)) { broker.registeredWorkers().isEmpty }
        }
    }

    @Test func stoppingTheBrokerRejectsWhatIsPending() async throws {
        let broker = Broker(endpoint: "tcp://127.0.0.1:*", heartbeatInterval: .milliseconds(50),
                            heartbeatTimeout: .seconds(60), maxQueued: 4, logger: testLogger("broker"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await broker.run() }
            let endpoint = try await withDeadline("bound") { try await broker.boundEndpoint() }
            let release = WakeSignal()
            group.addTask {
                _ = try await withRawDealer(endpoint, routingID: "mute/1") { socket in
                    try socket.send(Self.hello("mute"))
                    _ = try receiveMessage(socket)
                    hold(until: release)
                }
            }
            try await eventually("registered") { broker.registeredWorkers().count == 1 }
            let pending = Task { await broker.dispatch(request("h", ["sleep", "10"])) }
            try await eventually("in flight") { broker.registeredWorkers().first?.inFlight == 1 }
            broker.requestStop()
            let outcome = try await withDeadline("rejected", .seconds(2)) { await pending.value }
            #expect(outcome == .rejected(reason: "controller shutting down"))
            release.signal()
            try await group.waitForAll()
        }
    }

    @Test func workerSurvivesAControllerRestart() async throws {
        becomeSubreaper
        let first = Broker(endpoint: "tcp://127.0.0.1:*", heartbeatInterval: .milliseconds(50),
                           heartbeatTimeout: .seconds(2), maxQueued: 4, logger: testLogger("broker-1"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            let firstRun = Task { try await first.run() }
            let endpoint = try await withDeadline("bound") { try await first.boundEndpoint() }
            let agent = WorkerAgent(options: WorkerOptions(connect: endpoint, workerID: "phoenix",
                                                           heartbeatInterval: .milliseconds(50)),
                                    logger: testLogger("agent"))
            group.addTask { try await agent.run() }
            try await eventually("registered with the first") { first.registeredWorkers().count == 1 }
            first.requestStop()
            try await firstRun.value
            let second = Broker(endpoint: endpoint, heartbeatInterval: .milliseconds(50), heartbeatTimeout: .seconds(2),
                                maxQueued: 4, logger: testLogger("broker-2"))
            group.addTask { try await second.run() }
            _ = try await withDeadline("second bound") { try await second.boundEndpoint() }
            try await eventually("registered with the second") { second.registeredWorkers().map(\.id) == ["phoenix"] }
            let outcome = await second.dispatch(request("h", ["/bin/echo", "back"]))
            guard case .finished(let result) = outcome else {
                Issue.record("\(outcome)")
                group.cancelAll()
                return
            }
            #expect(result.output == "back\n")
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}
