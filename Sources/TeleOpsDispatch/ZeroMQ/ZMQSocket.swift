import CZeroMQ
import Glibc

/// One ZeroMQ socket, confined to the thread that created it.
///
/// It is `~Copyable` and not `Sendable`: create it inside the thread that owns it (libzmq sockets
/// are not thread-safe) and let it close itself in `deinit`.
///
/// ```swift
/// var router = try ZMQSocket(context: .shared, type: .router)
/// try router.setOption(ZMQ_ROUTER_MANDATORY, 1)
/// try router.bind("tcp://127.0.0.1:*")
/// let endpoint = try router.lastEndpoint()   // "tcp://127.0.0.1:41234"
/// ```
public struct ZMQSocket: ~Copyable {
    /// The socket types TeleOps uses: ROUTER and DEALER for dispatch, REP for the ZAP handler,
    /// PAIR for reading a socket monitor's events.
    public enum Kind: Sendable {
        case router, dealer, rep, pair

        var raw: Int32 {
            switch self {
            case .router: ZMQ_ROUTER
            case .dealer: ZMQ_DEALER
            case .rep: ZMQ_REP
            case .pair: ZMQ_PAIR
            }
        }
    }

    let handle: UnsafeMutableRawPointer
    /// Objects that must live exactly as long as the socket (its ZAP registration, its monitor),
    /// released only after `zmq_close`; see `keepAlive(_:)`.
    private var companions: [AnyObject] = []
    private var monitored = false

    /// Opens a socket with `ZMQ_LINGER` 0, so closing never waits for unsent messages.
    public init(context: ZMQContext, type: Kind) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.raw) else { throw ZMQError(operation: "zmq_socket") }
        var linger: Int32 = 0
        guard zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size) == 0 else {
            let error = ZMQError(operation: "zmq_setsockopt(ZMQ_LINGER)")
            zmq_close(handle)
            throw error
        }
        self.handle = handle
    }

    /// A new socket that `setUp` has configured (bound, connected…); closed if `setUp` throws.
    public static func opened(context: ZMQContext, type: Kind,
                              _ setUp: (borrowing ZMQSocket) throws(ZMQError) -> Void) throws(ZMQError) -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: type)
        try setUp(socket)
        return socket
    }

    // Stored properties (the companions) are released after this body, so after the close.
    deinit {
        // libzmq sends monitor events with a blocking send, from its I/O and reaper threads: stop
        // the monitor while its reader is surely still there, or a late event could hang them.
        if monitored { zmq_socket_monitor(handle, nil, 0) }
        zmq_close(handle)
    }

    /// Keeps `companion` alive until this socket is closed, and releases it right after: e.g. the
    /// ZAP handler registration that must outlive a CURVE server socket.
    public mutating func keepAlive(_ companion: AnyObject) {
        companions.append(companion)
    }

    /// Sets an integer option (`ZMQ_LINGER`, `ZMQ_ROUTER_MANDATORY`, …).
    public func setOption(_ option: Int32, _ value: Int32) throws(ZMQError) {
        var value = value
        guard zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError(operation: "zmq_setsockopt(\(option))")
        }
    }

    /// Sets a binary option (`ZMQ_ROUTING_ID`, `ZMQ_CURVE_SECRETKEY`, `ZMQ_ZAP_DOMAIN`, …).
    public func setOption(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError(operation: "zmq_setsockopt(\(option))") }
    }

    /// Publishes `events` (`ZMQ_EVENT_*` bits) of this socket on a PAIR socket bound to `endpoint`
    /// (`inproc://…`), which one other socket may connect to (`zmq_socket_monitor`).
    /// The monitor is stopped before the socket closes. Its reader must keep reading until it
    /// gets `ZMQ_EVENT_MONITOR_STOPPED`: libzmq's threads block while the reader's queue is full.
    public mutating func monitor(_ endpoint: String, events: Int32) throws(ZMQError) {
        guard zmq_socket_monitor(handle, endpoint, events) == 0 else {
            throw ZMQError(operation: "zmq_socket_monitor(\(endpoint))")
        }
        monitored = true
    }

    public func bind(_ endpoint: String) throws(ZMQError) {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError(operation: "zmq_bind(\(endpoint))") }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError(operation: "zmq_connect(\(endpoint))") }
    }

    /// ZMTP heartbeats on every connection of this socket: a PING every `interval`, and a
    /// connection whose peer has sent nothing for `timeout` is dropped (and, on a connecting
    /// socket, made again, its queued messages kept). Without them a connection whose network
    /// went silent (no FIN, no RST) stays "up" until TCP gives up, about 15 minutes.
    public func heartbeat(every interval: Duration, timeout: Duration) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, Int32(clamping: max(1, interval.milliseconds)))
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, Int32(clamping: max(1, timeout.milliseconds)))
    }

    /// `ZMQ_LAST_ENDPOINT`: after binding `tcp://127.0.0.1:*`, the endpoint with the real port.
    public func lastEndpoint() throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
            throw ZMQError(operation: "zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Sends one multipart message without blocking. Throws `EAGAIN` when the peer's queue is full
    /// and `EHOSTUNREACH` on a ROUTER with `ZMQ_ROUTER_MANDATORY` when the identity is unknown.
    public func send(_ frames: [[UInt8]]) throws(ZMQError) {
        for (index, frame) in frames.enumerated() {
            let more = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, more | ZMQ_DONTWAIT) }
            if rc < 0 { throw ZMQError(operation: "zmq_send") }
        }
    }

    /// Receives one multipart message without blocking; nil when none is waiting.
    public func receive() throws(ZMQError) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        var flags = ZMQ_DONTWAIT
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            if zmq_msg_recv(&message, handle, flags) < 0 {
                let code = zmq_errno()
                if code == EAGAIN && frames.isEmpty { return nil }
                if code == EINTR && frames.isEmpty { continue }
                throw ZMQError(operation: "zmq_msg_recv", code: code)
            }
            let size = zmq_msg_size(&message)
            if size > 0, let data = zmq_msg_data(&message) {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            guard zmq_msg_more(&message) != 0 else { return frames }
            flags = 0  // the remaining parts of a multipart message arrive atomically
        }
    }

    /// What `poll` found ready.
    public struct Readiness: Sendable {
        public var socket: Bool
        public var fd: Bool
    }

    /// Waits until the socket has a message, `fd` is readable, or `timeoutMs` passes (-1: forever).
    /// The fd is usually an eventfd other threads write to wake this one.
    public func poll(alongside fd: Int32, timeoutMs: Int) throws(ZMQError) -> Readiness {
        var items = [
            zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
            zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0),
        ]
        let rc = zmq_poll(&items, 2, timeoutMs)
        if rc < 0 {
            if zmq_errno() == EINTR { return Readiness(socket: false, fd: false) }
            throw ZMQError(operation: "zmq_poll")
        }
        return Readiness(
            socket: items[0].revents & Int16(ZMQ_POLLIN) != 0, fd: items[1].revents & Int16(ZMQ_POLLIN) != 0)
    }
}
