import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TeleOpsCore

/// The controller's side of dispatch: a ZeroMQ ROUTER that workers connect to, a registry of
/// workers and the hosts they serve, and the `Dispatcher` the responder calls.
///
/// ```swift
/// let broker = Broker(endpoint: "tcp://127.0.0.1:*", heartbeatInterval: .seconds(1),
///                     heartbeatTimeout: .seconds(5), maxQueued: 100, logger: logger)
/// // run it in a ServiceGroup, then:
/// let endpoint = try await broker.boundEndpoint()       // "tcp://127.0.0.1:40123"
/// let outcome = await broker.dispatch(TaskRequest(action: "uptime", host: "web-1", argv: ["uptime"],
///                                                 timeout: .seconds(5), outputLimit: 65536))
/// ```
///
/// A dedicated thread owns the socket and polls it together with an eventfd that async callers
/// write after queueing work under a Mutex, so dispatch never waits for a poll timeout.
/// Choosing a worker: one whose hosts name the request's host, or, only when no registered
/// worker names it, one serving `"*"`; with a free slot, least loaded first (a command about a
/// host runs on that host whenever its worker is connected, never on a catch-all worker beside
/// it). When every such worker is full the request waits in a FIFO queue of at
/// most `maxQueued` entries; when no worker serves the host it is rejected at once, except
/// during `startupGrace` after the broker binds: workers connect a moment after a controller
/// (re)start, so until then such a request waits in the queue for one to register.
/// `run()` can be called once.
public final class Broker: Service, Dispatcher {
    let endpoint: String
    let heartbeatInterval: Duration
    let heartbeatTimeout: Duration
    let startupGrace: Duration
    let logger: Logger
    let state: Mutex<BrokerState>
    let wake = WakeSignal()
    let context: ZMQContext
    let curve: BrokerCurve?

    /// - Parameters:
    ///   - startupGrace: how long after binding a request for a host nobody serves yet waits for
    ///     a worker to register; nil means `heartbeatTimeout`.
    ///   - resultGrace: how long after a task's timeout its worker may still send the result
    ///     before the task counts as lost (the result went missing); nil means
    ///     `heartbeatTimeout` plus 30 s, far beyond the worker's own kill grace.
    ///   - curve: encrypt and authenticate workers (Broker+Curve.swift); required off loopback.
    public init(endpoint: String, heartbeatInterval: Duration, heartbeatTimeout: Duration, maxQueued: Int,
                startupGrace: Duration? = nil, resultGrace: Duration? = nil, curve: BrokerCurve? = nil, logger: Logger,
                context: ZMQContext = .shared) {
        self.curve = curve
        self.endpoint = endpoint
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.startupGrace = startupGrace ?? heartbeatTimeout
        self.logger = logger
        self.state = Mutex(BrokerState(maxQueued: max(0, maxQueued), resultGrace: resultGrace ?? heartbeatTimeout + .seconds(30)))
        self.context = context
    }

    /// Binds, serves workers until graceful shutdown or cancellation, then rejects whatever is
    /// still pending with "controller shutting down". Throws if the endpoint cannot be bound.
    public func run() async throws {
        let claimed = state.withLock { state in
            guard state.phase == .idle else { return false }
            state.phase = .running
            return true
        }
        guard claimed else { throw ZMQError(operation: "Broker.run: already running or stopped", code: EALREADY) }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    let thread = Thread { [self] in
                        socketThread()
                        done.resume()
                    }
                    thread.name = "teleops-broker"
                    thread.start()
                }
            } onGracefulShutdown: { [self] in requestStop() }
        } onCancel: { [self] in requestStop() }
        if let error = state.withLock({ $0.runError }) { throw error }
    }

    /// The endpoint the ROUTER is bound to, with the real port when bound to `*`.
    /// Waits until `run()` has bound it; throws if binding failed or the broker stopped.
    public func boundEndpoint() async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            let immediate: Result<String, any Error>? = state.withLock { state in
                if let endpoint = state.endpoint { return .success(endpoint) }
                if let error = state.runError { return .failure(error) }
                if state.phase == .stopped || state.phase == .stopping {
                    return .failure(ZMQError(operation: "Broker.boundEndpoint: broker stopped", code: ESHUTDOWN))
                }
                state.endpointWaiters.append(continuation)
                return nil
            }
            if let immediate { continuation.resume(with: immediate) }
        }
    }

    /// Runs `request` on a worker serving its host; see the type's documentation for the rules.
    /// Cancelling the calling task drops a queued request or sends CANCEL for a running one.
    public func dispatch(_ request: TaskRequest, progress: (@Sendable (TaskOutput) -> Void)?) async -> TaskOutcome {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<TaskOutcome, Never>) in
                let resumption = state.withLock {
                    $0.submit(request, continuation, progress: progress, cancelled: Task.isCancelled)
                }
                if let resumption {
                    resumption.continuation.resume(returning: resumption.outcome)
                } else {
                    wake.signal()
                }
            }
        } onCancel: { [self] in
            state.withLock { $0.cancel(request.taskID) }.map { $0.continuation.resume(returning: $0.outcome) }
            wake.signal()
        }
    }

    /// Fast path for the local supervisor: the worker's process died, so its in-flight tasks are
    /// lost now rather than after the heartbeat timeout, and it leaves the registry.
    public func workerExited(id: String, reason: String) {
        let (known, resumptions) = state.withLock { state in
            (state.workers[id] != nil, state.drop(id, reason: "worker '\(id)' exited: \(reason)"))
        }
        if known {
            logger.warning("worker exited", metadata: ["worker": "\(id)", "reason": "\(reason)",
                                                       "lost_tasks": "\(resumptions.count)"])
        }
        resume(resumptions)
        wake.signal()  // queued TASKs may have moved to other workers
    }

    public func workers(matching labels: [String: String]) async -> [WorkerSummary] {
        registeredWorkers()
            .filter { worker in labels.allSatisfy { worker.labels[$0.key] == $0.value } }
            .map { WorkerSummary(id: $0.id, hosts: $0.hosts, labels: $0.labels) }
    }

    /// The workers registered now, sorted by id.
    public func registeredWorkers() -> [WorkerInfo] {
        state.withLock { $0.info() }
    }

    func requestStop() {
        state.withLock { state in
            if state.phase == .running || state.phase == .idle { state.phase = .stopping }
        }
        wake.signal()
    }

    func resume(_ resumptions: [Resumption]) {
        for resumption in resumptions { resumption.continuation.resume(returning: resumption.outcome) }
    }
}
