import CZeroMQ
import Foundation
import Logging
import Synchronization

/// Which CURVE clients one ZAP domain (one broker's ROUTER) accepts, and how it logs refusals.
///
/// ```swift
/// let policy = ZAPPolicy(allowedKeys: [workerKey], logger: logger)
/// let registration = try context.zap.register(policy, in: context)   // before binding the ROUTER
/// try router.setOption(ZMQ_ZAP_DOMAIN, bytes: Array(registration.domain.utf8))
/// router.keepAlive(registration)                                      // unregistered after the close
/// ```
final class ZAPPolicy: Sendable {
    let allowedKeys: Set<CurvePublicKey>
    let logger: Logger
    private let refusals: Mutex<RefusalLog>

    init(allowedKeys: Set<CurvePublicKey>, logger: Logger, refusalLogWindow: Duration = .seconds(60),
         refusalLinesPerWindow: Int = 10) {
        self.allowedKeys = allowedKeys
        self.logger = logger
        self.refusals = Mutex(RefusalLog(window: refusalLogWindow, maxLines: refusalLinesPerWindow))
    }

    /// The ZAP verdict for one handshake: 200 for a CURVE client whose key is allowed, 400 otherwise.
    func decide(mechanism: String, credentials: [[UInt8]], address: String, now: ContinuousClock.Instant)
        -> (status: String, text: String)
    {
        guard mechanism == "CURVE", let key = credentials.first.flatMap(CurvePublicKey.init(bytes:)) else {
            refused(key: "-", address: address, reason: "mechanism \(mechanism) is not CURVE", now: now)
            return ("400", "CURVE required")
        }
        guard allowedKeys.contains(key) else {
            refused(key: key.z85, address: address, reason: "public key is not on the allowlist", now: now)
            return ("400", "public key not allowed")
        }
        logger.debug("CURVE key accepted", metadata: ["peer": "\(address)", "public_key": "\(key.z85)"])
        return ("200", "OK")
    }

    private func refused(key: String, address: String, reason: String, now: ContinuousClock.Instant) {
        guard let suppressed = refusals.withLock({ $0.admit(key: key, now: now) }) else { return }
        var metadata: Logger.Metadata = ["peer": "\(address)", "public_key": "\(key)", "reason": "\(reason)"]
        if suppressed > 0 { metadata["not_logged_before"] = "\(suppressed)" }
        logger.warning("worker refused: CURVE key not allowed", metadata: metadata)
    }

    /// When the refusals held back in the current window should be reported; nil if none are.
    func nextSummary() -> ContinuousClock.Instant? { refusals.withLock { $0.pendingSummaryAt } }

    /// Reports the refusals held back in a window that has ended.
    func summarize(now: ContinuousClock.Instant) {
        guard let count = refusals.withLock({ $0.takeSummary(now: now) }) else { return }
        logger.warning("more CURVE handshakes refused (not logged one by one)", metadata: [
            "refused": "\(count)", "window": "\(refusals.withLock { $0.window })",
        ])
    }
}

/// Rate limit for refusal log lines, so a scanner or a misconfigured worker reconnecting ten
/// times a second cannot flood the log: per window, each key is logged once and at most
/// `maxLines` lines are written; the rest are counted and reported when the window ends.
struct RefusalLog {
    let window: Duration
    let maxLines: Int
    private var windowStart: ContinuousClock.Instant?
    private var loggedKeys: Set<String> = []
    private var suppressed = 0
    private var carried = 0

    init(window: Duration, maxLines: Int) {
        self.window = window
        self.maxLines = maxLines
    }

    /// nil: do not log this refusal. Otherwise log it; the value counts refusals held back
    /// before it that no summary reported yet.
    mutating func admit(key: String, now: ContinuousClock.Instant) -> Int? {
        if let start = windowStart, now - start >= window {
            carried += suppressed
            suppressed = 0
            loggedKeys = []
            windowStart = now
        }
        if windowStart == nil { windowStart = now }
        guard loggedKeys.count < maxLines, loggedKeys.insert(key).inserted else {
            suppressed += 1
            return nil
        }
        defer { carried = 0 }
        return carried
    }

    var pendingSummaryAt: ContinuousClock.Instant? {
        guard suppressed > 0, let windowStart else { return nil }
        return windowStart + window
    }

    mutating func takeSummary(now: ContinuousClock.Instant) -> Int? {
        guard let at = pendingSummaryAt, now >= at else { return nil }
        defer {
            suppressed = 0
            carried = 0
            loggedKeys = []
            windowStart = nil
        }
        return suppressed + carried
    }
}

/// One ZAP domain's registration; unregisters itself when released (after the socket using it
/// closed, when held by `ZMQSocket.keepAlive`).
final class ZAPRegistration: Sendable {
    let domain: String
    private let registry: ZAPRegistry

    fileprivate init(domain: String, registry: ZAPRegistry) {
        self.domain = domain
        self.registry = registry
    }

    deinit { registry.unregister(domain) }
}

/// The ZAP handler of one ZeroMQ context (RFC 27): a REP socket bound to
/// `inproc://zeromq.zap.01` on its own thread, answering every CURVE handshake of the context's
/// sockets that set a `ZMQ_ZAP_DOMAIN`. Several brokers may share a context: each registers its
/// own domain and policy. The thread starts with the first registration and stops (closing its
/// socket) when the last one is released.
final class ZAPRegistry: Sendable {
    static let endpoint = "inproc://zeromq.zap.01"

    private struct Running {
        let thread: HandlerThread
        var domains = 0
    }

    private let policies = PolicyTable()
    /// Held while the handler thread starts or stops, so a start never races a stop's unbind.
    private let lifecycle = Mutex<Running?>(nil)

    /// Adds `policy` under a new unique domain, starting the handler if needed. When this
    /// returns, the handler is bound: a socket bound after it is never without authentication.
    func register(_ policy: ZAPPolicy, in context: ZMQContext) throws(ZMQError) -> ZAPRegistration {
        let domain = "teleops-\(UUID().uuidString.lowercased())"
        try lifecycle.withLock { (running: inout Running?) throws(ZMQError) in
            if running == nil {
                running = Running(thread: try HandlerThread.start(context: context, policies: policies))
            }
            running?.domains += 1
            policies.table.withLock { $0[domain] = policy }
        }
        running?.thread.wake.signal()  // recompute summary deadlines
        return ZAPRegistration(domain: domain, registry: self)
    }

    private var running: Running? { lifecycle.withLock { $0 } }

    fileprivate func unregister(_ domain: String) {
        lifecycle.withLock { running in
            policies.table.withLock { _ = $0.removeValue(forKey: domain) }
            running?.domains -= 1
            guard let current = running, current.domains <= 0 else { return }
            current.thread.stopAndWait()
            running = nil
        }
    }

    /// Whether the handler thread is running (tests check it stops).
    var isRunning: Bool { lifecycle.withLock { $0 != nil } }
}

/// The policies of a context's ZAP domains, shared by the registry and the handler thread.
private final class PolicyTable: Sendable {
    let table = Mutex<[String: ZAPPolicy]>([:])
}

/// The thread that owns the ZAP REP socket.
private final class HandlerThread: Sendable {
    let wake = WakeSignal()
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the thread and waits until its socket is bound (or binding failed).
    static func start(context: ZMQContext, policies: PolicyTable) throws(ZMQError) -> HandlerThread {
        let handler = HandlerThread()
        let bound = DispatchSemaphore(value: 0)
        let bindResult = Mutex<ZMQError?>(nil)
        let thread = Thread {
            handler.run(context: context, policies: policies) { error in
                bindResult.withLock { $0 = error }
                bound.signal()
            }
            handler.finished.signal()
        }
        thread.name = "teleops-zap"
        thread.start()
        bound.wait()
        if let error = bindResult.withLock({ $0 }) {
            handler.finished.wait()
            throw error
        }
        return handler
    }

    func stopAndWait() {
        stopped.withLock { $0 = true }
        wake.signal()
        finished.wait()
    }

    private func run(context: ZMQContext, policies: PolicyTable,
                     bound: (ZMQError?) -> Void) {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket.opened(context: context, type: .rep) { socket throws(ZMQError) in
                try socket.bind(ZAPRegistry.endpoint)
            }
        } catch {
            bound(ZMQError(operation: "ZAP handler: \(error.operation)", code: error.code))
            return
        }
        bound(nil)
        let clock = ContinuousClock()
        while !stopped.withLock({ $0 }) {
            let summaries = policies.table.withLock { Array($0.values) }
            let next = summaries.compactMap { $0.nextSummary() }.min()
            let timeout = next.map { Int(ProcessRun.millis(from: clock.now, to: $0)) } ?? -1
            do {
                let ready = try socket.poll(alongside: wake.fd, timeoutMs: timeout)
                if ready.fd { wake.drain() }
                while let request = try socket.receive() {
                    try socket.send(answer(request, policies: policies, now: clock.now))
                }
            } catch {
                // Only a broken context gets here; answer nothing more rather than spin.
                summaries.first?.logger.error("ZAP handler failed", metadata: ["error": "\(error)"])
                return
            }
            for policy in summaries { policy.summarize(now: clock.now) }
        }
    }

    /// RFC 27: request [version, request id, domain, address, identity, mechanism, credentials…],
    /// reply [version, request id, status code, status text, user id, metadata].
    private func answer(_ frames: [[UInt8]], policies: PolicyTable,
                        now: ContinuousClock.Instant) -> [[UInt8]] {
        func reply(_ status: String, _ text: String) -> [[UInt8]] {
            [Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array(status.utf8), Array(text.utf8), [], []]
        }
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else { return reply("500", "malformed ZAP request") }
        let text = { (index: Int) in String(decoding: frames[index], as: UTF8.self) }
        guard let policy = policies.table.withLock({ $0[text(2)] }) else { return reply("400", "unknown ZAP domain") }
        let (status, statusText) = policy.decide(mechanism: text(5), credentials: Array(frames.dropFirst(6)),
                                                 address: text(3), now: now)
        return reply(status, statusText)
    }
}
