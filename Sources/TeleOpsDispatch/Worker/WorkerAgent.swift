import CShims
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TeleOpsCore

/// The worker side of dispatch: connects a DEALER to the controller, registers with HELLO, sends
/// heartbeats, and runs each TASK with its `Executor`, answering ACCEPTED, then OUTPUT chunks
/// while the command runs, then DONE.
///
/// ```swift
/// let agent = WorkerAgent(options: WorkerOptions(connect: endpoint, workerID: "web-1", hosts: ["web-1"]),
///                         logger: logger)
/// let group = ServiceGroup(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
///
/// - Each command runs with the worker's environment plus the TASK's `env` (the TASK wins), the
///   worker's limits with the TASK's fields replacing them, the TASK's user and group or else the
///   worker's, and the TASK's working directory.
/// - Output is streamed as OUTPUT chunks, coalesced and cut at character boundaries (see
///   `OutputCoalescer`); the chunks of a task all precede its DONE.
/// - Graceful shutdown: TASKs are refused ("busy"), running ones finish and report DONE, then
///   BYE is sent and `run()` returns. Cancellation kills running tasks and returns at once.
/// - ERROR "unregistered" (the controller restarted) makes it say HELLO again; so does
///   "duplicate_id", after a heartbeat interval.
/// - CANCEL kills the task's process group like a timeout (SIGTERM, kill grace, SIGKILL), and
///   its DONE says `cancelled`.
public final class WorkerAgent: Service {
    let options: WorkerOptions
    let executor: any Executor
    let logger: Logger
    let context: ZMQContext
    let wake = WakeSignal()
    let state = Mutex(AgentState())

    struct AgentState {
        enum Phase { case running, draining, stopping }
        var phase = Phase.running
        var outbox: [WireMessage] = []
        var inFlight: [String: RunningTask] = [:]
        /// Output of running tasks not yet sent, by task id.
        var output: [String: OutputCoalescer] = [:]
        /// `run()` waiting, after the socket thread ended, for the last running task to end.
        var idleWaiter: CheckedContinuation<Void, Never>?

        /// Moves the OUTPUT chunks due at `now` to the outbox; returns when the next one is due.
        mutating func collectOutput(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
            var next: ContinuousClock.Instant?
            for taskID in output.keys {
                guard let due = output[taskID]?.due(now: now) else { continue }
                if due <= now {
                    if let chunk = output[taskID]?.take(final: false, now: now) { outbox.append(.output(chunk)) }
                } else {
                    next = min(next ?? due, due)
                }
            }
            return next
        }
    }

    /// Why `run()` refused to start.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// This process's parent pid (`getppid`); tests give a stand-in to play a lost parent.
    let currentParent: @Sendable () -> pid_t

    public convenience init(options: WorkerOptions, executor: any Executor = ProcessExecutor(), logger: Logger,
                            context: ZMQContext = .shared) {
        self.init(options: options, executor: executor, logger: logger, context: context, currentParent: { getppid() })
    }

    init(options: WorkerOptions, executor: any Executor, logger: Logger, context: ZMQContext,
         currentParent: @escaping @Sendable () -> pid_t) {
        self.options = options
        self.executor = executor
        self.logger = logger
        self.context = context
        self.currentParent = currentParent
    }

    public func run() async throws {
        // Orphaned grandchildren of our tasks are reparented to us, so the executor can reap them.
        if teleops_set_child_subreaper(1) != 0 {
            logger.warning("cannot become a child subreaper; orphans of tasks may linger as zombies")
        }
        if let parentPID = options.parentPID {
            _ = teleops_set_parent_death_signal(SIGTERM)
            // The parent may have died before prctl: then no signal will ever come.
            let parent = currentParent()
            guard parent == parentPID else {
                throw StartError(description: "parent process \(parentPID) is gone (parent is now \(parent)); exiting")
            }
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await onDedicatedThread(name: "teleops-worker") { [self] in socketThread() }
            } onGracefulShutdown: { [self] in
                state.withLock { if $0.phase == .running { $0.phase = .draining } }
                wake.signal()
            }
        } onCancel: { [self] in
            state.withLock { $0.phase = .stopping }
            wake.signal()
        }
        // Cancelled, the parent gone or the socket failed: stop what still runs, and return
        // once every run has ended (its process tree killed and reaped).
        let running = state.withLock { Array($0.inFlight.values) }
        running.forEach { $0.cancel() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state -> Bool in
                if state.inFlight.isEmpty { return true }
                state.idleWaiter = continuation
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Starts one accepted task on the executor, from the socket thread, without a hop through
    /// the task pool; its output streams as it comes, and its DONE is queued when it ends.
    func start(_ request: TaskRequest, running: RunningTask) {
        let onOutput: @Sendable ([UInt8]) -> Void = { [self] bytes in
            let now = ContinuousClock.now
            if state.withLock({ $0.output[request.taskID]?.append(bytes, now: now) ?? false }) { wake.signal() }
        }
        running.attach(executor.start(Self.execSpec(request, options), onOutput: onOutput) { [self] result in
            finish(request, result, cancelled: running.finish() == .cancelled)
        })
    }

    /// Queues a task's DONE (after its last OUTPUT) for the socket thread.
    private func finish(_ request: TaskRequest, _ result: ExecResult, cancelled: Bool) {
        var done = Self.taskResult(request, result, worker: options.workerID)
        done.cancelled = cancelled
        let idleWaiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.inFlight[request.taskID] = nil
            // The last chunk, with any incomplete character, goes out before DONE.
            if var rest = state.output.removeValue(forKey: request.taskID),
               let chunk = rest.take(final: true, now: .now) {
                state.outbox.append(.output(chunk))
            }
            state.outbox.append(.done(done))
            guard state.inFlight.isEmpty else { return nil }
            defer { state.idleWaiter = nil }
            return state.idleWaiter
        }
        wake.signal()
        idleWaiter?.resume()
    }

    /// What the executor runs for `request` on a worker configured with `options`.
    static func execSpec(_ request: TaskRequest, _ options: WorkerOptions) -> ExecSpec {
        ExecSpec(argv: request.argv, timeout: .milliseconds(request.timeoutMs), killGrace: options.killGrace,
                 outputLimit: min(request.outputLimit, WireCodec.maxOutputLimit),
                 environment: options.environment.merging(request.environment) { _, fromTask in fromTask },
                 workingDirectory: request.workingDirectory, limits: options.limits.overridden(by: request.limits),
                 user: request.user ?? options.user, group: request.group ?? options.group)
    }

    static func taskResult(_ request: TaskRequest, _ result: ExecResult, worker: String) -> TaskResult {
        let (seconds, attoseconds) = result.duration.components
        var output = String(decoding: result.output, as: UTF8.self)
        if let spawnError = result.spawnError { output = "teleops: \(spawnError)\n" + output }
        return TaskResult(taskID: request.taskID, action: request.action, worker: worker, exitCode: result.exitCode,
                          signal: result.signal, timedOut: result.timedOut,
                          durationMs: Double(seconds) * 1000 + Double(attoseconds) / 1e15,
                          output: output, truncated: result.truncated)
    }
}
