import CZeroMQ
import Foundation
import Logging
import Synchronization

/// One handshake-related event of a monitored socket (`zmq_socket_monitor`).
struct HandshakeEvent: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case connected
        case succeeded
        /// The server's ZAP handler answered this status (400: key not allowed).
        case refused(status: Int)
        /// A `ZMQ_PROTOCOL_ERROR_*` code: wrong server key, mechanism mismatch, …
        case protocolError(UInt32)
        /// An errno during the handshake.
        case failed(errno: Int32)
        case disconnected
    }

    var kind: Kind
    /// The endpoint the event is about (the peer for a connecting socket).
    var endpoint: String

    static let mask: Int32 = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
        | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | ZMQ_EVENT_MONITOR_STOPPED

    /// Parses a monitor message: [u16 event, u32 value (host order)] then the endpoint. nil for
    /// events not in `mask` and for MONITOR_STOPPED.
    init?(frames: [[UInt8]]) {
        guard frames.count >= 2, frames[0].count >= 6 else { return nil }
        let event = frames[0].withUnsafeBytes { UInt32($0.loadUnaligned(as: UInt16.self)) }
        let value = frames[0].withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
        endpoint = String(decoding: frames[1], as: UTF8.self)
        switch Int32(event) {
        case ZMQ_EVENT_CONNECTED: kind = .connected
        case ZMQ_EVENT_DISCONNECTED: kind = .disconnected
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: kind = .succeeded
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: kind = .refused(status: Int(value))
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: kind = .protocolError(value)
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: kind = .failed(errno: Int32(bitPattern: value))
        default: return nil
        }
    }

    init(kind: Kind, endpoint: String) {
        self.kind = kind
        self.endpoint = endpoint
    }

    static func isStop(_ frames: [[UInt8]]) -> Bool {
        guard let first = frames.first, first.count >= 2 else { return false }
        return Int32(first.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }) == ZMQ_EVENT_MONITOR_STOPPED
    }

    /// What a protocol error code most likely means for a CURVE client.
    static func describe(protocolError code: UInt32) -> String {
        switch Int32(bitPattern: code) {
        case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: "cryptographic error (the keys do not match)"
        case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: "mechanism mismatch (one side uses CURVE, the other does not)"
        default: "protocol error 0x\(String(code, radix: 16))"
        }
    }
}

/// Watches one socket's handshakes on its own thread and hands each event to `onEvent`.
/// Keep the returned object alive exactly as long as the socket (`ZMQSocket.keepAlive`): the
/// socket stops its monitor before closing (MONITOR_STOPPED ends the thread), and releasing
/// this object ends it too.
///
/// ```swift
/// var dealer = try ZMQSocket(context: context, type: .dealer)
/// dealer.keepAlive(try HandshakeMonitor.start(on: &dealer, context: context) { event in print(event) })
/// try dealer.connect(endpoint)   // connect after starting the monitor, so no event is missed
/// ```
final class HandshakeMonitor: Sendable {
    private let stop = WakeSignal()

    private init() {}

    deinit { stop.signal() }

    /// Starts monitoring `socket` (call on the socket's own thread, before it connects or binds);
    /// returns once the watcher is connected.
    static func start(on socket: inout ZMQSocket, context: ZMQContext,
                      onEvent: @escaping @Sendable (HandshakeEvent) -> Void) throws(ZMQError) -> HandshakeMonitor {
        let endpoint = "inproc://teleops-monitor-\(UUID().uuidString.lowercased())"
        try socket.monitor(endpoint, events: HandshakeEvent.mask)
        let monitor = HandshakeMonitor()
        let stop = monitor.stop
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<ZMQError?>(nil)
        let thread = Thread {
            let pair: ZMQSocket
            do throws(ZMQError) {
                pair = try ZMQSocket.opened(context: context, type: .pair) { socket throws(ZMQError) in try socket.connect(endpoint) }
            } catch {
                failure.withLock { $0 = error }
                ready.signal()
                return
            }
            ready.signal()
            watch(pair, stop: stop, onEvent: onEvent)
        }
        thread.name = "teleops-monitor"
        thread.start()
        ready.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        return monitor
    }

    private static func watch(_ pair: borrowing ZMQSocket, stop: WakeSignal,
                              onEvent: @Sendable (HandshakeEvent) -> Void) {
        while true {
            guard let ready = try? pair.poll(alongside: stop.fd, timeoutMs: -1), !ready.fd else { return }
            while let frames = try? pair.receive() {
                if HandshakeEvent.isStop(frames) { return }
                if let event = HandshakeEvent(frames: frames) { onEvent(event) }
            }
        }
    }
}

/// Turns a CURVE client's handshake events into log lines a person can act on, each kind at
/// most once per `window` (a refused worker reconnects every 100 ms).
final class CurveClientDiagnosis: Sendable {
    let publicKey: CurvePublicKey
    let logger: Logger
    private let lines: Mutex<RefusalLog>
    /// A connection is up whose handshake has not ended yet.
    private let handshaking = Mutex(false)

    init(publicKey: CurvePublicKey, logger: Logger, window: Duration = .seconds(60)) {
        self.publicKey = publicKey
        self.logger = logger
        self.lines = Mutex(RefusalLog(window: window, maxLines: 10))
    }

    func handle(_ event: HandshakeEvent) {
        let message: String
        var metadata: Logger.Metadata = ["endpoint": "\(event.endpoint)"]
        switch event.kind {
        case .connected:
            handshaking.withLock { $0 = true }
            return
        case .succeeded:
            handshaking.withLock { $0 = false }
            logger.debug("CURVE handshake with the controller succeeded", metadata: metadata)
            return
        case .refused(let status):
            message = "the controller refused this worker's CURVE key; add it to the controller's dispatch.curve allowed keys"
            metadata["public_key"] = "\(publicKey)"
            metadata["zap_status"] = "\(status)"
        case .protocolError(let code):
            message = "CURVE handshake with the controller failed: \(HandshakeEvent.describe(protocolError: code)); "
                + "check that the server key is the controller's public key"
        case .failed(let code):
            // A controller that cannot decrypt our HELLO (we pinned another key) drops the connection.
            message = "CURVE handshake with the controller failed (\(String(cString: strerror(code)))); "
                + "check that the server key is the controller's public key"
        case .disconnected:
            // Closed mid-handshake without a reason: a controller that cannot decrypt our HELLO
            // (we pinned another server key) just drops the connection.
            guard handshaking.withLock({ $0 }) else { return }
            message = "the controller closed the connection during the CURVE handshake; "
                + "check that the server key is the controller's public key"
        }
        handshaking.withLock { $0 = false }  // this failure has been explained
        guard let earlier = lines.withLock({ $0.admit(key: message, now: .now) }) else { return }
        if earlier > 0 { metadata["not_logged_before"] = "\(earlier)" }
        logger.warning("\(message)", metadata: metadata)
    }
}

/// The broker's side: handshakes that fail before ZAP is asked (the ZAP handler logs the
/// refusals it decides). The event names the listening endpoint, not the peer: libzmq does not
/// say who it was.
final class CurveServerDiagnosis: Sendable {
    let logger: Logger
    private let lines: Mutex<RefusalLog>

    init(logger: Logger, window: Duration = .seconds(60)) {
        self.logger = logger
        self.lines = Mutex(RefusalLog(window: window, maxLines: 10))
    }

    func handle(_ event: HandshakeEvent) {
        let reason: String
        switch event.kind {
        case .protocolError(let code) where Int32(bitPattern: code) == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
            reason = "cannot decrypt the worker's HELLO: the worker pinned another server key"
        case .protocolError(let code) where Int32(bitPattern: code) == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            reason = "the worker does not use CURVE (give it --server-key and --secret-key-file)"
        case .protocolError(let code):
            reason = HandshakeEvent.describe(protocolError: code)
        case .failed(let code):
            // The peer hung up first: it saw the mismatch before we did.
            reason = "the connection broke during the handshake (\(String(cString: strerror(code)))): a worker without "
                + "CURVE, or one that pinned another server key?"
        case .connected, .succeeded, .refused, .disconnected:
            return
        }
        guard let earlier = lines.withLock({ $0.admit(key: reason, now: .now) }) else { return }
        var metadata: Logger.Metadata = ["endpoint": "\(event.endpoint)", "reason": "\(reason)"]
        if earlier > 0 { metadata["not_logged_before"] = "\(earlier)" }
        logger.warning("worker refused: CURVE handshake failed", metadata: metadata)
    }
}
