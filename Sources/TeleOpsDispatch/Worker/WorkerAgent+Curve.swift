import CZeroMQ
import Foundation

/// CURVE for a worker's DEALER: the controller's public key, pinned (a controller with any other
/// key fails the handshake), and the worker's own key pair, whose public key must be on the
/// controller's allowlist.
///
/// ```swift
/// let curve = WorkerCurve(serverKey: try CurveKeyFile.publicKey(fromKeyOrFile: "controller.key.pub", what: "--server-key"),
///                         keyPair: try CurveKeyFile.readSecretKey(at: "/etc/teleops/worker.key"))
/// var options = WorkerOptions(connect: "tcp://controller:7311", workerID: "web-1", hosts: ["web-1"])
/// options.curve = curve
/// ```
public struct WorkerCurve: Sendable {
    public var serverKey: CurvePublicKey
    public var keyPair: CurveKeyPair

    public init(serverKey: CurvePublicKey, keyPair: CurveKeyPair) {
        self.serverKey = serverKey
        self.keyPair = keyPair
    }
}

extension WorkerAgent {
    /// Opens the DEALER; with `options.curve`, as a CURVE client whose handshake problems (key
    /// refused, wrong server key) are logged as such. Refuses a non-loopback endpoint without CURVE.
    func makeDealer() throws(ZMQError) -> ZMQSocket {
        guard options.curve != nil || DispatchEndpoint.isLocal(options.connect) else {
            throw ZMQError(operation: "refusing to connect to '\(options.connect)': it is not on loopback, and workers "
                + "off loopback must use CURVE (--server-key and --secret-key-file; see docs/curve.md)", code: EACCES)
        }
        var socket = try ZMQSocket(context: context, type: .dealer)
        guard let curve = options.curve else { return socket }
        try socket.setOption(ZMQ_CURVE_SERVERKEY, bytes: curve.serverKey.bytes)
        try socket.setOption(ZMQ_CURVE_PUBLICKEY, bytes: curve.keyPair.publicKey.bytes)
        try socket.setOption(ZMQ_CURVE_SECRETKEY, bytes: curve.keyPair.secretKey.bytes)
        let diagnosis = CurveClientDiagnosis(publicKey: curve.keyPair.publicKey, logger: logger)
        let monitor = try HandshakeMonitor.start(on: &socket, context: context) { diagnosis.handle($0) }
        socket.keepAlive(monitor)
        logger.info("CURVE on", metadata: ["public_key": "\(curve.keyPair.publicKey)", "server_key": "\(curve.serverKey)"])
        return socket
    }
}
