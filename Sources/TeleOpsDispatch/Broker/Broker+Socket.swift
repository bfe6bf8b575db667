import CZeroMQ
import Foundation
import Logging
import TeleOpsCore

extension Broker {
    /// Body of the thread that owns the ROUTER socket.
    func socketThread() {
        do {
            let socket = try makeRouter()
            try socket.setOption(ZMQ_ROUTER_MANDATORY, 1)
            // A connection gone silent is dropped after the heartbeat timeout: a worker that
            // reconnects with the same routing id is not ignored behind it.
            try socket.heartbeat(every: heartbeatInterval, timeout: heartbeatTimeout)
            try bindRetryingBriefly(socket)
            let bound = try socket.lastEndpoint()
            let waiters = state.withLock { state in
                state.endpoint = bound
                state.waitForWorkersUntil = .now + startupGrace
                defer { state.endpointWaiters = [] }
                return state.endpointWaiters
            }
            waiters.forEach { $0.resume(returning: bound) }
            logger.info("broker listening", metadata: ["endpoint": "\(bound)"])
            try serve(socket)
        } catch {
            logger.error("broker socket failed", metadata: ["error": "\(error)"])
            state.withLock { $0.runError = error }
        }
        let (resumptions, waiters, runError) = state.withLock { state in
            defer { state.endpointWaiters = [] }
            return (state.stop(), state.endpointWaiters, state.runError)
        }
        let failure: any Error = runError ?? ZMQError(operation: "Broker: stopped before binding", code: ESHUTDOWN)
        waiters.forEach { $0.resume(throwing: failure) }
        resume(resumptions)
        logger.info("broker stopped", metadata: ["rejected_pending": "\(resumptions.count)"])
    }

    /// libzmq closes listeners asynchronously, so a port released by a broker that just stopped in
    /// this process can still be busy for a moment: retry EADDRINUSE for up to two seconds.
    private func bindRetryingBriefly(_ socket: borrowing ZMQSocket) throws(ZMQError) {
        let giveUp = ContinuousClock.now + .seconds(2)
        while true {
            do {
                return try socket.bind(endpoint)
            } catch where error.code == EADDRINUSE && ContinuousClock.now < giveUp
                && state.withLock({ $0.phase == .running }) {
                usleep(20_000)
            }
        }
    }

    private func serve(_ socket: borrowing ZMQSocket) throws(ZMQError) {
        let clock = ContinuousClock()
        // Idle waits only bound how late a silent worker is noticed; work arrives through the eventfd.
        let tick = Int(max(10, min(500, heartbeatInterval.milliseconds / 2)))
        var nextOverdueCheck = clock.now
        while state.withLock({ $0.phase == .running }) {
            let ready = try socket.poll(alongside: wake.fd, timeoutMs: tick)
            if ready.fd { wake.drain() }
            while let frames = try socket.receive() {
                handle(frames, on: socket, now: clock.now)
            }
            flushOutbox(socket)
            expireSilentWorkers(now: clock.now)
            if clock.now >= nextOverdueCheck {  // not after every message: it looks at every pending task
                expireOverdueTasks(now: clock.now)
                nextOverdueCheck = clock.now + .milliseconds(100)
            }
            resume(state.withLock { $0.pump() })
            flushOutbox(socket)
        }
    }

    private func flushOutbox(_ socket: borrowing ZMQSocket) {
        while true {
            let batch = state.withLock { state in
                defer { state.outbox = [] }
                return state.outbox
            }
            if batch.isEmpty { return }
            for item in batch {
                do {
                    try socket.send([item.identity] + WireCodec.encode(item.message))
                } catch {
                    sendFailed(item, error)
                }
            }
        }
    }

    /// A message could not reach its worker (its connection is gone, or its queue is full).
    private func sendFailed(_ item: Outgoing, _ error: ZMQError) {
        let resumptions: [Resumption] = state.withLock { state in
            guard let workerID = state.connections[item.identity] else { return [] }
            if case .task(let request) = item.message { state.unassign(request.taskID) }
            return state.drop(workerID, reason: "worker '\(workerID)' is unreachable: \(error)")
        }
        logger.warning("cannot send to worker", metadata: [
            "type": "\(item.message.type)", "identity": "\(printableIdentity(item.identity))", "error": "\(error)",
        ])
        resume(resumptions)
    }

    private func expireSilentWorkers(now: ContinuousClock.Instant) {
        let resumptions: [Resumption] = state.withLock { state in
            var resumptions: [Resumption] = []
            for workerID in state.silent(at: now, timeout: heartbeatTimeout) {
                let lost = state.drop(workerID, reason:
                    "worker '\(workerID)' stopped answering heartbeats (silent for more than \(heartbeatTimeout))")
                logger.warning("worker lost", metadata: ["worker": "\(workerID)", "lost_tasks": "\(lost.count)"])
                resumptions += lost
            }
            return resumptions
        }
        resume(resumptions)
    }

    private func expireOverdueTasks(now: ContinuousClock.Instant) {
        let lost = state.withLock { $0.overdue(at: now) }
        for (_, outcome) in lost {
            if case .lost(let worker, let reason) = outcome {
                logger.warning("task result missing", metadata: ["worker": "\(worker)", "reason": "\(reason)"])
            }
        }
        resume(lost)
    }

    /// One message from a worker connection.
    private func handle(_ frames: [[UInt8]], on socket: borrowing ZMQSocket, now: ContinuousClock.Instant) {
        guard let identity = frames.first else { return }
        func reply(_ message: WireMessage) {
            do { try socket.send([identity] + WireCodec.encode(message)) } catch {
                logger.debug("cannot reply", metadata: ["type": "\(message.type)", "error": "\(error)"])
            }
        }
        let message: WireMessage
        switch WireCodec.decode(Array(frames.dropFirst())) {
        case .success(let decoded): message = decoded
        case .failure(let error):
            logger.warning("protocol error from peer", metadata: [
                "identity": "\(printableIdentity(identity))", "code": "\(error.code.rawValue)", "error": "\(error.message)",
            ])
            reply(error.reply)
            return
        }
        if case .hello(let hello) = message {
            register(hello, identity: identity, now: now, reply: reply)
            return
        }
        let workerID: String? = state.withLock { state in
            guard let workerID = state.connections[identity] else { return nil }
            state.workers[workerID]?.lastSeen = now
            state.workers[workerID]?.lastSeenDate = Date()
            return workerID
        }
        guard let workerID else {
            switch message {
            case .bye, .error: break  // never answer an ERROR with an ERROR
            default:
                logger.info("message from unregistered peer", metadata: [
                    "identity": "\(printableIdentity(identity))", "type": "\(message.type)",
                ])
                reply(.error(WireErrorBody(code: .unregistered,
                                           message: "\(message.type) from a worker that is not registered; send HELLO")))
            }
            return
        }
        switch message {
        case .heartbeat(let beat):
            reply(.heartbeat(Heartbeat()))
            resume(state.withLock { $0.heartbeat(beat.inFlight, from: workerID) })
        case .accepted:
            break
        case .output(let chunk):
            deliver(chunk, from: workerID)
        case .done(let result):
            resume(state.withLock { $0.complete(result, from: workerID) })
        case .error(let body):
            logger.warning("worker reported an error", metadata: [
                "worker": "\(workerID)", "code": "\(body.code)", "error": "\(body.message)",
                "task": "\(body.taskID ?? "-")",
            ])
            if let taskID = body.taskID {
                resume(state.withLock { $0.fail(taskID, from: workerID, reason: "\(body.code): \(body.message)") })
            }
        case .bye:
            let lost = state.withLock { $0.drop(workerID, reason: "worker '\(workerID)' said BYE with the task in flight") }
            logger.info("worker left", metadata: ["worker": "\(workerID)", "lost_tasks": "\(lost.count)"])
            resume(lost)
        case .hello, .welcome, .task, .cancel:
            reply(.error(WireErrorBody(code: .unexpected, message: "\(message.type) is not sent by workers")))
        }
    }

    /// Passes an OUTPUT chunk to its dispatcher's `progress` handler, on this thread and outside
    /// the lock; stale, duplicate and stray chunks are dropped with a log line.
    private func deliver(_ chunk: TaskOutput, from workerID: String) {
        switch state.withLock({ $0.output(chunk, from: workerID) }) {
        case .deliver(let progress):
            progress?(chunk)
        case .deliverAfterGap(let progress, let missing):
            logger.warning("OUTPUT chunks missing", metadata: [
                "worker": "\(workerID)", "task": "\(chunk.taskID)", "seq": "\(chunk.seq)", "missing": "\(missing)",
            ])
            progress?(chunk)
        case .stale(let lastSeq):
            logger.warning("duplicate or out-of-order OUTPUT dropped", metadata: [
                "worker": "\(workerID)", "task": "\(chunk.taskID)", "seq": "\(chunk.seq)", "last_seq": "\(lastSeq)",
            ])
        case .stray(let why):
            logger.debug("OUTPUT ignored", metadata: [
                "worker": "\(workerID)", "task": "\(WireCodec.printable(chunk.taskID))", "reason": "\(why)",
            ])
        }
    }

    private func register(_ hello: Hello, identity: [UInt8], now: ContinuousClock.Instant,
                          reply: (WireMessage) -> Void) {
        guard !hello.workerID.isEmpty, !hello.hosts.isEmpty, hello.capacity >= 1 else {
            reply(.error(WireErrorBody(code: .badJSON,
                                       message: "HELLO needs a non-empty worker_id, at least one host and capacity >= 1")))
            return
        }
        enum Verdict { case welcome(rejoined: Bool), duplicate(String) }
        let (verdict, resumptions): (Verdict, [Resumption]) = state.withLock { state in
            if let existing = state.workers[hello.workerID] {
                guard existing.identity == identity else {
                    let age = (now - existing.lastSeen).milliseconds
                    return (.duplicate("worker id '\(hello.workerID)' is already registered from another live "
                        + "connection (pid \(existing.hello.pid), heard from \(age) ms ago); stop that worker or "
                        + "give this one another --id"), [])
                }
                state.workers[hello.workerID]?.hello = hello
                state.workers[hello.workerID]?.lastSeen = now
                state.workers[hello.workerID]?.lastSeenDate = Date()
                return (.welcome(rejoined: true), state.pump())
            }
            // The same connection may re-register under a new id: forget the old one.
            var lost: [Resumption] = []
            if let previous = state.connections[identity] {
                lost = state.drop(previous, reason: "worker '\(previous)' re-registered as '\(hello.workerID)'")
            }
            state.workers[hello.workerID] = BrokerState.Worker(hello: hello, identity: identity, lastSeen: now,
                                                               lastSeenDate: Date())
            state.connections[identity] = hello.workerID
            return (.welcome(rejoined: false), lost + state.pump())
        }
        switch verdict {
        case .duplicate(let reason):
            logger.warning("duplicate worker id refused", metadata: ["worker": "\(hello.workerID)", "reason": "\(reason)"])
            reply(.error(WireErrorBody(code: .duplicateID, message: reason)))
        case .welcome(let rejoined):
            logger.info(rejoined ? "worker said HELLO again" : "worker registered", metadata: [
                "worker": "\(hello.workerID)", "hosts": "\(hello.hosts.joined(separator: ","))",
                "capacity": "\(hello.capacity)", "pid": "\(hello.pid)", "version": "\(hello.version)",
            ])
            reply(.welcome(Welcome(heartbeatIntervalMs: Int(heartbeatInterval.milliseconds),
                                   heartbeatTimeoutMs: Int(heartbeatTimeout.milliseconds))))
        }
        resume(resumptions)
    }

    private func printableIdentity(_ identity: [UInt8]) -> String {
        WireCodec.printable(String(decoding: identity, as: UTF8.self))
    }
}
