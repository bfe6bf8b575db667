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

    public init(
        taskID: String = UUID().uuidString.lowercased(), action: String, host: String, argv: [String],
        timeout: Duration, outputLimit: Int
    ) {
        self.taskID = taskID
        self.action = action
        self.host = host
        self.argv = argv
        self.timeoutMs = Int(timeout.milliseconds)
        self.outputLimit = outputLimit
    }

    enum CodingKeys: String, CodingKey {
        case taskID = "task_id", action, host, argv, timeoutMs = "timeout_ms", outputLimit = "output_limit"
    }
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

    public init(
        taskID: String, action: String, worker: String, exitCode: Int32?, signal: Int32?, timedOut: Bool,
        durationMs: Double, output: String, truncated: Bool
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
    }

    /// True when the command exited by itself with status 0.
    public var succeeded: Bool { exitCode == 0 && !timedOut }

    /// "exit 0 in 12 ms", "timed out after 1000 ms (killed by signal 9)", …
    public var outcomeDescription: String {
        let duration = durationMs < 10 ? String(format: "%.1f ms", durationMs) : "\(Int(durationMs.rounded())) ms"
        var text: String
        if timedOut {
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
        case durationMs = "duration_ms", output, truncated
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
/// switch await dispatcher.dispatch(request) {
/// case .finished(let result): print(result.output)
/// case .lost(let worker, let reason): print("lost on \(worker): \(reason)")
/// case .rejected(let reason): print(reason)
/// }
/// ```
public protocol Dispatcher: Sendable {
    /// Runs `request` on a worker that serves `request.host` and waits for the outcome.
    func dispatch(_ request: TaskRequest) async -> TaskOutcome
}

/// One command to run in an isolated child process.
public struct ExecSpec: Sendable, Equatable {
    public var argv: [String]
    public var timeout: Duration
    /// Time between SIGTERM and SIGKILL when the timeout fires.
    public var killGrace: Duration
    public var outputLimit: Int
    public var environment: [String: String]
    public var workingDirectory: String?

    public init(
        argv: [String], timeout: Duration, killGrace: Duration = .seconds(2), outputLimit: Int,
        environment: [String: String] = [:], workingDirectory: String? = nil
    ) {
        self.argv = argv
        self.timeout = timeout
        self.killGrace = killGrace
        self.outputLimit = outputLimit
        self.environment = environment
        self.workingDirectory = workingDirectory
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
    /// Set when the process could not be started at all (no such program, …).
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
public protocol Executor: Sendable {
    func run(_ spec: ExecSpec) async -> ExecResult
}
