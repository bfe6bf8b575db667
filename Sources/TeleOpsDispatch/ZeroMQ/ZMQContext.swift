import CZeroMQ

/// A ZeroMQ error: the errno of the failed call and libzmq's text for it.
///
/// ```swift
/// do { try socket.bind("tcp://127.0.0.1:*") }
/// catch let error as ZMQError { print(error) }  // "zmq_bind(tcp://…): Address already in use (errno 98)"
/// ```
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno value libzmq reported (`zmq_errno()`).
    public var code: Int32
    /// `zmq_strerror(code)`.
    public var text: String
    /// The call that failed, with its argument when useful.
    public var operation: String

    public init(operation: String, code: Int32 = zmq_errno()) {
        self.code = code
        self.text = String(cString: zmq_strerror(code))
        self.operation = operation
    }

    public var description: String { "\(operation): \(text) (errno \(code))" }
}

/// A ZeroMQ context: owns libzmq's I/O thread.
///
/// ```swift
/// let context = ZMQContext.shared
/// var socket = try ZMQSocket(context: context, type: .dealer)
/// ```
// @unchecked Sendable: libzmq documents contexts as thread-safe; only sockets are
// confined to one thread, and ZMQSocket enforces that by being ~Copyable and non-Sendable.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    /// The context's ZAP handler (one per context, shared by every CURVE server socket in it):
    /// its thread runs only while some socket is registered, so it never holds `deinit` up.
    let zap = ZAPRegistry()

    /// The process-wide context every broker and worker uses unless given another.
    public static let shared = ZMQContext()

    public init() {
        // zmq_ctx_new fails only on out-of-memory or fd exhaustion.
        guard let handle = zmq_ctx_new() else { fatalError("zmq_ctx_new failed: \(ZMQError(operation: "zmq_ctx_new"))") }
        self.handle = handle
    }

    deinit {
        // Blocks until every socket of this context is closed (all use ZMQ_LINGER 0 or a short linger).
        zmq_ctx_term(handle)
    }
}
