import Foundation
import TeleOpsCore

/// A continuation to resume outside the lock, with what to resume it with.
typealias Resumption = (continuation: CheckedContinuation<TaskOutcome, Never>, outcome: TaskOutcome)

/// One message waiting for the socket thread to send it.
struct Outgoing: Sendable {
    var identity: [UInt8]
    var message: WireMessage
}

/// The broker's registry, pending tasks and queue; guarded by the broker's Mutex.
/// Pure bookkeeping: no I/O, so every rule here is testable through the broker's public API.
struct BrokerState: Sendable {
    enum Phase: Sendable { case idle, running, stopping, stopped }

    struct Worker: Sendable {
        var hello: Hello
        var identity: [UInt8]
        var inFlight: Set<String> = []
        var lastSeen: ContinuousClock.Instant
        var lastSeenDate: Date

        func serves(_ host: String) -> Bool { hello.hosts.contains("*") || hello.hosts.contains(host) }
        func names(_ host: String) -> Bool { hello.hosts.contains(host) }
        /// Commands the worker runs that this broker did not send it (from before a controller
        /// restart, or sent to it under an id it has since registered again): they hold slots
        /// all the same. From its last HEARTBEAT's `in_flight`.
        var strays = 0
        var free: Int { hello.capacity - inFlight.count - strays }
    }

    struct Pending: Sendable {
        var request: TaskRequest
        var continuation: CheckedContinuation<TaskOutcome, Never>
        /// Gets each OUTPUT of the task, in `seq` order, on the socket thread.
        var progress: (@Sendable (TaskOutput) -> Void)?
        /// nil while queued.
        var worker: String?
        /// When the task counts as lost if its DONE has not come (set when it is sent).
        var deadline: ContinuousClock.Instant?
        /// The highest OUTPUT `seq` passed to `progress` (-1: none yet).
        var lastSeq = -1
    }

    /// What to do with an OUTPUT message.
    enum OutputVerdict {
        /// Call this handler with the chunk (outside the lock).
        case deliver((@Sendable (TaskOutput) -> Void)?)
        /// The chunk skips `missing` sequence numbers (lost on the way); deliver it all the same.
        case deliverAfterGap((@Sendable (TaskOutput) -> Void)?, missing: Int)
        /// Drop it: its task is not pending, or not on this worker (worth a debug line).
        case stray(String)
        /// Drop it: its `seq` was delivered already or is older than the last one delivered.
        case stale(lastSeq: Int)
    }

    let maxQueued: Int
    /// How long after its own timeout a task sent to a worker may still report before it counts
    /// as lost (`overdue`).
    let resultGrace: Duration
    var phase = Phase.idle
    var workers: [String: Worker] = [:]
    /// Routing id of a connection → the worker id it registered.
    var connections: [[UInt8]: String] = [:]
    var pending: [String: Pending] = [:]
    var queue: [String] = []
    var outbox: [Outgoing] = []
    var endpoint: String?
    var runError: ZMQError?
    var endpointWaiters: [CheckedContinuation<String, any Error>] = []
    /// Until then, a request for a host nobody serves waits for a worker to register.
    var waitForWorkersUntil: ContinuousClock.Instant?

    var inStartupGrace: Bool { waitForWorkersUntil.map { ContinuousClock.now < $0 } ?? false }

    init(maxQueued: Int, resultGrace: Duration = .seconds(60)) {
        self.maxQueued = maxQueued
        self.resultGrace = resultGrace
    }

    // MARK: Dispatch

    /// Assigns, queues or rejects a new request. Returns a resumption when it is decided at once.
    mutating func submit(_ request: TaskRequest, _ continuation: CheckedContinuation<TaskOutcome, Never>,
                         progress: (@Sendable (TaskOutput) -> Void)?, cancelled: Bool) -> Resumption? {
        guard phase == .running else { return (continuation, .rejected(reason: "controller shutting down")) }
        if cancelled { return (continuation, .rejected(reason: "cancelled before it was dispatched")) }
        guard pending[request.taskID] == nil else {
            return (continuation, .rejected(reason: "a task with id '\(request.taskID)' is already running"))
        }
        if let pinned = request.workerID {
            guard workers[pinned] != nil else {
                return (continuation, .rejected(reason: "worker '\(pinned)' is not registered"
                    + (workers.isEmpty ? " (no worker is registered)" : " (registered: \(workers.keys.sorted().joined(separator: ", ")))")))
            }
        } else {
            let serving = workers.values.contains { $0.serves(request.host) }
            guard serving || inStartupGrace else {
                return (continuation, .rejected(reason: noWorkerReason(request.host)))
            }
        }
        pending[request.taskID] = Pending(request: request, continuation: continuation, progress: progress)
        if let worker = pick(for: request) {
            assign(request.taskID, to: worker)
            return nil
        }
        guard queue.count < maxQueued else {
            pending[request.taskID] = nil
            return (continuation, .rejected(reason: busyReason(request)))
        }
        queue.append(request.taskID)
        return nil
    }

    /// Why `request` found no free slot and no room in the queue.
    private func busyReason(_ request: TaskRequest) -> String {
        let queued = "\(queue.count) task(s) are already queued (limit \(maxQueued)); retry later"
        if let pinned = request.workerID, let worker = workers[pinned] {
            return "busy: worker '\(pinned)' is at capacity (\(worker.hello.capacity) slots) and " + queued
        }
        let serving = serving(request.host)
        let slots = serving.map(\.hello.capacity).reduce(0, +)
        return "busy: all \(serving.count) worker(s) serving '\(request.host)' are at capacity (\(slots) slots) and "
            + queued
    }

    /// The worker `request` should go to now: its pinned worker if that has a free slot, else the
    /// least loaded worker serving its host with a free slot; nil when it has to wait.
    func pick(for request: TaskRequest) -> String? {
        if let pinned = request.workerID {
            return workers[pinned].flatMap { $0.free > 0 ? pinned : nil }
        }
        return pick(for: request.host)
    }

    /// The least loaded of `serving(host)` with a free slot (ties: lowest id, for determinism).
    func pick(for host: String) -> String? {
        serving(host)
            .filter { $0.free > 0 }
            .min { ($0.inFlight.count, $0.hello.workerID) < ($1.inFlight.count, $1.hello.workerID) }?
            .hello.workerID
    }

    /// The workers a request for `host` may run on: those that name the host, or, when no
    /// registered worker does, those that serve every host (`"*"`). A command about a host runs
    /// on that host whenever its worker is connected; a catch-all worker (such as the
    /// controller's local ones) stands in only for hosts without a worker of their own. When
    /// the host's workers are all busy, the request waits for them rather than run elsewhere.
    func serving(_ host: String) -> [Worker] {
        let named = workers.values.filter { $0.names(host) }
        return named.isEmpty ? workers.values.filter { $0.serves(host) } : Array(named)
    }

    mutating func assign(_ taskID: String, to workerID: String) {
        guard var pendingTask = pending[taskID], let worker = workers[workerID] else { return }
        pendingTask.worker = workerID
        pendingTask.deadline = .now + .milliseconds(pendingTask.request.timeoutMs) + resultGrace
        pending[taskID] = pendingTask
        workers[workerID]?.inFlight.insert(taskID)
        outbox.append(Outgoing(identity: worker.identity, message: .task(pendingTask.request)))
    }

    /// Moves queued tasks to workers with free slots; rejects those that can no longer run (their
    /// host is served by nobody, or their pinned worker has left).
    mutating func pump() -> [Resumption] {
        var resumptions: [Resumption] = []
        var remaining: [String] = []
        for taskID in queue {
            guard let task = pending[taskID] else { continue }
            if let worker = pick(for: task.request) {
                assign(taskID, to: worker)
            } else if let reason = unrunnableReason(task.request) {
                pending[taskID] = nil
                resumptions.append((task.continuation, .rejected(reason: reason)))
            } else {
                remaining.append(taskID)
            }
        }
        queue = remaining
        return resumptions
    }

    /// Why a queued request can never run as things stand, or nil if it only has to wait.
    private func unrunnableReason(_ request: TaskRequest) -> String? {
        if let pinned = request.workerID {
            return workers[pinned] == nil ? "worker '\(pinned)' left before the task could run" : nil
        }
        if workers.values.contains(where: { $0.serves(request.host) }) || inStartupGrace { return nil }
        return noWorkerReason(request.host)
    }

    /// OUTPUT from `workerID`: delivered when its task is pending on that worker and its `seq` is
    /// newer than the last delivered one.
    mutating func output(_ chunk: TaskOutput, from workerID: String) -> OutputVerdict {
        guard var task = pending[chunk.taskID] else { return .stray("no such task is pending") }
        guard task.worker == workerID else {
            return .stray("the task runs on \(task.worker.map { "worker '\($0)'" } ?? "no worker yet")")
        }
        guard chunk.seq > task.lastSeq else { return .stale(lastSeq: task.lastSeq) }
        let missing = chunk.seq - task.lastSeq - 1
        task.lastSeq = chunk.seq
        pending[chunk.taskID] = task
        return missing == 0 ? .deliver(task.progress) : .deliverAfterGap(task.progress, missing: missing)
    }

    /// The caller's task was cancelled: a queued task is dropped, a running one gets CANCEL.
    mutating func cancel(_ taskID: String) -> Resumption? {
        guard let task = pending[taskID] else { return nil }
        guard let workerID = task.worker else {
            pending[taskID] = nil
            queue.removeAll { $0 == taskID }
            return (task.continuation, .rejected(reason: "cancelled before it ran"))
        }
        if let worker = workers[workerID] {
            outbox.append(Outgoing(identity: worker.identity, message: .cancel(TaskRef(taskID: taskID))))
        }
        return nil
    }

    /// A TASK could not be sent: the task goes back to the front of the queue.
    mutating func unassign(_ taskID: String) {
        guard var task = pending[taskID], let workerID = task.worker else { return }
        workers[workerID]?.inFlight.remove(taskID)
        task.worker = nil
        task.deadline = nil
        pending[taskID] = task
        queue.insert(taskID, at: 0)
    }

    /// DONE from `workerID`.
    mutating func complete(_ result: TaskResult, from workerID: String) -> [Resumption] {
        guard let task = pending[result.taskID], task.worker == workerID else { return [] }
        pending[result.taskID] = nil
        workers[workerID]?.inFlight.remove(result.taskID)
        return [(task.continuation, .finished(result))] + pump()
    }

    /// The worker refused or failed a task it was sent (ERROR with a task id).
    mutating func fail(_ taskID: String, from workerID: String, reason: String) -> [Resumption] {
        guard let task = pending[taskID], task.worker == workerID else { return [] }
        pending[taskID] = nil
        workers[workerID]?.inFlight.remove(taskID)
        return [(task.continuation, .rejected(reason: "worker '\(workerID)' refused the task: \(reason)"))] + pump()
    }

    /// Tasks sent to a worker that is still there but has not reported `resultGrace` after the
    /// task's own timeout: the worker kills a command at its timeout and reports at once, so its
    /// DONE was lost (refused on the way, or never sent) and would otherwise be awaited forever,
    /// with the task's slot counted as taken. Each ends as lost, and the worker is told to
    /// cancel it, in case it is still running after all.
    mutating func overdue(at now: ContinuousClock.Instant) -> [Resumption] {
        let late = pending.filter { _, task in task.deadline.map { $0 <= now } ?? false }.keys.sorted()
        guard !late.isEmpty else { return [] }
        var resumptions: [Resumption] = []
        for taskID in late {
            guard let task = pending.removeValue(forKey: taskID), let workerID = task.worker else { continue }
            workers[workerID]?.inFlight.remove(taskID)
            if let worker = workers[workerID] {
                outbox.append(Outgoing(identity: worker.identity, message: .cancel(TaskRef(taskID: taskID))))
            }
            let timeout = Duration.milliseconds(task.request.timeoutMs)
            let reason = "worker '\(workerID)' sent no result \(resultGrace) after the task's timeout of \(timeout); "
                + "the command may have run"
            resumptions.append((task.continuation, .lost(worker: workerID, reason: reason)))
        }
        return resumptions + pump()
    }

    // MARK: Registry

    /// Removes a worker; its in-flight tasks are lost, queued tasks nobody else serves are rejected.
    mutating func drop(_ workerID: String, reason: String) -> [Resumption] {
        guard let worker = workers.removeValue(forKey: workerID) else { return [] }
        connections[worker.identity] = nil
        var resumptions: [Resumption] = []
        for taskID in worker.inFlight.sorted() {
            if let task = pending.removeValue(forKey: taskID) {
                resumptions.append((task.continuation, .lost(worker: workerID, reason: reason)))
            }
        }
        return resumptions + pump()
    }

    /// A HEARTBEAT's `in_flight`: what it runs beyond the tasks sent to it counts against its
    /// capacity until a later HEARTBEAT says they ended. Messages of one connection arrive in
    /// order, so a HEARTBEAT sent before a DONE is read while that task still counts here, and
    /// a task sent but not yet received makes `inFlight` larger, never `strays`. Returns the
    /// queued tasks that can now run, when slots came free.
    mutating func heartbeat(_ reportedInFlight: Int?, from workerID: String) -> [Resumption] {
        guard let reported = reportedInFlight, var worker = workers[workerID] else { return [] }
        let strays = max(0, reported - worker.inFlight.count)
        guard strays != worker.strays else { return [] }
        worker.strays = strays
        workers[workerID] = worker
        return pump()
    }

    /// Workers silent for longer than `timeout`.
    func silent(at now: ContinuousClock.Instant, timeout: Duration) -> [String] {
        workers.values.filter { now - $0.lastSeen > timeout }.map(\.hello.workerID).sorted()
    }

    /// Shutdown: everything still pending is rejected.
    mutating func stop() -> [Resumption] {
        phase = .stopped
        let resumptions = pending.values.map { ($0.continuation, TaskOutcome.rejected(reason: "controller shutting down")) }
        pending = [:]
        queue = []
        workers = [:]
        connections = [:]
        outbox = []
        return resumptions
    }

    func info() -> [WorkerInfo] {
        workers.values.map {
            WorkerInfo(id: $0.hello.workerID, hosts: $0.hello.hosts, labels: $0.hello.labels, capacity: $0.hello.capacity,
                       inFlight: $0.inFlight.count, lastHeartbeat: $0.lastSeenDate, pid: $0.hello.pid,
                       version: $0.hello.version)
        }.sorted { $0.id < $1.id }
    }

    private func noWorkerReason(_ host: String) -> String {
        let known = Set(workers.values.flatMap(\.hello.hosts)).sorted()
        return "no worker serves host '\(host)'"
            + (known.isEmpty ? " (no worker is registered)" : " (hosts served: \(known.joined(separator: ", ")))")
    }
}
