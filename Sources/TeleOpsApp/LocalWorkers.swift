import Foundation
import Logging
import ServiceLifecycle
import TeleOpsCore
import TeleOpsDispatch

/// Starts the controller's own `teleops worker` processes once the broker knows its real
/// endpoint, supervises them (restart with backoff), and tells the broker at once when one
/// dies, so its running tasks are reported lost without waiting for heartbeats.
///
/// With CURVE on, the local workers share a key pair made for this run (`LocalWorkerKeys`): its
/// public key is on the broker's allowlist, and its secret key reaches the children through a
/// 0600 file in the data directory that exists only while this service runs, never through a
/// command line or a log.
struct LocalWorkers: Service {
    let broker: Broker
    let executable: String
    let count: Int
    let capacity: Int
    let heartbeatInterval: Duration
    /// `teleops worker --user/--group`.
    var user: String? = nil
    var group: String? = nil
    var keys: LocalWorkerKeys? = nil
    let logger: Logger

    func run() async throws {
        let endpoint = try await broker.boundEndpoint()
        let parent = getpid()
        let interval = heartbeatInterval
        let capacity = self.capacity
        let executable = self.executable
        let broker = self.broker
        try keys?.writeSecretKey()
        // Glued with `=`: a Z85 key may begin with `-`, which as a separate argument reads as an option.
        let curveArguments = keys.map { ["--server-key=\($0.serverKey.z85)", "--secret-key-file=\($0.secretKeyFile)"] } ?? []
        let identityArguments = (user.map { ["--user=\($0)"] } ?? []) + (group.map { ["--group=\($0)"] } ?? [])
        defer { keys?.removeSecretKey() }
        let supervisor = LocalWorkerSupervisor(
            executable: executable, count: count,
            arguments: { id in
                [executable, "worker", "--connect", endpoint, "--id", id, "--host", "*", "--capacity", "\(capacity)",
                 "--heartbeat-interval-ms", "\(interval.milliseconds)",
                 "--parent-pid", "\(parent)"] + curveArguments + identityArguments
            },
            onExit: { id, reason in broker.workerExited(id: id, reason: reason) },
            logger: logger)
        try await supervisor.run()
    }
}

/// The key pair the controller makes at start for its local workers when CURVE is on.
///
/// ```swift
/// let (curve, keys) = try LocalWorkerKeys.forController(config.dispatch)
/// // curve: the configured BrokerCurve plus keys.keyPair.publicKey on its allowlist
/// ```
struct LocalWorkerKeys: Sendable {
    /// The controller's public key, which the local workers pin.
    let serverKey: CurvePublicKey
    let keyPair: CurveKeyPair
    /// Where the secret key is written for the children (mode 0600).
    let secretKeyFile: String

    /// The broker's CURVE settings and, when CURVE is on and the controller starts local workers,
    /// their keys (already on the returned allowlist).
    static func forController(_ settings: DispatchSettings, dataDirectory: String) throws
        -> (curve: BrokerCurve?, keys: LocalWorkerKeys?)
    {
        guard let curve = settings.curve, settings.localWorkers > 0 else { return (settings.curve, nil) }
        let pair = try CurveKeyPair.generate()
        let file = URL(fileURLWithPath: dataDirectory).appendingPathComponent("local-workers.key").path
        let keys = LocalWorkerKeys(serverKey: curve.keyPair.publicKey, keyPair: pair, secretKeyFile: file)
        return (curve.allowing(pair.publicKey), keys)
    }

    /// Writes (or replaces a stale copy of) the secret key file.
    func writeSecretKey() throws {
        try CurveKeyFile.writeSecretKey(keyPair, to: secretKeyFile, replace: true)
    }

    func removeSecretKey() {
        unlink(secretKeyFile)
    }
}
