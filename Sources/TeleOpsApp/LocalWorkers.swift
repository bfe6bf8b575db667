import Foundation
import Logging
import ServiceLifecycle
import TeleOpsCore
import TeleOpsDispatch

/// Starts the controller's own `teleops worker` processes once the broker knows its real
/// endpoint, supervises them (restart with backoff), and tells the broker at once when one
/// dies, so its running tasks are reported lost without waiting for heartbeats.
struct LocalWorkers: Service {
    let broker: Broker
    let executable: String
    let count: Int
    let capacity: Int
    let heartbeatInterval: Duration
    let logger: Logger

    func run() async throws {
        let endpoint = try await broker.boundEndpoint()
        let parent = getpid()
        let interval = heartbeatInterval
        let capacity = self.capacity
        let executable = self.executable
        let broker = self.broker
        let supervisor = LocalWorkerSupervisor(
            executable: executable, count: count,
            arguments: { id in
                [executable, "worker", "--connect", endpoint, "--id", id, "--host", "*", "--capacity", "\(capacity)",
                 "--heartbeat-interval-ms", "\(interval.milliseconds)",
                 "--parent-pid", "\(parent)"]
            },
            onExit: { id, reason in broker.workerExited(id: id, reason: reason) },
            logger: logger)
        try await supervisor.run()
    }
}
