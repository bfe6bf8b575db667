import CZeroMQ
import Foundation
import Synchronization
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

/// OUTPUT as the broker sees it, from hand-written workers: order, duplicates, strays.
@Suite(.timeLimit(.minutes(1))) struct BrokerOutputTests {
    static func output(_ taskID: String, _ seq: Int, _ data: String) -> [[UInt8]] {
        WireCodec.encode(.output(TaskOutput(taskID: taskID, seq: seq, data: data)))
    }

    static func done(_ taskID: String, worker: String, output: String) -> [[UInt8]] {
        WireCodec.encode(.done(TaskResult(taskID: taskID, action: "test", worker: worker, exitCode: 0, signal: nil,
                                          timedOut: false, durationMs: 1, output: output, truncated: false)))
    }

    /// Sends HEARTBEAT and waits for the broker's HEARTBEAT: everything sent before it on this
    /// connection has been handled. Fails on any other reply (an ERROR for a stray OUTPUT, say).
    static func roundTrip(_ socket: borrowing ZMQSocket) throws -> WireMessage {
        try socket.send(WireCodec.encode(.heartbeat(Heartbeat())))
        return try WireCodec.decode(try receiveFrames(socket)).get()
    }

    @Test func progressGetsEachChunkOnceInSeqOrder() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            async let replies: [String] = withRawDealer(endpoint, routingID: "raw/1") { socket in
                try socket.send(BrokerWorkerLifecycleTests.hello("raw", capacity: 1))
                guard case .welcome = try receiveMessage(socket) else { return ["no welcome"] }
                guard case .task(let task) = try receiveMessage(socket) else { return ["no task"] }
                let id = task.taskID
                for frames in [Self.output(id, 0, "a"), Self.output(id, 1, "b"), Self.output(id, 1, "b again"),
                               Self.output(id, 0, "a again"), Self.output(id, 3, "d after a gap"),
                               Self.output(id, 2, "c too late")] {
                    try socket.send(frames)
                }
                let answer = try Self.roundTrip(socket)
                try socket.send(Self.done(id, worker: "raw", output: "abd"))
                return [answer.type]
            }
            try await eventually("registered") { broker.registeredWorkers().count == 1 }
            let log = ProgressLog()
            let outcome = await broker.dispatch(request("h", ["anything"]), progress: log.handler)
            #expect(try await replies == ["HEARTBEAT"], "stale chunks are dropped without an ERROR")
            guard case .finished = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(log.all.map(\.seq) == [0, 1, 3])
            #expect(log.text == "abd after a gap")
        }
    }

    @Test func outputForAnUnknownTaskOrFromTheWrongWorkerIsIgnored() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            let stage = WakeSignal()
            async let owner: Bool = withRawDealer(endpoint, routingID: "owner/1") { socket in
                try socket.send(BrokerWorkerLifecycleTests.hello("owner", hosts: ["h"], capacity: 1))
                guard case .welcome = try receiveMessage(socket) else { return false }
                // Alive throughout (a loaded machine may take longer than the broker's 2 s
                // heartbeat window to get to each step).
                guard case .task(let task) = try receiveMessageBeating(socket) else { return false }
                try socket.send(Self.output(task.taskID, 0, "mine"))
                try hold(until: stage, beatingOn: socket)  // until the intruder has spoken
                try socket.send(Self.done(task.taskID, worker: "owner", output: "mine"))
                return true
            }
            try await eventually("owner registered") { broker.registeredWorkers().count == 1 }
            let log = ProgressLog()
            async let outcome = broker.dispatch(request("h", ["anything"], id: "the-task"), progress: log.handler)
            try await eventually("owner has the task") { broker.state.withLock { $0.pending["the-task"]?.worker != nil } }
            let intruderAnswers: [String] = try await withRawDealer(endpoint, routingID: "intruder/1") { socket in
                try socket.send(BrokerWorkerLifecycleTests.hello("intruder", hosts: ["elsewhere"], capacity: 1))
                guard case .welcome = try receiveMessage(socket) else { return ["no welcome"] }
                try socket.send(Self.output("the-task", 1, "not yours"))
                try socket.send(Self.output("no-such-task", 0, "nobody's"))
                return [try Self.roundTrip(socket).type]
            }
            stage.signal()
            #expect(intruderAnswers == ["HEARTBEAT"], "ignored, not answered with ERROR")
            #expect(try await owner)
            guard case .finished(let result) = await outcome else {
                Issue.record("not finished")
                return
            }
            #expect(result.worker == "owner")
            #expect(log.all == [TaskOutput(taskID: "the-task", seq: 0, data: "mine")])
        }
    }

    @Test func outputFromAnUnregisteredPeerIsAnsweredUnregistered() async throws {
        try await withBroker(agents: []) { _, endpoint in
            let reply = try await withRawDealer(endpoint, routingID: "stranger/1") { socket in
                try socket.send(Self.output("t", 0, "hello?"))
                return try receiveMessage(socket)
            }
            guard case .error(let body) = reply else {
                Issue.record("\(reply)")
                return
            }
            #expect(body.code == "unregistered")
            #expect(body.message.contains("OUTPUT"))
        }
    }

    /// The handler is called on the broker's socket thread, before the outcome is returned.
    @Test func everyChunkIsDeliveredBeforeTheOutcome() async throws {
        try await withBroker(agents: [AgentSpec(id: "w")]) { broker, _ in
            let executor = ScriptedExecutor((0..<20).map { (Duration.milliseconds(5), Array("line \($0)\n".utf8)) })
            let endpoint = try await broker.boundEndpoint()
            try await withAgent(WorkerAgentTests.options(endpoint, id: "scripted"), executor: executor,
                                registeredWith: broker) {
                let log = ProgressLog()
                var scripted = request("h", ["scripted"])
                scripted.workerID = "scripted"
                let outcome = await broker.dispatch(scripted, progress: log.handler)
                let textAtReturn = log.text
                guard case .finished(let result) = outcome else {
                    Issue.record("\(outcome)")
                    return
                }
                #expect(textAtReturn == result.output)
                #expect(result.output == (0..<20).map { "line \($0)\n" }.joined())
            }
        }
    }
}
