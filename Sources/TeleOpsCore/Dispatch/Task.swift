import Foundation

/// A command to run on a host: what the dispatcher sends to a worker.
///
/// ```swift
/// let request = TaskRequest(action: "disk", host: "web-1", argv: ["df", "-h"],
///                           timeout: .seconds(10), outputLimit: 64 * 1024)
/// ```
public struct TaskRequest: Sendable, Equatable, Codable {
    public var taskID: String
    public var action: String
    public var host: String
    public var argv: [String]
    /// Milliseconds the command may run before its whole process group is killed.
    public var timeoutMs: Int
    /// Bytes of output kept; the rest is counted and dropped (`truncated`).
    public var outputLimit: Int
    /// Variables the action declares, added to the worker's allowlisted environment.
    public var environment: [String: String]
    /// The command's working directory (nil: the worker's default).
    public var workingDirectory: String?
    /// The unprivileged user (and group) to run as when the worker runs as root (nil: the worker's default).
    public var user: String?
    public var group: String?
    /// Limits that replace the worker's defaults, field by field (nil fields keep the default).
    public var limits: ResourceLimits?
    /// Run on exactly this worker (fan-out by labels), whatever hosts it serves; nil routes by `host`.
    public var workerID: String?

    public init(
        taskID: String = UUID().uuidString.lowercased(), action: String, host: String, argv: [String],
        timeout: Duration, outputLimit: Int, environment: [String: String] = [:], workingDirectory: String? = nil,
        user: String? = nil, group: String? = nil, limits: ResourceLimits? = nil, workerID: String? = nil
    ) {
        self.taskID = taskID
        self.action = action
        self.host = host
        self.argv = argv
        self.timeoutMs = Int(timeout.milliseconds)
        self.outputLimit = outputLimit
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.group = group
        self.limits = limits
        self.workerID = workerID
    }

    enum CodingKeys: String, CodingKey {
        case taskID = "task_id", action, host, argv, timeoutMs = "timeout_ms", outputLimit = "output_limit"
        case environment = "env", workingDirectory = "cwd", user, group, limits, workerID = "worker"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        taskID = try container.decode(String.self, forKey: .taskID)
        action = try container.decode(String.self, forKey: .action)
        host = try container.decode(String.self, forKey: .host)
        argv = try container.decode([String].self, forKey: .argv)
        timeoutMs = try container.decode(Int.self, forKey: .timeoutMs)
        outputLimit = try container.decode(Int.self, forKey: .outputLimit)
        environment = try container.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        workingDirectory = try container.decodeIfPresent(String.self, forKey: .workingDirectory)
        user = try container.decodeIfPresent(String.self, forKey: .user)
        group = try container.decodeIfPresent(String.self, forKey: .group)
        limits = try container.decodeIfPresent(ResourceLimits.self, forKey: .limits)
        workerID = try container.decodeIfPresent(String.self, forKey: .workerID)
    }

    /// Optional fields are left out when unset (an empty environment included), so a plain task stays small on the wire.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(taskID, forKey: .taskID)
        try container.encode(action, forKey: .action)
        try container.encode(host, forKey: .host)
        try container.encode(argv, forKey: .argv)
        try container.encode(timeoutMs, forKey: .timeoutMs)
        try container.encode(outputLimit, forKey: .outputLimit)
        if !environment.isEmpty { try container.encode(environment, forKey: .environment) }
        try container.encodeIfPresent(workingDirectory, forKey: .workingDirectory)
        try container.encodeIfPresent(user, forKey: .user)
        try container.encodeIfPresent(group, forKey: .group)
        try container.encodeIfPresent(limits, forKey: .limits)
        try container.encodeIfPresent(workerID, forKey: .workerID)
    }
}

/// Resource limits applied to a command's process (setrlimit in the child before exec).
/// Core files are always off. A nil field means "no limit set here".
public struct ResourceLimits: Sendable, Equatable, Codable {
    /// RLIMIT_CPU: CPU seconds before the kernel sends SIGXCPU (then SIGKILL).
    public var cpuSeconds: Int?
    /// RLIMIT_AS: bytes of address space.
    public var addressSpaceBytes: Int?
    /// RLIMIT_NOFILE: open file descriptors.
    public var openFiles: Int?
    /// RLIMIT_NPROC: processes of the user the command runs as (stops fork bombs; root ignores it).
    public var processes: Int?

    public init(cpuSeconds: Int? = nil, addressSpaceBytes: Int? = nil, openFiles: Int? = nil, processes: Int? = nil) {
        self.cpuSeconds = cpuSeconds
        self.addressSpaceBytes = addressSpaceBytes
        self.openFiles = openFiles
        self.processes = processes
    }

    /// What a worker applies when neither it nor the action says otherwise.
    public static let standard = ResourceLimits(
        cpuSeconds: 600, addressSpaceBytes: 4 << 30, openFiles: 1024, processes: 512)

    /// `self` with every field `override` sets replaced.
    public func overridden(by override: ResourceLimits?) -> ResourceLimits {
        guard let override else { return self }
        return ResourceLimits(
            cpuSeconds: override.cpuSeconds ?? cpuSeconds,
            addressSpaceBytes: override.addressSpaceBytes ?? addressSpaceBytes,
            openFiles: override.openFiles ?? openFiles, processes: override.processes ?? processes)
    }

    enum CodingKeys: String, CodingKey {
        case cpuSeconds = "cpu_seconds", addressSpaceBytes = "address_space_bytes", openFiles = "open_files", processes
    }
}

/// A piece of a running command's output (OUTPUT on the wire), in order: `seq` counts from 0
/// per task. Chunks end on UTF-8 character boundaries; their total stays within the task's
/// `outputLimit`.
public struct TaskOutput: Sendable, Equatable, Codable {
    public var taskID: String
    public var seq: Int
    public var data: String

    public init(taskID: String, seq: Int, data: String) {
        self.taskID = taskID
        self.seq = seq
        self.data = data
    }

    enum CodingKeys: String, CodingKey { case taskID = "task_id", seq, data }
}

/// How a command ended on its worker.
public struct TaskResult: Sendable, Equatable, Codable {
    public var taskID: String
    public var action: String
    public var worker: String
    /// The exit status when the process exited by itself.
    public var exitCode: Int32?
    /// The signal that ended the process, when one did.
    public var signal: Int32?
    public var timedOut: Bool
    public var durationMs: Double
    /// stdout and stderr interleaved as written, decoded as UTF-8 (invalid bytes replaced).
    public var output: String
    public var truncated: Bool
    /// The worker killed it because the controller sent CANCEL (an engineer's `cancel`).
    public var cancelled: Bool

    public init(
        taskID: String, action: String, worker: String, exitCode: Int32?, signal: Int32?, timedOut: Bool,
        durationMs: Double, output: String, truncated: Bool, cancelled: Bool = false
    ) {
        self.taskID = taskID
        self.action = action
        self.worker = worker
        self.exitCode = exitCode
        self.signal = signal
        self.timedOut = timedOut
        self.durationMs = durationMs
        self.output = output
        self.truncated = truncated
        self.cancelled = cancelled
    }

    /// True when the command exited by itself with status 0.
    public var succeeded: Bool { exitCode == 0 && !timedOut && !cancelled }

    /// "exit 0 in 12 ms", "timed out after 1000 ms (killed by signal 9)", …
    public var outcomeDescription: String {
        let duration = durationMs < 10 ? String(format: "%.1f ms", durationMs) : "\(Int(durationMs.rounded())) ms"
        var text: String
        if cancelled {
            text = "cancelled after \(duration)"
            if let signal { text += " (process group killed, signal \(signal))" }
        } else if timedOut {
            text = "timed out after \(duration)"
            if let signal { text += " (process group killed, signal \(signal))" }
        } else if let signal {
            text = "killed by signal \(signal) after \(duration)"
        } else {
            text = "exit \(exitCode ?? -1) in \(duration)"
        }
        if truncated { text += ", output truncated" }
        return text
    }

    enum CodingKeys: String, CodingKey {
        case taskID = "task_id", action, worker, exitCode = "exit_code", signal, timedOut = "timed_out"
        case durationMs = "duration_ms", output, truncated, cancelled
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        taskID = try container.decode(String.self, forKey: .taskID)
        action = try container.decode(String.self, forKey: .action)
        worker = try container.decode(String.self, forKey: .worker)
        exitCode = try container.decodeIfPresent(Int32.self, forKey: .exitCode)
        signal = try container.decodeIfPresent(Int32.self, forKey: .signal)
        timedOut = try container.decode(Bool.self, forKey: .timedOut)
        durationMs = try container.decode(Double.self, forKey: .durationMs)
        output = try container.decode(String.self, forKey: .output)
        truncated = try container.decode(Bool.self, forKey: .truncated)
        cancelled = try container.decodeIfPresent(Bool.self, forKey: .cancelled) ?? false
    }
}

/// What became of a dispatched command.
public enum TaskOutcome: Sendable, Equatable {
    /// The worker ran it to the end (exit, signal or timeout).
    case finished(TaskResult)
    /// The worker died or went silent while running it: its result is unknown.
    case lost(worker: String, reason: String)
    /// It never ran: no worker serves the host, all are busy, or the request was invalid.
    case rejected(reason: String)
}

/// Sends commands to workers on the right host. The seam between the responder and ZeroMQ.
///
/// ```swift
/// switch await dispatcher.dispatch(request) { chunk in print(chunk.data, terminator: "") } {
/// case .finished(let result): print(result.outcomeDescription)
/// case .lost(let worker, let reason): print("lost on \(worker): \(reason)")
/// case .rejected(let reason): print(reason)
/// }
/// ```
///
/// Cancelling the calling task cancels the command: a queued one is dropped (`.rejected`),
/// a running one gets CANCEL and its worker kills its process tree (`.finished` with
/// `cancelled` set).
public protocol Dispatcher: Sendable {
    /// Runs `request` on a worker that serves `request.host` (or on `request.workerID`) and
    /// waits for the outcome; `progress` gets the output in order while the command runs.
    func dispatch(_ request: TaskRequest, progress: (@Sendable (TaskOutput) -> Void)?) async -> TaskOutcome
    /// The registered workers whose labels include every pair of `labels`, sorted by id.
    func workers(matching labels: [String: String]) async -> [WorkerSummary]
}

extension Dispatcher {
    /// Runs `request` without watching its output.
    public func dispatch(_ request: TaskRequest) async -> TaskOutcome {
        await dispatch(request, progress: nil)
    }
}

/// A worker as the responder sees it when fanning out by labels.
public struct WorkerSummary: Sendable, Equatable {
    public var id: String
    public var hosts: [String]
    public var labels: [String: String]

    public init(id: String, hosts: [String], labels: [String: String]) {
        self.id = id
        self.hosts = hosts
        self.labels = labels
    }
}

/// One command to run in an isolated child process.
public struct ExecSpec: Sendable, Equatable {
    public var argv: [String]
    public var timeout: Duration
    /// Time between SIGTERM and SIGKILL when the timeout fires.
    public var killGrace: Duration
    public var outputLimit: Int
    /// The command's whole environment (the caller allowlists it).
    public var environment: [String: String]
    public var workingDirectory: String?
    /// Applied with setrlimit in the child; core files are always off.
    public var limits: ResourceLimits
    /// When this process runs as root: the user (name or uid) and group to switch to before exec.
    public var user: String?
    public var group: String?

    public init(
        argv: [String], timeout: Duration, killGrace: Duration = .seconds(2), outputLimit: Int,
        environment: [String: String] = [:], workingDirectory: String? = nil, limits: ResourceLimits = .standard,
        user: String? = nil, group: String? = nil
    ) {
        self.argv = argv
        self.timeout = timeout
        self.killGrace = killGrace
        self.outputLimit = outputLimit
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.limits = limits
        self.user = user
        self.group = group
    }
}

/// How a child process ended.
public struct ExecResult: Sendable, Equatable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var timedOut: Bool
    public var duration: Duration
    public var output: [UInt8]
    public var truncated: Bool
    /// Set when the process could not be started at all (no such program, unknown user, …).
    public var spawnError: String?

    public init(
        exitCode: Int32?, signal: Int32?, timedOut: Bool, duration: Duration, output: [UInt8], truncated: Bool,
        spawnError: String? = nil
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.timedOut = timedOut
        self.duration = duration
        self.output = output
        self.truncated = truncated
        self.spawnError = spawnError
    }
}

/// Runs one argv in its own process group with a hard timeout. The seam in front of posix_spawn.
///
/// `onOutput` gets the kept output (at most `outputLimit` bytes in all) as it is read, in
/// order, from the executor's own thread; it must not block. Cancelling the calling task kills
/// the process tree as a timeout does (but `timedOut` stays false).
public protocol Executor: Sendable {
    func run(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?) async -> ExecResult

    /// The same run without a calling task, for a caller on a thread of its own (the worker's
    /// socket thread): returns at once, calls `completion` exactly once, on any thread, and
    /// `ExecStop.stop()` ends the run as cancelling `run`'s task would. The default runs `run`
    /// in a new task; an executor with threads of its own can skip the task pool.
    func start(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?,
               completion: @escaping @Sendable (ExecResult) -> Void) -> ExecStop
}

/// Stops a run begun with `Executor.start`; stopping one that has ended does nothing.
public struct ExecStop: Sendable {
    private let action: @Sendable () -> Void

    public init(_ action: @escaping @Sendable () -> Void) {
        self.action = action
    }

    public func stop() { action() }
}

extension Executor {
    public func run(_ spec: ExecSpec) async -> ExecResult { await run(spec, onOutput: nil) }

    public func start(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?,
                      completion: @escaping @Sendable (ExecResult) -> Void) -> ExecStop {
        let task = Task { completion(await run(spec, onOutput: onOutput)) }
        return ExecStop { task.cancel() }
    }
}
