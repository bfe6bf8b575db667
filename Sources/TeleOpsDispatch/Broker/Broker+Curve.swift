import CZeroMQ
import Foundation

/// CURVE for the broker's ROUTER: the controller's key pair (workers pin its public key) and the
/// public keys of the workers it accepts. Every other client is refused during the handshake,
/// before it can send a single message, and the refusal is logged (rate-limited) with the peer's
/// address and key.
///
/// ```swift
/// let curve = BrokerCurve(keyPair: try CurveKeyFile.readSecretKey(at: "/etc/teleops/controller.key"),
///                         allowedKeys: try CurveKeyFile.readAllowlist(at: "/etc/teleops/workers.allowed"))
/// let broker = Broker(endpoint: "tcp://0.0.0.0:7311", heartbeatInterval: .seconds(1), heartbeatTimeout: .seconds(5),
///                     maxQueued: 1000, curve: curve, logger: logger)
/// ```
public struct BrokerCurve: Sendable, Equatable {
    public var keyPair: CurveKeyPair
    public var allowedKeys: Set<CurvePublicKey>

    public init(keyPair: CurveKeyPair, allowedKeys: some Sequence<CurvePublicKey>) {
        self.keyPair = keyPair
        self.allowedKeys = Set(allowedKeys)
    }

    /// The same, also accepting `key` (the controller's own local workers).
    public func allowing(_ key: CurvePublicKey) -> BrokerCurve {
        var copy = self
        copy.allowedKeys.insert(key)
        return copy
    }
}

/// Where a ZeroMQ endpoint listens, as far as "does it need CURVE" goes.
public enum DispatchEndpoint {
    /// True for `ipc://` and `inproc://`, and for `tcp://` on 127.x.x.x, `[::1]` or `localhost`.
    /// Anything else (`tcp://0.0.0.0:…`, `tcp://*:…`, an interface name, another transport) is
    /// reachable from other hosts, or may be.
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        let address = endpoint.dropFirst("tcp://".count)
        guard let colon = address.lastIndex(of: ":") else { return false }
        let host = address[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return isLoopback(host)
    }

    /// `localhost`, `::1` or 127.x.x.x.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Why `endpoint` may not be bound without CURVE, and how to fix it.
    public static func curveRequiredMessage(for endpoint: String) -> String {
        "'\(endpoint)' is not on loopback, and workers off loopback must use CURVE: configure dispatch.curve "
            + "with the controller's secret_key_file (`teleops worker keygen --out controller.key` makes one) and "
            + "the workers' public keys in allowed_keys or allowed_keys_file (see docs/curve.md), or bind "
            + "tcp://127.0.0.1:PORT"
    }
}

extension Broker {
    /// Opens the ROUTER; with CURVE configured, as a CURVE server whose handshakes the context's
    /// ZAP handler checks against the allowlist. Refuses a non-loopback endpoint without CURVE.
    func makeRouter() throws(ZMQError) -> ZMQSocket {
        guard curve != nil || DispatchEndpoint.isLocal(endpoint) else {
            throw ZMQError(operation: "refusing to bind: \(DispatchEndpoint.curveRequiredMessage(for: endpoint))", code: EACCES)
        }
        var socket = try ZMQSocket(context: context, type: .router)
        guard let curve else { return socket }
        let policy = ZAPPolicy(allowedKeys: curve.allowedKeys, logger: logger)
        let registration = try context.zap.register(policy, in: context)
        // Released after the ROUTER closes, so the ZAP handler outlives every handshake.
        socket.keepAlive(registration)
        try socket.setOption(ZMQ_CURVE_SERVER, 1)
        try socket.setOption(ZMQ_CURVE_SECRETKEY, bytes: curve.keyPair.secretKey.bytes)
        try socket.setOption(ZMQ_ZAP_DOMAIN, bytes: Array(registration.domain.utf8))
        let diagnosis = CurveServerDiagnosis(logger: logger)
        let monitor = try HandshakeMonitor.start(on: &socket, context: context) { diagnosis.handle($0) }
        socket.keepAlive(monitor)
        // ZMQ_ZAP_ENFORCE_DOMAIN (draft API, 93): fail handshakes, not accept them, if no handler
        // answers. Stable builds lack it (EINVAL); the registration's lifetime covers that case.
        try? socket.setOption(93, 1)
        logger.info("CURVE on", metadata: [
            "server_key": "\(curve.keyPair.publicKey)", "allowed_keys": "\(curve.allowedKeys.count)",
        ])
        return socket
    }
}
