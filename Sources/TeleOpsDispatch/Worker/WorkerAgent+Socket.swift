import CZeroMQ
import Foundation
import Logging
import TeleOpsCore

extension WorkerAgent {
    /// Body of the thread that owns the DEALER. Ends on BYE (graceful) or stop (cancellation).
    func socketThread() {
        do {
            try serve()
        } catch {
            logger.error("worker socket failed", metadata: ["error": "\(error)"])
            state.withLock { $0.phase = .stopping }
        }
    }

    private func serve() throws(ZMQError) {
        let socket = try makeDealer()
        // libzmq's ROUTER silently ignores a second connection with a routing id already in use,
        // so the id is the worker id plus a per-connection nonce; the broker registers by HELLO's
        // worker_id and can then refuse a duplicate with ERROR "duplicate_id".
        let routingID = "\(options.workerID)/\(String(UInt32.random(in: .min ... .max), radix: 16))"
        try socket.setOption(ZMQ_ROUTING_ID, bytes: Array(routingID.utf8))
        // The controller answering nothing, not even libzmq's PONG, for five intervals: the
        // network went silent; reconnect (HEARTBEAT then meets "unregistered" if the controller
        // gave up on this worker meanwhile, and HELLO follows).
        try socket.heartbeat(every: options.heartbeatInterval, timeout: options.heartbeatInterval * 5)
        try socket.connect(options.connect)
        logger.info("worker connecting", metadata: ["endpoint": "\(options.connect)", "worker": "\(options.workerID)"])

        let clock = ContinuousClock()
        var session = Session(interval: options.heartbeatInterval, nextBeat: clock.now)
        var nextOutput: ContinuousClock.Instant?
        while true {
            let phase = state.withLock { $0.phase }
            if phase == .stopping { break }
            if phase == .draining && state.withLock({ $0.inFlight.isEmpty && $0.outbox.isEmpty }) {
                send(.bye, on: socket)
                // Give the BYE a moment to leave; the shared context lingers in the background.
                try? socket.setOption(ZMQ_LINGER, 1000)
                logger.info("worker said BYE", metadata: ["worker": "\(options.workerID)"])
                break
            }
            let now = clock.now
            if now >= session.nextBeat {
                if parentIsGone() { break }
                if session.registered {
                    send(.heartbeat(Heartbeat(inFlight: state.withLock { $0.inFlight.count })), on: socket)
                } else {
                    send(.hello(hello()), on: socket)
                }
                session.nextBeat = now + session.interval
            }
            let wakeAt = nextOutput.map { min($0, session.nextBeat) } ?? session.nextBeat
            let ready = try socket.poll(alongside: wake.fd, timeoutMs: Int(ProcessRun.millis(from: now, to: wakeAt)))
            if ready.fd { wake.drain() }
            while let frames = try socket.receive() {
                handle(frames, on: socket, session: &session, now: clock.now)
            }
            let (outbox, outputDue) = state.withLock { state in
                let due = state.collectOutput(now: clock.now)
                defer { state.outbox = [] }
                return (state.outbox, due)
            }
            nextOutput = outputDue
            for message in outbox { send(message, on: socket) }
        }
    }

    /// Whether the controller that started this worker (`--parent-pid`) has exited. The parent
    /// death signal covers most cases, but one that arrives while the signal handlers are still
    /// being set up is lost; this check, once per heartbeat, covers the rest. Running tasks are
    /// killed (nobody is left to read their results) and the worker stops.
    private func parentIsGone() -> Bool {
        guard let parent = options.parentPID, currentParent() != parent else { return false }
        logger.warning("the controller that started this worker has exited; stopping",
                       metadata: ["parent": "\(parent)", "worker": "\(options.workerID)"])
        state.withLock { state in
            state.phase = .stopping
            for task in state.inFlight.values { task.cancel() }
        }
        return true
    }

    /// What the socket thread knows about its registration.
    struct Session {
        var interval: Duration
        var nextBeat: ContinuousClock.Instant
        var registered = false
    }

    private func hello() -> Hello {
        Hello(workerID: options.workerID, hosts: options.hosts, labels: options.labels, capacity: options.capacity,
              version: options.version, pid: getpid())
    }

    private func send(_ message: WireMessage, on socket: borrowing ZMQSocket) {
        do { try socket.send(WireCodec.encode(message)) } catch {
            // EAGAIN: the controller is unreachable and the queue is full; heartbeats will re-register.
            logger.debug("cannot send", metadata: ["type": "\(message.type)", "error": "\(error)"])
        }
    }

    private func handle(_ frames: [[UInt8]], on socket: borrowing ZMQSocket, session: inout Session,
                        now: ContinuousClock.Instant) {
        let message: WireMessage
        switch WireCodec.decode(frames) {
        case .success(let decoded): message = decoded
        case .failure(let error):
            logger.warning("protocol error from controller", metadata: ["code": "\(error.code.rawValue)",
                                                                       "error": "\(error.message)"])
            send(error.reply, on: socket)
            return
        }
        switch message {
        case .welcome(let welcome):
            if !session.registered {
                logger.info("worker registered", metadata: ["worker": "\(options.workerID)"])
            }
            session.registered = true
            if welcome.heartbeatIntervalMs > 0 { session.interval = .milliseconds(welcome.heartbeatIntervalMs) }
            session.nextBeat = now + session.interval
        case .heartbeat:
            break
        case .task(let request):
            accept(request, on: socket)
        case .cancel(let ref):
            let task = state.withLock { $0.inFlight[ref.taskID] }
            logger.info("cancel requested", metadata: ["task": "\(ref.taskID)", "running": "\(task != nil)"])
            task?.cancel()
        case .error(let body):
            logger.warning("controller reported an error", metadata: ["code": "\(body.code)", "error": "\(body.message)"])
            switch body.code {
            case WireErrorCode.unregistered.rawValue:
                session.registered = false
                send(.hello(hello()), on: socket)
                session.nextBeat = now + session.interval
            case WireErrorCode.duplicateID.rawValue:
                session.registered = false  // HELLO again after an interval; the other may be gone by then
                session.nextBeat = now + max(session.interval, .seconds(1))
            default:
                break
            }
        case .hello, .accepted, .output, .done, .bye:
            send(.error(WireErrorBody(code: .unexpected, message: "\(message.type) is not sent by controllers")),
                 on: socket)
        }
    }

    private func accept(_ request: TaskRequest, on socket: borrowing ZMQSocket) {
        enum Verdict { case accept(RunningTask), refuse(String) }
        let verdict: Verdict = state.withLock { state in
            guard state.phase == .running else { return .refuse("worker is shutting down") }
            guard state.inFlight.count < options.capacity else {
                return .refuse("worker is at capacity (\(options.capacity) tasks running)")
            }
            guard state.inFlight[request.taskID] == nil else { return .refuse("task id is already running here") }
            let running = RunningTask()
            state.inFlight[request.taskID] = running
            state.output[request.taskID] = OutputCoalescer(taskID: request.taskID, limit: request.outputLimit)
            return .accept(running)
        }
        switch verdict {
        case .refuse(let reason):
            send(.error(WireErrorBody(code: .busy, message: reason, taskID: request.taskID)), on: socket)
        case .accept(let running):
            // Started first, so that the run starts while ACCEPTED is sent; ACCEPTED still goes
            // out before the task's OUTPUT and DONE, which this thread sends later in its loop.
            start(request, running: running)
            send(.accepted(TaskRef(taskID: request.taskID)), on: socket)
        }
    }
}
