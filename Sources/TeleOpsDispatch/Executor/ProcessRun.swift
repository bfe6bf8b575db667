import CShims
import Glibc
import TeleOpsCore

/// One blocking run of a command on the calling (dedicated) thread: spawn it, watch it until it
/// exits, times out or is cancelled, then stop whatever is left of its process tree and reap it.
/// `ProcessExecutor` describes the steps.
struct ProcessRun {
    let spec: ExecSpec
    let cancel: WakeSignal
    let onOutput: (@Sendable ([UInt8]) -> Void)?

    /// How long output is still drained once the tree is dead (an escapee we could not find may
    /// hold the pipe).
    static let drainLimit: Duration = .milliseconds(200)
    /// How long SIGKILL rounds, and then reaping, may take before giving up (a process stuck in
    /// the kernel, or an orphan reparented elsewhere than to us).
    static let killLimit: Duration = .seconds(5)

    func run() -> ExecResult {
        let clock = ContinuousClock()
        let start = clock.now
        let marker = TaskMarker()
        var environment = spec.environment
        environment[TaskMarker.variable] = marker.value

        var fds: [Int32] = [-1, -1]
        guard teleops_pipe_cloexec(&fds) == 0 else {
            let code = errno
            return ExecResult(exitCode: 126, signal: nil, timedOut: false, duration: .zero, output: [],
                              truncated: false, spawnError: "pipe failed: \(String(cString: strerror(code)))")
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        // Opened before the spawn, so that no other run takes an orphan of this one for its own.
        let beforeSpawn = TaskOrphans.ticksNow()
        let window = TaskOrphans.shared.begin(now: beforeSpawn)
        let spawned = spawnInGroup(argv: spec.argv, environment: environment, workingDirectory: spec.workingDirectory,
                                   output: .pipe(writeEnd: writeEnd), limits: spec.limits, user: spec.user,
                                   group: spec.group)
        close(writeEnd)
        let pid: pid_t
        switch spawned {
        case .success(let spawnedPID): pid = spawnedPID
        case .failure(let error):
            close(readEnd)
            if let window { window.registry.withdraw(window) }
            return ExecResult(exitCode: error.exitCode, signal: nil, timedOut: false, duration: clock.now - start,
                              output: [], truncated: false, spawnError: error.description)
        }

        // The kernel took the main process's start time between the two readings; in the same
        // tick (nearly always: a tick is 10 ms), that tick is its start time, with no /proc read.
        let afterSpawn = TaskOrphans.ticksNow()
        let startTick = beforeSpawn == afterSpawn && beforeSpawn > 0 ? beforeSpawn : nil
        var watch = TaskWatch(mainPID: pid, pipe: readEnd, marker: marker, startTick: startTick, orphans: window,
                              output: OutputCollector(limit: spec.outputLimit, onOutput: onOutput))
        let cause = watch.waitForMain(until: start + spec.timeout, cancel: cancel)
        // Timed out or cancelled: the whole tree. Exited by itself: whatever it left running.
        watch.stopTree(grace: spec.killGrace)
        if let window {
            // Orphans deferred while other runs that could own them ran, and this was the last.
            let handed = window.registry.end(window)
            if !handed.isEmpty {
                watch.tree.adopt(handed)
                watch.stopTree(grace: spec.killGrace)
            }
        }
        let ended = watch.mainEnded ?? clock.now
        let leftovers = cause == nil ? watch.tree.killed : []
        watch.tree.reap(within: Self.killLimit)
        watch.drainOutput(until: clock.now + Self.drainLimit)
        if !leftovers.isEmpty {
            let shown = leftovers.prefix(10).map { "\($0.name)[\($0.pid)]" }.joined(separator: ", ")
            let more = leftovers.count > 10 ? ", …" : ""
            watch.output.appendNotice(
                "killed \(leftovers.count) leftover process(es) of this task, still running after it exited: \(shown)\(more)")
        }
        return ExecResult(exitCode: watch.status?.exitCode, signal: watch.status?.signal, timedOut: cause == .timeout,
                          duration: ended - start, output: watch.output.kept, truncated: watch.output.truncated)
    }

    /// Whole milliseconds from `now` to `instant`, rounded up, at least 0.
    static func millis(from now: ContinuousClock.Instant, to instant: ContinuousClock.Instant) -> Int32 {
        let delta = instant - now
        guard delta > .zero else { return 0 }
        let (seconds, attoseconds) = delta.components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }
}

/// Why the executor stopped a command that had not exited by itself.
enum StopCause: Equatable {
    case timeout
    case cancelled
}

/// A spawned command while it is watched: its output pipe, its main process (reaped here, by pid:
/// it is our child and nobody else's to reap) and the rest of its tree.
struct TaskWatch: ~Copyable {
    let mainPID: pid_t
    /// -1 on kernels without pidfd_open: then the main process is polled every 5 ms.
    private let mainFD: Int32
    private(set) var status: WaitStatus?
    private(set) var mainEnded: ContinuousClock.Instant?
    private var mainSignals: Set<Int32> = []
    var tree: TaskTree
    var output: OutputCollector
    private let pipe: Int32
    private var pipeOpen = true
    private let clock = ContinuousClock()

    init(mainPID: pid_t, pipe: Int32, marker: TaskMarker, startTick: UInt64? = nil, orphans: TaskOrphans.Window? = nil,
         output: consuming OutputCollector) {
        self.mainPID = mainPID
        mainFD = teleops_pidfd_open(mainPID)
        self.pipe = pipe
        _ = fcntl(pipe, F_SETFL, fcntl(pipe, F_GETFL) | O_NONBLOCK)
        tree = TaskTree(mainPID: mainPID, marker: marker, startTick: startTick, orphans: orphans)
        self.output = output
    }

    deinit {
        if mainFD >= 0 { close(mainFD) }
        close(pipe)
    }

    /// Reads output until the main process exits (nil), `deadline` passes (`.timeout`) or
    /// `cancel` fires (`.cancelled`).
    mutating func waitForMain(until deadline: ContinuousClock.Instant, cancel: WakeSignal) -> StopCause? {
        while status == nil {
            let now = clock.now
            if now >= deadline { return .timeout }
            var timeout = ProcessRun.millis(from: now, to: deadline)
            if mainFD < 0 { timeout = min(timeout, 5) }
            var items: [pollfd] = []
            let pipeIndex = pipeOpen ? Self.add(pipe, to: &items) : -1
            let mainIndex = mainFD >= 0 ? Self.add(mainFD, to: &items) : -1
            let cancelIndex = Self.add(cancel.fd, to: &items)
            if poll(&items, nfds_t(items.count), timeout) < 0 && errno != EINTR { return .cancelled }  // cannot happen
            if pipeIndex >= 0 && items[pipeIndex].revents != 0 { pipeOpen = output.read(from: pipe) }
            if items[cancelIndex].revents != 0 { return .cancelled }
            if mainIndex < 0 || items[mainIndex].revents != 0 { reapMain() }
        }
        return nil
    }

    /// Stops every process of the task that is still running: SIGTERM to the main process (when
    /// it is), to the group and to every member found in /proc; `grace` for them to exit (new
    /// members found meanwhile get SIGTERM too); then SIGKILL rounds, each followed by a rescan,
    /// until a scan finds nothing alive (bounded by `ProcessRun.killLimit`). Returns at once when
    /// nothing is left. Output is read all along.
    mutating func stopTree(grace: Duration) {
        // Exited by itself, and no orphan anywhere: nothing to look for (the usual case).
        if status != nil, tree.nothingLeftWithoutScan() { return }
        let killAt = clock.now + grace
        while true {
            let alive = tree.scan(includingMain: status == nil)
            if status != nil && alive.isEmpty { return }
            signalMain(SIGTERM)
            tree.signalAll(SIGTERM)
            waitForExits(until: killAt)
            if clock.now >= killAt { break }
        }
        let giveUp = clock.now + ProcessRun.killLimit
        while true {
            let alive = tree.scan(includingMain: status == nil)
            if status != nil && alive.isEmpty { break }
            signalMain(SIGKILL)
            tree.signalAll(SIGKILL)
            waitForExits(until: giveUp)
            if clock.now >= giveUp { break }
        }
        // SIGKILLed and still not exited: in the kernel (D state). Its status is still ours to take.
        while status == nil { waitForExits(until: nil) }
    }

    mutating func drainOutput(until deadline: ContinuousClock.Instant) {
        if pipeOpen { output.drain(pipe, until: deadline) }
        pipeOpen = false
    }

    /// Reads output and notes exits until the main process and every known member have exited,
    /// or until `deadline` (nil: no deadline).
    private mutating func waitForExits(until deadline: ContinuousClock.Instant?) {
        while status == nil || !tree.allExited {
            let now = clock.now
            if let deadline, now >= deadline { return }
            var timeout = deadline.map { ProcessRun.millis(from: now, to: $0) } ?? -1
            if (status == nil && mainFD < 0) || tree.hasUnwatchedMembers { timeout = timeout < 0 ? 5 : min(timeout, 5) }
            var items: [pollfd] = []
            let pipeIndex = pipeOpen ? Self.add(pipe, to: &items) : -1
            let mainIndex = status == nil && mainFD >= 0 ? Self.add(mainFD, to: &items) : -1
            let members = tree.waitList
            let firstMember = items.count
            for member in members { _ = Self.add(member.fd, to: &items) }
            if poll(&items, nfds_t(items.count), timeout) < 0 && errno != EINTR { return }
            if pipeIndex >= 0 && items[pipeIndex].revents != 0 { pipeOpen = output.read(from: pipe) }
            if status == nil && (mainIndex < 0 || items[mainIndex].revents != 0) { reapMain() }
            for (offset, member) in members.enumerated() where items[firstMember + offset].revents != 0 {
                tree.noteExited(member.pid)
            }
            tree.refreshUnwatched()
        }
    }

    /// Each signal once to the main process while it is ours (not reaped: its pid cannot be reused).
    private mutating func signalMain(_ signal: Int32) {
        guard status == nil, mainSignals.insert(signal).inserted else { return }
        kill(mainPID, signal)
    }

    private mutating func reapMain() {
        var raw: Int32 = 0
        let reaped = waitpid(mainPID, &raw, WNOHANG)
        if reaped == mainPID {
            status = WaitStatus(raw: raw)
        } else if reaped < 0 && errno == ECHILD {
            // Someone else reaped it (a waitpid(-1) elsewhere in the process): status unknown.
            status = WaitStatus(raw: 0x7f00 | Int32(SIGKILL))
        } else {
            return
        }
        mainEnded = clock.now
    }

    private static func add(_ fd: Int32, to items: inout [pollfd]) -> Int {
        items.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        return items.count - 1
    }
}
