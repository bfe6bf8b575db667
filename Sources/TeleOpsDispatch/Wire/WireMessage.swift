import TeleOpsCore

/// One message of the TeleOps ZeroMQ protocol (`teleops.v1`); see docs/protocol.md.
///
/// On the wire every message is three frames: `["teleops.v1", TYPE, JSON body]`
/// (the ROUTER side sees the sender's routing id first).
///
/// ```swift
/// let frames = WireCodec.encode(.heartbeat(Heartbeat(inFlight: 2)))
/// let back = try WireCodec.decode(frames).get()   // .heartbeat(Heartbeat(inFlight: 2))
/// ```
public enum WireMessage: Sendable, Equatable {
    case hello(Hello)
    case welcome(Welcome)
    case heartbeat(Heartbeat)
    case task(TaskRequest)
    case accepted(TaskRef)
    case output(TaskOutput)
    case done(TaskResult)
    case cancel(TaskRef)
    case error(WireErrorBody)
    case bye

    /// The type frame.
    public var type: String {
        switch self {
        case .hello: "HELLO"
        case .welcome: "WELCOME"
        case .heartbeat: "HEARTBEAT"
        case .task: "TASK"
        case .accepted: "ACCEPTED"
        case .output: "OUTPUT"
        case .done: "DONE"
        case .cancel: "CANCEL"
        case .error: "ERROR"
        case .bye: "BYE"
        }
    }
}

/// HELLO (worker → controller): who the worker is and what it serves.
public struct Hello: Sendable, Equatable, Codable {
    public var workerID: String
    /// Host names this worker runs commands for; `"*"` means every host.
    public var hosts: [String]
    public var labels: [String: String]
    /// How many tasks it runs at once.
    public var capacity: Int
    /// The worker's software version (free text).
    public var version: String
    public var pid: Int32

    public init(workerID: String, hosts: [String], labels: [String: String] = [:], capacity: Int,
                version: String, pid: Int32) {
        self.workerID = workerID
        self.hosts = hosts
        self.labels = labels
        self.capacity = capacity
        self.version = version
        self.pid = pid
    }

    enum CodingKeys: String, CodingKey {
        case workerID = "worker_id", hosts, labels, capacity, version, pid
    }
}

/// WELCOME (controller → worker): registration accepted, with the heartbeat contract.
public struct Welcome: Sendable, Equatable, Codable {
    public var heartbeatIntervalMs: Int
    public var heartbeatTimeoutMs: Int

    public init(heartbeatIntervalMs: Int, heartbeatTimeoutMs: Int) {
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.heartbeatTimeoutMs = heartbeatTimeoutMs
    }

    enum CodingKeys: String, CodingKey {
        case heartbeatIntervalMs = "heartbeat_interval_ms", heartbeatTimeoutMs = "heartbeat_timeout_ms"
    }
}

/// HEARTBEAT (both ways): `{}` or `{"in_flight": n}`.
public struct Heartbeat: Sendable, Equatable, Codable {
    public var inFlight: Int?

    public init(inFlight: Int? = nil) { self.inFlight = inFlight }

    enum CodingKeys: String, CodingKey { case inFlight = "in_flight" }
}

/// The body of ACCEPTED and CANCEL: `{"task_id": "…"}`.
public struct TaskRef: Sendable, Equatable, Codable {
    public var taskID: String

    public init(taskID: String) { self.taskID = taskID }

    enum CodingKeys: String, CodingKey { case taskID = "task_id" }
}

/// ERROR (either way): a machine-readable code, a message for people, and the task it concerns.
public struct WireErrorBody: Sendable, Equatable, Codable {
    public var code: String
    public var message: String
    public var taskID: String?

    public init(code: WireErrorCode, message: String, taskID: String? = nil) {
        self.code = code.rawValue
        self.message = message
        self.taskID = taskID
    }

    enum CodingKeys: String, CodingKey { case code, message, taskID = "task_id" }
}

/// The ERROR codes TeleOps sends. Receivers must accept codes they do not know.
public enum WireErrorCode: String, Sendable, CaseIterable {
    case badVersion = "bad_version"
    case badType = "bad_type"
    case badFrames = "bad_frames"
    case badJSON = "bad_json"
    /// The sender has not said HELLO (or was forgotten): send HELLO again.
    case unregistered
    /// Another live connection already uses this worker id.
    case duplicateID = "duplicate_id"
    /// The worker is at capacity (or shutting down) and did not take the task.
    case busy
    /// The message makes no sense in this direction (e.g. a worker sending TASK).
    case unexpected
    /// The body is larger than `WireCodec.maxBodyBytes`; it was not parsed.
    case tooLarge = "too_large"
}
