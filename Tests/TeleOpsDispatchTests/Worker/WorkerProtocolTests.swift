import Foundation
import Synchronization
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

/// The worker's side of the protocol against a hand-written controller (a raw ROUTER): what it
/// answers to garbage, a second TASK beyond its capacity, and `duplicate_id`.
@Suite(.timeLimit(.minutes(1))) struct WorkerProtocolTests {
    /// Where the raw controller bound, handed from its thread to the test.
    final class BoundEndpoint: Sendable { let value = Mutex<String?>(nil) }

    /// Runs `script` on its own thread with a ROUTER bound on loopback, and a worker of
    /// `capacity` slots (running every command until it is cancelled) connected to it.
    static func withRawController<T: Sendable>(
        capacity: Int = 1, _ script: @escaping @Sendable (borrowing ZMQSocket) throws -> T
    ) async throws -> T {
        let endpoint = BoundEndpoint()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                let result: Result<T, any Error> = await onDedicatedThread(name: "raw-router") {
                    do {
                        let socket = try ZMQSocket(context: .shared, type: .router)
                        try socket.bind("tcp://127.0.0.1:*")
                        let name = try socket.lastEndpoint()
                        endpoint.value.withLock { $0 = name }
                        return .success(try script(socket))
                    } catch {
                        return .failure(error)
                    }
                }
                return try result.get()
            }
            try await eventually("the raw controller bound") { endpoint.value.withLock { $0 } != nil }
            let connect = try #require(endpoint.value.withLock { $0 })
            let agent = WorkerAgent(
                options: WorkerOptions(connect: connect, workerID: "w", hosts: ["*"], capacity: capacity,
                                       heartbeatInterval: .milliseconds(100), killGrace: .milliseconds(100)),
                executor: WaitForCancelExecutor(), logger: testLogger("agent"))
            group.addTask {
                try await agent.run()
                return nil
            }
            let first = try #require(try await group.next())
            group.cancelAll()
            while let _ = try await group.next() {}
            return try #require(first)
        }
    }

    /// The next message from the worker that is not a HEARTBEAT, with its connection's identity.
    static func next(_ socket: borrowing ZMQSocket) throws -> (identity: [UInt8], message: WireMessage) {
        while true {
            let frames = try receiveFrames(socket)
            let message = try WireCodec.decode(Array(frames.dropFirst())).get()
            if case .heartbeat = message { continue }
            return (frames[0], message)
        }
    }

    @Test func garbageIsAnsweredAndASecondTaskBeyondCapacityIsBusy() async throws {
        let answers: [String] = try await Self.withRawController(capacity: 1) { socket in
            var seen: [String] = []
            guard case (let identity, .hello) = try Self.next(socket) else { return ["no HELLO"] }
            try socket.send([identity] + WireCodec.encode(.welcome(Welcome(heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1000))))
            // Not the protocol at all, then a known type with a body that is not JSON.
            try socket.send([identity, Array("hello?".utf8)])
            try socket.send([identity, Array(WireCodec.version.utf8), Array("TASK".utf8), Array("{not json".utf8)])
            for _ in 0..<2 {
                guard case (_, .error(let body)) = try Self.next(socket) else { return seen + ["no ERROR"] }
                seen.append(body.code)
            }
            let task = { (id: String) in
                TaskRequest(taskID: id, action: "a", host: "h", argv: ["sleep", "30"], timeout: .seconds(30), outputLimit: 100)
            }
            try socket.send([identity] + WireCodec.encode(.task(task("one"))))
            guard case (_, .accepted(let accepted)) = try Self.next(socket) else { return seen + ["no ACCEPTED"] }
            seen.append("accepted \(accepted.taskID)")
            try socket.send([identity] + WireCodec.encode(.task(task("two"))))
            // OUTPUT of the first may come before the refusal.
            while true {
                switch try Self.next(socket).message {
                case .output: continue
                case .error(let body): return seen + ["\(body.code) \(body.taskID ?? "-"): \(body.message)"]
                case let other: return seen + ["unexpected \(other.type)"]
                }
            }
        }
        #expect(answers == [
            WireErrorCode.badFrames.rawValue, WireErrorCode.badJSON.rawValue, "accepted one",
            "busy two: worker is at capacity (1 tasks running)",
        ])
    }

    /// Refused as a duplicate, the worker says HELLO again a moment later (the other may be gone).
    @Test func aWorkerRefusedAsADuplicateSaysHelloAgain() async throws {
        let hellos: Int = try await Self.withRawController { socket in
            guard case (let identity, .hello) = try Self.next(socket) else { return 0 }
            try socket.send([identity] + WireCodec.encode(.error(WireErrorBody(
                code: .duplicateID, message: "worker id 'w' is already connected"))))
            guard case (_, .hello) = try Self.next(socket) else { return 1 }
            return 2
        }
        #expect(hellos == 2)
    }
}
