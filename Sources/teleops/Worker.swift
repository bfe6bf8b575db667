import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TeleOpsDispatch

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a worker that executes actions for the controller on this host.",
        discussion: "Off loopback, workers use CURVE: make a key pair with `teleops worker keygen`, and pass --server-key and --secret-key-file (docs/curve.md).",
        subcommands: [WorkerKeygen.self])

    @Option(help: "The controller's ZeroMQ endpoint, e.g. tcp://127.0.0.1:7311 (required).")
    var connect: String?

    @Option(help: "This worker's id (unique per controller). Default: HOSTNAME-PID.")
    var id: String?

    @Option(name: .customLong("host"), help: "A host this worker serves (repeatable). '*' serves every host. Default: this machine's hostname.")
    var hosts: [String] = []

    @Option(help: "Labels as k=v,k=v.")
    var labels: String = ""

    @Option(help: "Tasks run at once.")
    var capacity: Int = 8

    @Option(help: "When the worker runs as root: the user (name or uid) commands run as unless their action names one. Without it, such commands run as root, and the processes limit does not hold for root.")
    var user: String?

    @Option(help: "With --user: the primary group (name or gid) instead of the user's own.")
    var group: String?

    @Option(help: "Milliseconds between heartbeats.")
    var heartbeatIntervalMs: Int = 1000

    @Option(help: ArgumentHelp("Exit when this process (the controller) exits.", visibility: .hidden))
    var parentPid: Int32?

    @Option(help: "Log level.")
    var logLevel: Logger.Level = .info

    @OptionGroup(title: "CURVE (required off loopback)")
    var curve: WorkerCurveArguments

    func run() async throws {
        guard let connect else { throw ValidationError("--connect is required: the controller's endpoint, e.g. tcp://controller:7311") }
        let logger = makeLogger("teleops-worker", level: logLevel)
        let hostname = ProcessInfo.processInfo.hostName
        var labelMap: [String: String] = [:]
        for pair in labels.split(separator: ",") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--labels: '\(pair)' is not k=v") }
            labelMap[String(parts[0])] = String(parts[1])
        }
        guard capacity > 0 else { throw ValidationError("--capacity must be at least 1") }
        var options = WorkerOptions(
            connect: connect, workerID: id ?? "\(hostname)-\(getpid())", hosts: hosts.isEmpty ? [hostname] : hosts,
            labels: labelMap, capacity: capacity, heartbeatInterval: .milliseconds(heartbeatIntervalMs),
            killGrace: .seconds(2), parentPID: parentPid)
        options.curve = try curve.load(connect: connect)
        options.user = user
        options.group = group
        if let problem = options.identityProblem { throw ValidationError("--user/--group: \(problem)") }
        if geteuid() == 0, user == nil {
            logger.warning("this worker runs as root and has no --user: commands whose action names no user run as root, where the processes limit does not hold")
        }
        // This process starts no child but its commands: whatever is orphaned to it is a task's.
        if !ProcessExecutor.claimOrphansOfTasks() {
            logger.warning("cannot attribute orphans to tasks (a child process already, or no pidfds): a command's process that clears its environment and calls setsid may outlive it")
        }
        // A thread per slot stays parked between commands, however many slots there are.
        ProcessExecutor.keepThreadsParked(atLeast: options.capacity)
        let agent = WorkerAgent(options: options, logger: logger)
        var config = ServiceGroupConfiguration(services: [agent], logger: logger)
        config.gracefulShutdownSignals = [.sigterm, .sigint]
        try await ServiceGroup(configuration: config).run()
    }
}
