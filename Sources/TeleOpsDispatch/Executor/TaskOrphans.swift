import CShims
import Glibc
import Synchronization

/// Which task an orphan belongs to when nothing in /proc ties it to one: a process that cleared
/// its environment (no marker), left the task's process group (a session or group of its own) and
/// whose parent has exited (no parent link). Such a process was reparented to this process, a
/// child subreaper, and sits on its main thread's list of children
/// (`/proc/self/task/PID/children`) with nothing else to say where it came from but its start
/// time. So every run of this process keeps a *window* here, from just before it spawns its
/// command until everything of it is dead, and an orphan belongs to the runs whose windows
/// cover its start time:
///
/// - a run that is ending (stopping its tree after its command exited, timed out or was
///   cancelled) and that started no later than the orphan, with no other running run that
///   could own it (one whose window opened no later than the orphan started), takes it: it is
///   that task's leftover, stopped and reaped like the other members and named in the
///   "killed N leftover process(es)" line;
/// - when other runs that could own it are still running, it is *deferred*: it may be a part
///   of one of them that is still needed. The run that ends last of those (the one whose
///   `end` leaves none running) is handed it and stops it (`end` returns it).
/// - a zombie on that list that no run claims is reaped at once (no task needs its status).
///
/// **Safety.** This may only run in a process where every child of the main thread is an
/// orphan of one of its runs, so it is off unless the process opts in (`enable()`,
/// `ProcessExecutor.claimOrphansOfTasks()`), which `teleops worker` does: it starts no child
/// process other than its commands, and starts none from its main thread. `enable()` refuses
/// when the process already has a child (say, a job of a shell that exec'd the worker): a
/// subreaper is given only orphans of its own descendants, so with no child when it opts in,
/// every later orphan descends from a command. Tests that run `WorkerAgent` in-process, and
/// whose process starts other programs, never opt in. Within an opted-in process, an orphan is
/// signalled only by a run whose window covers its start time (`/proc/PID/stat`, in clock
/// ticks since boot) while no other running run's does, or, handed over, once every run whose
/// window covered it has ended; everything is done through a pidfd checked against that start
/// time, so a reused pid is never hit.
///
/// Windows open with a lower bound of the main process's start time (`CLOCK_BOOTTIME` read
/// before the spawn, less one tick), so a run that is spawning counts already: an orphan of a
/// command that has only just started is never taken for another's.
///
/// Thread-safe: runs happen on several executor threads at once. Off, it costs one atomic load
/// per run.
final class TaskOrphans: Sendable {
    /// The registry of this process (`ProcessRun` uses it).
    static let shared = TaskOrphans()

    /// At most this many deferred orphans are remembered. Past it (beyond the ones gone), a new
    /// one is not recorded; it stays on the list of children, where the scans of the runs that
    /// could own it still find it, and only its hand-off at the very end is not assured.
    static let deferredLimit = 1024

    /// One run's entry: its id and when its window opened (clock ticks since boot).
    struct Window: Sendable {
        let registry: TaskOrphans
        let id: UInt64
        let opened: UInt64
    }

    /// A process by pid and start time (an identity that survives pid reuse).
    struct Orphan: Hashable, Sendable {
        var pid: pid_t
        var startTime: UInt64
    }

    enum Claim: Equatable {
        /// The run is the only one that can own it: stop it. `named`: it started no earlier
        /// than the run's main process (a leftover of this task, for the notice).
        case take(named: Bool)
        /// Another run that could own it still runs.
        case deferred
        /// Not this run's to take.
        case notOurs
    }

    private struct State {
        var nextID: UInt64 = 1
        /// Running runs: id → when their window opened.
        var running: [UInt64: UInt64] = [:]
        /// Orphans waiting for the last run that could own them to end.
        var deferred: [Orphan] = []
    }

    private let enabled = Atomic<Bool>(false)
    private let state = Mutex(State())

    init() {}

    var isEnabled: Bool { enabled.load(ordering: .acquiring) }

    /// Turns attribution on for this process, if it has no child process now (see the type's
    /// doc comment) and the kernel has pidfds (5.3), through which orphans are signalled and
    /// reaped. Returns whether it is on.
    @discardableResult
    func enable() -> Bool {
        if isEnabled { return true }
        let own = teleops_pidfd_open(getpid())
        guard own >= 0 else { return false }
        close(own)
        guard Self.hasNoChildren() else { return false }
        enabled.store(true, ordering: .releasing)
        return true
    }

    /// Turns it on without the check (tests of the registry alone).
    func enableForTesting() { enabled.store(true, ordering: .releasing) }

    /// Opens a window for a run about to spawn its command; nil when attribution is off.
    func begin(now: UInt64 = TaskOrphans.ticksNow()) -> Window? {
        guard isEnabled else { return nil }
        let opened = now > 0 ? now - 1 : 0  // one tick of margin for the rounding
        let id = state.withLock { state -> UInt64 in
            let id = state.nextID
            state.nextID += 1
            state.running[id] = opened
            return id
        }
        return Window(registry: self, id: id, opened: opened)
    }

    /// The run's main process started at `mainStart`: its window opens no later than that.
    /// (It always did, CLOCK_BOOTTIME being the clock of start times; this only guards that.)
    func started(_ window: Window, mainStart: UInt64) {
        guard mainStart > 0, mainStart < window.opened else { return }
        state.withLock { state in
            if let opened = state.running[window.id] { state.running[window.id] = min(opened, mainStart) }
        }
    }

    /// Whether the run of `window`, whose main process started at `runStart`, takes `orphan`
    /// (alive, on the main thread's list, claimed by no scan of this run).
    func claim(_ orphan: Orphan, by window: Window, runStart: UInt64) -> Claim {
        state.withLock { state in
            let others = state.running.contains { $0.key != window.id && $0.value <= orphan.startTime }
            let index = state.deferred.firstIndex(of: orphan)
            if orphan.startTime >= max(runStart, window.opened) {
                if others {
                    if index == nil { Self.record(orphan, in: &state) }
                    return .deferred
                }
                if let index { state.deferred.remove(at: index) }
                return .take(named: true)
            }
            // Started before this run: only a deferred orphan nobody else can own any more.
            if let index, !others {
                state.deferred.remove(at: index)
                return .take(named: false)
            }
            return .notOurs
        }
    }

    /// Closes the window of a run that has stopped its tree, and returns the deferred orphans
    /// that no running run can own any more: the run must stop them (it is the last of theirs).
    func end(_ window: Window) -> [Orphan] {
        state.withLock { state in
            state.running[window.id] = nil
            guard !state.deferred.isEmpty else { return [] }
            var handed: [Orphan] = []
            state.deferred.removeAll { orphan in
                let owned = state.running.values.contains { $0 <= orphan.startTime }
                if !owned { handed.append(orphan) }
                return !owned
            }
            return handed
        }
    }

    /// Closes the window of a run whose command did not start. Deferred orphans it leaves
    /// without an owner stay recorded: the next run to end is handed them.
    func withdraw(_ window: Window) {
        state.withLock { $0.running[window.id] = nil }
    }

    /// Deferred orphans now (tests).
    var deferred: [Orphan] { state.withLock { $0.deferred } }

    /// Running windows now (tests).
    var runningCount: Int { state.withLock { $0.running.count } }

    private static func record(_ orphan: Orphan, in state: inout State) {
        if state.deferred.count >= deferredLimit {
            var proc = ProcReader()
            state.deferred.removeAll { proc.stat($0.pid)?.startTime != $0.startTime }
        }
        if state.deferred.count < deferredLimit { state.deferred.append(orphan) }
    }

    /// Now, in the clock ticks of /proc/PID/stat's start time (CLOCK_BOOTTIME), rounded down.
    static func ticksNow() -> UInt64 {
        var now = timespec()
        guard clock_gettime(CLOCK_BOOTTIME, &now) == 0, ticksPerSecond > 0 else { return 0 }
        let nanoseconds = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        return nanoseconds / (1_000_000_000 / ticksPerSecond)
    }

    private static let ticksPerSecond = UInt64(max(0, sysconf(Int32(_SC_CLK_TCK))))

    /// Whether no thread of this process has a child (every /proc/self/task/TID/children is
    /// empty). False when that cannot be read.
    static func hasNoChildren() -> Bool {
        guard let directory = opendir("/proc/self/task") else { return false }
        defer { closedir(directory) }
        var proc = ProcReader()
        var threads = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let tid = pid_t(name) else { continue }
            threads += 1
            guard let children = proc.children(ofThread: tid), children.isEmpty else { return false }
        }
        return threads > 0
    }
}
