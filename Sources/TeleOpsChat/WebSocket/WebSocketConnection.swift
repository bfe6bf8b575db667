import CShims
import Foundation
import Glibc
import Synchronization

/// Timeouts and limits of a ``WebSocketConnection``.
public struct WebSocketOptions: Sendable {
    /// Bounds the connection (DNS, TCP, proxy, TLS) and the upgrade exchange together; also how
    /// long ``WebSocketConnection/close(code:reason:)`` waits for the server's answering close frame.
    public var connectTimeout: Duration = .seconds(10)
    /// A ping goes out this often while the connection is open; `.zero` sends none.
    public var pingInterval: Duration = .seconds(30)
    /// A connection the server has sent nothing on (no frame, no pong) for this long is dead;
    /// `.zero` never gives up.
    public var idleTimeout: Duration = .seconds(90)
    /// A larger message (the sum of its fragments) ends the connection with close code 1009.
    public var maxMessageBytes: Int = 16 << 20

    public init() {}
}

/// A failed connect or upgrade, or a connection that ended without a close handshake.
public struct WebSocketError: Error, Sendable, CustomStringConvertible {
    /// The URL without its query string (Slack's connection ticket is a secret).
    public var url: String
    public var message: String

    public var description: String { "\(url): \(message)" }

    public init(url: String, message: String) {
        self.url = url
        self.message = message
    }
}

/// A WebSocket client connection (RFC 6455) over libcurl.
///
/// libcurl opens the connection with `CURLOPT_CONNECT_ONLY` (the Debian libcurl has no ws
/// support of its own): DNS, TCP, `HTTPS_PROXY`/`NO_PROXY` proxies (tunnelled with CONNECT) and,
/// for `wss://`, TLS: wss relies entirely on libcurl's TLS and its certificate verification
/// against the system CA store (the tests run over plain ws:// on loopback, where no TLS server
/// is at hand). The upgrade request and the frames are written and read
/// here with `curl_easy_send`/`curl_easy_recv` on a dedicated thread per connection, never on
/// Swift's cooperative pool. That thread pings every `pingInterval`, answers pings with pongs and
/// the server's close frame with a close frame, and gives up on a connection silent for `idleTimeout`.
///
/// - Text messages arrive on ``messages`` in order, reassembled from fragments; binary messages
///   are ignored (counted against `maxMessageBytes`, then dropped).
/// - ``messages`` finishes without an error when the connection ends with a close handshake,
///   whichever side began it (the server's code is in ``closeCode``); it throws a
///   ``WebSocketError`` when the connection drops, goes silent, or breaks the protocol (the client
///   then closes with 1002, 1007 for a text message that is not UTF-8, or 1009 for a message
///   over `maxMessageBytes`).
/// - ``messages`` is a single stream: iterate it from one task. It buffers without bound, so a
///   consumer that stops reading lets messages pile up in memory (up to `maxMessageBytes` each).
///
/// ```swift
/// let socket = try await WebSocketConnection.connect(url: "wss://example.com/link?ticket=…",
///                                                    headers: ["Authorization": "Bearer …"])
/// try await socket.send(#"{"envelope_id":"1"}"#)
/// for try await text in socket.messages { print(text) }
/// await socket.close()
/// ```
public final class WebSocketConnection: Sendable {
    private let core: WebSocketCore

    private init(core: WebSocketCore) {
        self.core = core
    }

    /// Closes (code 1001) a connection nobody holds any more; the thread ends on its own.
    deinit {
        core.requestClose(code: CloseCode.goingAway, reason: "")
    }

    /// Connects to a `ws://` or `wss://` URL and performs the upgrade. `headers` are added to the
    /// upgrade request (`Host`, `Upgrade`, `Connection` and `Sec-WebSocket-*` are set here and
    /// cannot be overridden). Throws ``WebSocketError`` (the status and the start of the body
    /// when the server does not answer 101), or `CancellationError` when the task is cancelled.
    public static func connect(url: String, headers: [String: String] = [:],
                               options: WebSocketOptions = WebSocketOptions()) async throws -> WebSocketConnection {
        let target = try WebSocketTarget(url)
        let core = try WebSocketCore(target: target, options: options)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let thread = Thread {
                    // Named from inside: on Linux a name given before start() does not reach the OS thread.
                    Thread.current.name = "teleops-ws"
                    WebSocketSession.run(core: core, headers: headers, connected: continuation)
                }
                thread.start()
            }
        } onCancel: {
            core.cancelConnect()
        }
        return WebSocketConnection(core: core)
    }

    /// Text messages from the server, in order; finishes when the connection closes (normally or
    /// not), throwing ``WebSocketError`` for abnormal ends.
    public var messages: AsyncThrowingStream<String, any Error> { core.messages }

    /// Sends a text message (one frame); returns once it is handed to the socket. Throws
    /// ``WebSocketError`` once the connection is closing or closed.
    public func send(_ text: String) async throws {
        try await core.send(FrameEncoder.frame(.text, payload: text.utf8))
    }

    /// Close handshake (code, reason), then release the socket; idempotent. Waits at most
    /// `connectTimeout` for the server's close frame, and returns once the connection's thread
    /// has released everything. Codes that may not be sent (below 1000, 1004–1006, 1015, above
    /// 4999) become 1000; the reason is cut to 123 bytes.
    public func close(code: UInt16 = 1000, reason: String = "") async {
        let sendable = (1000...4999).contains(code) && ![1004, 1005, 1006, 1015].contains(code)
        core.requestClose(code: sendable ? code : CloseCode.normal, reason: reason)
        await core.waitForExit()
    }

    /// The close code the server sent, once closed (nil if the connection just dropped); 1005
    /// when its close frame carried no code.
    public var closeCode: UInt16? { core.closeCode }
}

/// What the caller's tasks and the connection's thread share.
final class WebSocketCore: Sendable {
    struct Outgoing: Sendable {
        var bytes: [UInt8]
        var sent: CheckedContinuation<Void, any Error>?
    }

    private struct State {
        /// False once a close is requested or under way: `send` then fails.
        var accepting = true
        var outbox: [Outgoing] = []
        var closeRequest: (code: UInt16, reason: String)?
        var connectCancelled = false
        var closeCode: UInt16?
        /// The eventfd that wakes the thread; -1 once the thread has ended and closed it.
        var wakeFD: Int32
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let target: WebSocketTarget
    let options: WebSocketOptions
    let messages: AsyncThrowingStream<String, any Error>
    let continuation: AsyncThrowingStream<String, any Error>.Continuation
    /// The thread's copy of the eventfd (the thread alone closes it).
    let wakeFD: Int32
    private let state: Mutex<State>

    init(target: WebSocketTarget, options: WebSocketOptions) throws(WebSocketError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw WebSocketError(url: target.redacted, message: "eventfd failed: errno \(errno)") }
        self.target = target
        self.options = options
        (messages, continuation) = AsyncThrowingStream.makeStream(of: String.self, throwing: (any Error).self)
        wakeFD = fd
        state = Mutex(State(wakeFD: fd))
    }

    var closeCode: UInt16? { state.withLock { $0.closeCode } }

    func error(_ message: String) -> WebSocketError {
        WebSocketError(url: target.redacted, message: target.scrub(message))
    }

    // MARK: Caller side

    func send(_ frame: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let accepted = state.withLock { state in
                guard state.accepting else { return false }
                state.outbox.append(Outgoing(bytes: frame, sent: continuation))
                Self.wake(state)
                return true
            }
            if !accepted { continuation.resume(throwing: error("the connection is closed")) }
        }
    }

    func requestClose(code: UInt16, reason: String) {
        state.withLock { state in
            guard state.accepting else { return }
            state.accepting = false
            state.closeRequest = (code, reason)
            Self.wake(state)
        }
    }

    func cancelConnect() {
        state.withLock { state in
            state.connectCancelled = true
            Self.wake(state)
        }
    }

    /// Returns once the connection's thread has released the socket and ended.
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = state.withLock { state in
                if state.wakeFD < 0 { return true }
                state.exitWaiters.append(continuation)
                return false
            }
            if ended { continuation.resume() }
        }
    }

    private static func wake(_ state: borrowing State) {
        guard state.wakeFD >= 0 else { return }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(state.wakeFD, $0.baseAddress, 8) }
    }

    // MARK: Thread side

    var connectCancelled: Bool { state.withLock { $0.connectCancelled } }

    /// Frames queued by `send` since the last call, and a close requested by `close`.
    func takeWork() -> (frames: [Outgoing], close: (code: UInt16, reason: String)?) {
        state.withLock { state in
            defer {
                state.outbox = []
                state.closeRequest = nil
            }
            return (state.outbox, state.closeRequest)
        }
    }

    /// The client is closing on its own (the server's close, a protocol error): later sends fail,
    /// and frames queued but not yet taken are returned to be failed.
    func stopAccepting() -> [Outgoing] {
        state.withLock { state in
            state.accepting = false
            defer { state.outbox = [] }
            return state.outbox
        }
    }

    func setCloseCode(_ code: UInt16) {
        state.withLock { $0.closeCode = code }
    }

    /// The thread's last act, after the socket is released: closes the eventfd, fails what is
    /// still queued, finishes the stream (if nothing finished it before) and wakes `close()`.
    func threadEnded(unsent: [Outgoing]) {
        let (waiters, queued) = state.withLock { state in
            state.accepting = false
            close(state.wakeFD)
            state.wakeFD = -1
            defer {
                state.exitWaiters = []
                state.outbox = []
            }
            return (state.exitWaiters, state.outbox)
        }
        for frame in unsent + queued { frame.sent?.resume(throwing: error("the connection is closed")) }
        continuation.finish()
        waiters.forEach { $0.resume() }
    }
}
