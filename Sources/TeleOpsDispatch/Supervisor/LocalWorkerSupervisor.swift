import CShims
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TeleOpsCore

/// Keeps `count` local worker processes running: spawns each in its own process group (so a
/// terminal's Ctrl-C reaches only the controller), watches it on a dedicated thread through a
/// pidfd, reports its death through `onExit` and restarts it with exponential backoff.
///
/// ```swift
/// let supervisor = LocalWorkerSupervisor(
///     executable: exe, count: 1,
///     arguments: { id in [exe, "worker", "--connect", endpoint, "--id", id, "--host", "*",
///                         "--parent-pid", "\(getpid())"] },
///     onExit: { id, reason in broker.workerExited(id: id, reason: reason) },
///     logger: logger)
/// ```
///
/// Worker ids are `idPrefix` + 1…count ("local-1", …). On graceful shutdown (or cancellation)
/// each worker gets SIGTERM, then SIGKILL after `stopGrace`, and is reaped before `run()` returns.
public final class LocalWorkerSupervisor: Service {
    /// Delay before a restart: `initial`, doubled after each death up to `maximum`, back to
    /// `initial` once a worker has stayed up for `resetAfter`.
    public struct Backoff: Sendable {
        public var initial: Duration
        public var maximum: Duration
        public var resetAfter: Duration

        public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5),
                    resetAfter: Duration = .seconds(30)) {
            self.initial = initial
            self.maximum = maximum
            self.resetAfter = resetAfter
        }
    }

    let executable: String
    let ids: [String]
    let arguments: @Sendable (String) -> [String]
    let environment: [String: String]
    let onExit: @Sendable (String, String) -> Void
    let backoff: Backoff
    let stopGrace: Duration
    let logger: Logger
    /// Level-triggered: once signalled it stays readable, waking every watcher thread.
    let stop = WakeSignal()
    let pids = Mutex<[String: Int32]>([:])

    /// - Parameters:
    ///   - arguments: the full argv (argv[0] included) for a worker id.
    ///   - environment: the workers' environment; nil inherits this process's.
    public init(executable: String, count: Int, idPrefix: String = "local-",
                arguments: @escaping @Sendable (String) -> [String], environment: [String: String]? = nil,
                onExit: @escaping @Sendable (_ workerID: String, _ reason: String) -> Void,
                backoff: Backoff = Backoff(), stopGrace: Duration = .seconds(3), logger: Logger) {
        self.executable = executable
        self.ids = count > 0 ? (1...count).map { "\(idPrefix)\($0)" } : []
        self.arguments = arguments
        self.environment = environment ?? ProcessInfo.processInfo.environment
        self.onExit = onExit
        self.backoff = backoff
        self.stopGrace = stopGrace
        self.logger = logger
    }

    /// The pid of each worker that is running now.
    public func workerPIDs() -> [String: Int32] { pids.withLock { $0 } }

    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    for id in ids {
                        group.addTask { [self] in
                            await onDedicatedThread(name: "teleops-supervise-\(id)") { [self] in watch(id) }
                        }
                    }
                }
            } onGracefulShutdown: { [self] in stop.signal() }
        } onCancel: { [self] in stop.signal() }
    }

    private var stopping: Bool {
        var item = pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)
        return poll(&item, 1, 0) > 0
    }

    /// Spawn, wait, report, back off, repeat, until stopped.
    private func watch(_ id: String) {
        let clock = ContinuousClock()
        var delay = backoff.initial
        while !stopping {
            let started = clock.now
            let reason: String
            switch spawnInGroup(program: executable, argv: arguments(id), environment: environment,
                                workingDirectory: nil, output: .inherit, newSession: true) {
            case .failure(let error):
                reason = error.description
                logger.error("cannot start worker", metadata: ["worker": "\(id)", "error": "\(error)"])
            case .success(let pid):
                pids.withLock { $0[id] = pid }
                logger.info("worker started", metadata: ["worker": "\(id)", "pid": "\(pid)"])
                let status = waitForExit(pid)
                guard let status else {
                    terminate(pid, id: id)
                    pids.withLock { $0[id] = nil }
                    return
                }
                pids.withLock { $0[id] = nil }
                reason = status.description
                logger.warning("worker exited", metadata: ["worker": "\(id)", "pid": "\(pid)", "status": "\(reason)"])
            }
            onExit(id, reason)
            if clock.now - started >= backoff.resetAfter { delay = backoff.initial }
            if waitForStop(timeoutMs: Int32(clamping: delay.milliseconds)) { return }
            delay = min(delay * 2, backoff.maximum)
        }
    }

    /// Waits until `pid` exits (reaped: its status) or stop is requested (nil, still running).
    private func waitForExit(_ pid: pid_t) -> WaitStatus? {
        let pidfd = teleops_pidfd_open(pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        while true {
            var raw: Int32 = 0
            if pidfd < 0 || pidfdReady(pidfd) {
                let reaped = waitpid(pid, &raw, WNOHANG)
                if reaped == pid { return WaitStatus(raw: raw) }
                if reaped < 0 && errno != EINTR { return WaitStatus(raw: 0x7f00 | SIGKILL) }  // reaped elsewhere
            }
            var items = [pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)]
            if pidfd >= 0 { items.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&items, nfds_t(items.count), pidfd >= 0 ? -1 : 50)
            if items[0].revents != 0 { return nil }
        }
    }

    private func pidfdReady(_ pidfd: Int32) -> Bool {
        var item = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return poll(&item, 1, 0) > 0
    }

    /// SIGTERM, up to `stopGrace` for it to exit, then SIGKILL to its group; always reaped.
    private func terminate(_ pid: pid_t, id: String) {
        kill(pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + stopGrace
        let pidfd = teleops_pidfd_open(pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        var raw: Int32 = 0
        while clock.now < deadline {
            if waitpid(pid, &raw, WNOHANG) == pid {
                logger.info("worker stopped", metadata: ["worker": "\(id)", "status": "\(WaitStatus(raw: raw).description)"])
                return
            }
            var item = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            if pidfd >= 0 { _ = poll(&item, 1, ProcessRun.millis(from: clock.now, to: deadline)) } else { usleep(10_000) }
        }
        logger.warning("worker ignored SIGTERM; killing it", metadata: ["worker": "\(id)", "pid": "\(pid)"])
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
    }

    /// True when stop was requested within `timeoutMs`.
    private func waitForStop(timeoutMs: Int32) -> Bool {
        var item = pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)
        return poll(&item, 1, timeoutMs) > 0
    }
}
