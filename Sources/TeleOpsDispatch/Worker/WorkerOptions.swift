import TeleOpsCore

/// How a worker agent connects and what it serves.
///
/// ```swift
/// let options = WorkerOptions(connect: "tcp://controller:5555", workerID: "web-1",
///                             hosts: ["web-1"], capacity: 4)
/// ```
public struct WorkerOptions: Sendable {
    /// The controller's ROUTER endpoint.
    public var connect: String
    /// Unique among the workers of one controller.
    public var workerID: String
    /// Host names this worker runs commands for; `"*"` means every host.
    public var hosts: [String]
    public var labels: [String: String]
    /// Tasks run at once; further TASKs are answered with ERROR "busy".
    public var capacity: Int
    /// How often to send HEARTBEAT (the controller's WELCOME may set another).
    public var heartbeatInterval: Duration
    /// Time between SIGTERM and SIGKILL when a task times out or is cancelled.
    public var killGrace: Duration
    /// When set: the controller process that spawned this worker; the worker gets SIGTERM when it
    /// dies, refuses to start if it has already died, and (should the signal be lost) stops
    /// within a heartbeat interval of finding itself re-parented.
    public var parentPID: Int32?
    /// The whole environment of every command (already allowlisted). Without PATH a default is used.
    public var environment: [String: String]
    /// Reported in HELLO.
    public var version: String
    /// Limits every command gets unless its action overrides them.
    public var limits: ResourceLimits
    /// When the worker runs as root: the user and group commands run as unless the action names
    /// others. Root itself is never used for commands when these are set.
    public var user: String?
    public var group: String?

    /// Why `user` and `group` cannot be used as commands' default identity (an unknown name, a
    /// group without a user, or a switch this process may not make), or nil when they can.
    public var identityProblem: String? {
        switch Credentials.resolve(user: user, group: group) {
        case .success: nil
        case .failure(let error): "\(error)"
        }
    }
    /// Encryption and authentication with the controller; required off loopback (WorkerAgent+Curve.swift).
    public var curve: WorkerCurve? = nil

    public init(
        connect: String, workerID: String, hosts: [String] = ["*"], labels: [String: String] = [:],
        capacity: Int = 4, heartbeatInterval: Duration = .seconds(1), killGrace: Duration = .seconds(2),
        parentPID: Int32? = nil, environment: [String: String] = ["PATH": defaultPATH, "LANG": "C.UTF-8"],
        version: String = "teleops-worker/0.1", limits: ResourceLimits = .standard, user: String? = nil,
        group: String? = nil
    ) {
        self.connect = connect
        self.workerID = workerID
        self.hosts = hosts
        self.labels = labels
        self.capacity = max(1, capacity)
        self.heartbeatInterval = heartbeatInterval
        self.killGrace = killGrace
        self.parentPID = parentPID
        self.environment = environment
        self.version = version
        self.limits = limits
        self.user = user
        self.group = group
    }
}
