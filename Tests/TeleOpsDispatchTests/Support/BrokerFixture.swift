import CZeroMQ
import Foundation
import Logging
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

/// A worker the fixture starts in-process: (id, hosts, capacity).
struct AgentSpec: Sendable {
    var id: String
    var hosts: [String] = ["*"]
    var capacity = 2
}

/// Runs a broker on tcp://127.0.0.1:* and `agents` in this process, waits until they registered,
/// runs `body`, then cancels everything and waits for it to stop.
func withBroker(
    heartbeatInterval: Duration = .milliseconds(50), heartbeatTimeout: Duration = .seconds(2), maxQueued: Int = 8,
    agents: [AgentSpec], _ body: @escaping @Sendable (Broker, String) async throws -> Void
) async throws {
    becomeSubreaper
    let broker = Broker(endpoint: "tcp://127.0.0.1:*", heartbeatInterval: heartbeatInterval,
                        heartbeatTimeout: heartbeatTimeout, maxQueued: maxQueued, logger: testLogger("broker"))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await broker.run() }
        let endpoint = try await withDeadline("broker bound") { try await broker.boundEndpoint() }
        for spec in agents {
            let agent = WorkerAgent(options: WorkerOptions(connect: endpoint, workerID: spec.id, hosts: spec.hosts,
                                                           capacity: spec.capacity, heartbeatInterval: heartbeatInterval,
                                                           killGrace: .milliseconds(100)),
                                    logger: testLogger("agent-\(spec.id)"))
            group.addTask { try await agent.run() }
        }
        try await eventually("agents registered") { broker.registeredWorkers().count == agents.count }
        try await withDeadline("test body", .seconds(90)) { try await body(broker, endpoint) }  // generous: the full suite loads the machine
        group.cancelAll()
        try await group.waitForAll()  // bounded by the suites' time limit
    }
}

func request(_ host: String, _ argv: [String], id: String = UUID().uuidString, timeout: Duration = .seconds(10))
    -> TaskRequest
{
    TaskRequest(taskID: id, action: "test", host: host, argv: argv, timeout: timeout, outputLimit: 65536)
}

/// Runs `script` on its own thread with a raw DEALER connected to `endpoint`: a hand-written
/// peer for protocol tests (a silent worker, garbage, duplicate ids).
func withRawDealer<T: Sendable>(
    _ endpoint: String, routingID: String, _ script: @escaping @Sendable (borrowing ZMQSocket) throws -> T
) async throws -> T {
    let result: Result<T, any Error> = await onDedicatedThread(name: "raw-dealer") {
        do {
            let socket = try ZMQSocket(context: .shared, type: .dealer)
            try socket.setOption(ZMQ_ROUTING_ID, bytes: Array(routingID.utf8))
            try socket.connect(endpoint)
            return .success(try script(socket))
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}

/// Waits up to `timeoutMs` for one raw multipart message.
func receiveFrames(_ socket: borrowing ZMQSocket, timeoutMs: Int = 5000) throws -> [[UInt8]] {
    let idle = WakeSignal()
    let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
    while ContinuousClock.now < deadline {
        if let frames = try socket.receive() { return frames }
        _ = try socket.poll(alongside: idle.fd, timeoutMs: Int(ProcessRun.millis(from: .now, to: deadline)))
    }
    throw TimedOut(what: "a message on the raw dealer")
}

/// Waits for one decoded message, skipping HEARTBEATs.
func receiveMessage(_ socket: borrowing ZMQSocket, timeoutMs: Int = 5000) throws -> WireMessage {
    while true {
        let message = try WireCodec.decode(try receiveFrames(socket, timeoutMs: timeoutMs)).get()
        if case .heartbeat = message { continue }
        return message
    }
}

/// Waits for one decoded message (HEARTBEATs skipped) while sending a HEARTBEAT every
/// `everyMs`, as a live worker does: a raw peer that must stay registered until its TASK comes,
/// however slowly a loaded machine gets there, and then goes silent.
func receiveMessageBeating(_ socket: borrowing ZMQSocket, everyMs: Int = 100, timeoutMs: Int = 10_000) throws -> WireMessage {
    let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
    while ContinuousClock.now < deadline {
        try socket.send(WireCodec.encode(.heartbeat(Heartbeat())))
        let frames: [[UInt8]]
        do {
            frames = try receiveFrames(socket, timeoutMs: everyMs)
        } catch is TimedOut {
            continue
        }
        let message = try WireCodec.decode(frames).get()
        if case .heartbeat = message { continue }
        return message
    }
    throw TimedOut(what: "a message on the raw dealer")
}

/// Waits until `signal` fires or `timeoutMs` passes (used to keep a raw peer's socket open).
func hold(until signal: WakeSignal, timeoutMs: Int32 = 10_000) {
    var item = pollfd(fd: signal.fd, events: Int16(POLLIN), revents: 0)
    _ = poll(&item, 1, timeoutMs)
}

/// `hold(until:)` for a raw peer that must stay registered meanwhile: a HEARTBEAT on `socket`
/// every `everyMs` (the broker's answers are left unread).
func hold(until signal: WakeSignal, beatingOn socket: borrowing ZMQSocket, everyMs: Int32 = 100,
          timeoutMs: Int = 10_000) throws {
    let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
    var item = pollfd(fd: signal.fd, events: Int16(POLLIN), revents: 0)
    while ContinuousClock.now < deadline {
        try socket.send(WireCodec.encode(.heartbeat(Heartbeat())))
        if poll(&item, 1, everyMs) > 0 { return }
    }
}
