import CShims
import Glibc

/// Every process of one command besides its main process, found in /proc, signalled and reaped
/// through pidfds so that a reused pid is never hit.
///
/// A process belongs to the task when it started no earlier than the main process and
/// - is in the task's process group (whose id is the main process's pid), or
/// - carries the task's marker in /proc/PID/environ (`TaskMarker`), or
/// - is a child of the main process or of a member (found by parent pid, which also covers
///   members whose environ cannot be read, or that cleared it), or
/// - was a member in an earlier scan (members stay members until reaped), or
/// - in a process that attributes orphans (`orphans`, see `TaskOrphans`): is an orphan on this
///   process's main thread's list of children that the other rules do not tie to any task,
///   alive, started within this run's window and in no other running run's.
///
/// The command starts in our session (in a process group of its own), and a process only ever
/// joins its parent's session or one it starts itself, so every process the command starts is in
/// our session or in a session started since. A scan therefore passes over, with one `getsid`
/// each and without reading their /proc files, the processes in session 0 as seen from here
/// (kernel threads, sessions begun outside our pid namespace) and in sessions other than ours
/// whose leader started before the main process: reading a process's stat costs far more than
/// the `getsid`, and most processes on a host are in one of those. (So a process an older program
/// starts there with the task's marker, such as an `at` job of a running `atd`, is not found.)
/// Our own session holds this process, the commands of every run and what they started, and,
/// for a worker started from a shell, that shell's jobs: each is read. That holds when our own
/// session reads as 0 too (a process started by PID 1 without a session of its own, as some VM
/// and container inits do, or one whose session began outside our pid namespace): then session
/// 0 is read, kernel threads included, since the commands are in it.
///
/// ```swift
/// var tree = TaskTree(mainPID: pid, marker: marker)
/// let alive = tree.scan(includingMain: false)
/// if !alive.isEmpty { tree.signalAll(SIGKILL) }
/// tree.reap(within: .seconds(5))
/// ```
///
/// One thread uses a tree; it owns the pidfds it opens (closed at deinit).
struct TaskTree: ~Copyable {
    let mainPID: pid_t
    let marker: TaskMarker
    /// The main process's start time: nothing that started earlier belongs to the task.
    let notBefore: UInt64
    /// This run's window when the process attributes orphans to runs (`TaskOrphans`), else nil.
    let orphans: TaskOrphans.Window?

    struct Member {
        var name: String
        var startTime: UInt64
        /// -1 when pidfd_open is not available (kernels before 5.3): then pid + start time.
        var pidfd: Int32
        var exited = false
        var reaped = false
        /// Seen alive (not a zombie) by a scan.
        var seenAlive = false
        /// The signals sent to it.
        var signals: Set<Int32> = []
        /// Named in the notice of leftovers: false for an orphan handed over from runs that
        /// ended before (`TaskOrphans.end`) that started before this task did.
        var named = true
    }

    private(set) var members: [pid_t: Member] = [:]
    private var groupSignals: Set<Int32> = []
    private var proc = ProcReader()

    /// `startTick`: the main process's start time when the caller knows it (`ProcessRun` does
    /// when the clock read the same tick before and after the spawn); else it is read from /proc
    /// (the main process must not be reaped yet).
    init(mainPID: pid_t, marker: TaskMarker, startTick: UInt64? = nil, orphans: TaskOrphans.Window? = nil) {
        self.mainPID = mainPID
        self.marker = marker
        self.orphans = orphans
        if let startTick {
            notBefore = startTick
        } else {
            notBefore = proc.stat(mainPID)?.startTime ?? 0
        }
        if let orphans { orphans.registry.started(orphans, mainStart: notBefore) }
    }

    deinit {
        for member in members.values where member.pidfd >= 0 { close(member.pidfd) }
    }

    /// Whether, the main process reaped, it is certain without a scan that nothing of the task
    /// is left: this process is a child subreaper and has no child on its main thread's list.
    ///
    /// Every process of the task descends from the main process (a session can be left for a
    /// new one, never joined), so while one is alive, the topmost alive one of its line has lost
    /// its parent, and the kernel gave it to the nearest subreaper above: us, and of our threads
    /// to the first alive, the main thread (`find_new_reaper`). The main thread starts no
    /// commands (executor threads do), so an empty list there means no leftover, of this task or
    /// any other. A non-empty one (another task's orphan, say) means a scan, as does a process
    /// that is not a subreaper. Not looked for this way: a process that does not descend from
    /// the command but carries its marker (started for it by a service it asked), which the
    /// scan finds when its session began after the command.
    mutating func nothingLeftWithoutScan() -> Bool {
        teleops_is_child_subreaper() != 0 && proc.mainThreadHasChildren() == false
    }

    /// Scans /proc, adds the task's processes not known yet, and returns the members alive now
    /// (zombies left out). `includingMain`: the main process is still ours (not reaped), so its
    /// children are the task's; once it is reaped its pid may be reused and is not looked at.
    @discardableResult
    mutating func scan(includingMain: Bool) -> Set<pid_t> {
        let me = getpid()
        let ownSession = getsid(0)
        var olderSessions: [pid_t: Bool] = [:]
        var candidates: [pid_t: ProcStat] = [:]
        var inTask: Set<pid_t> = []
        for pid in proc.pids() where pid != me && pid != 1 {
            if let known = members[pid] {
                // Wherever it is (an orphan handed over may predate the main process).
                guard let stat = proc.stat(pid) else { continue }
                if stat.startTime == known.startTime {
                    candidates[pid] = stat
                    inTask.insert(pid)
                    continue
                }
            }
            // -1: gone, or not ours to ask; then its stat decides.
            let session = getsid(pid)
            if session == 0 && ownSession != 0 { continue }
            if session > 0 && session != ownSession {
                let older = olderSessions[session] ?? sessionStartedEarlier(session)
                olderSessions[session] = older
                if older { continue }
            }
            guard let stat = proc.stat(pid), stat.startTime >= notBefore else { continue }
            if pid == mainPID {
                if includingMain { inTask.insert(pid) }
                continue
            }
            candidates[pid] = stat
            if stat.processGroup == mainPID || (!stat.hasExited && proc.environ(of: pid, contains: marker)) {
                inTask.insert(pid)
            }
        }
        var unnamed: Set<pid_t> = []
        if let orphans { claimOrphans(orphans, into: &inTask, candidates: &candidates, unnamed: &unnamed) }
        // Children of members are members, down the whole tree.
        var childrenOf: [pid_t: [pid_t]] = [:]
        for (pid, stat) in candidates { childrenOf[stat.parent, default: []].append(pid) }
        var pending = Array(inTask)
        while let parent = pending.popLast() {
            for child in childrenOf[parent] ?? [] where inTask.insert(child).inserted { pending.append(child) }
        }

        var alive: Set<pid_t> = []
        for pid in inTask where pid != mainPID {
            guard let stat = candidates[pid] else { continue }
            if members[pid]?.startTime != stat.startTime {
                // New, or its pid reused after the member we knew was reaped by its parent.
                if let stale = members.removeValue(forKey: pid), stale.pidfd >= 0 { close(stale.pidfd) }
                guard var member = track(stat) else { continue }
                member.named = !unnamed.contains(pid)
                members[pid] = member
            }
            if !stat.hasExited {
                members[pid]?.seenAlive = true
                alive.insert(pid)
            }
        }
        return alive
    }

    /// The orphans on the main thread's list of children that no rule above ties to a task:
    /// the alive ones this run takes (`TaskOrphans.claim`) join `inTask`, the zombies are reaped
    /// now. Each is checked by pid and start time; a zombie is reaped through a pidfd.
    private mutating func claimOrphans(_ window: TaskOrphans.Window, into inTask: inout Set<pid_t>,
                                       candidates: inout [pid_t: ProcStat], unnamed: inout Set<pid_t>) {
        guard let listed = proc.mainThreadChildren() else { return }
        for pid in listed where pid != mainPID && !inTask.contains(pid) {
            guard let stat = candidates[pid] ?? proc.stat(pid) else { continue }  // gone already
            if stat.hasExited {
                reapOrphan(stat)
                continue
            }
            let orphan = TaskOrphans.Orphan(pid: pid, startTime: stat.startTime)
            guard case .take(let named) = window.registry.claim(orphan, by: window, runStart: notBefore) else {
                continue
            }
            candidates[pid] = stat
            inTask.insert(pid)
            if !named { unnamed.insert(pid) }
        }
    }

    /// Reaps a zombie on the main thread's list that no task claims, through a pidfd of it
    /// checked against its start time (so a reused pid is never reaped).
    private mutating func reapOrphan(_ stat: ProcStat) {
        let fd = teleops_pidfd_open(stat.pid)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard let again = proc.stat(stat.pid), again.startTime == stat.startTime else { return }
        var status: Int32 = 0
        _ = teleops_pidfd_reap(fd, &status)
    }

    /// Takes in orphans handed over by `TaskOrphans.end` (the last run that could own them was
    /// this one): the alive ones become members (named when they started no earlier than the
    /// main process), the zombies are reaped. The next `scan` finds the members alive.
    mutating func adopt(_ orphans: [TaskOrphans.Orphan]) {
        for orphan in orphans where members[orphan.pid] == nil {
            guard let stat = proc.stat(orphan.pid), stat.startTime == orphan.startTime else { continue }
            if stat.hasExited {
                reapOrphan(stat)
                continue
            }
            guard var member = track(stat), member.pidfd >= 0 else { continue }
            member.named = stat.startTime >= notBefore
            members[orphan.pid] = member
        }
    }

    /// Whether `session` was started before the main process, so that none of the task's
    /// processes can be in it. Its leader is the process whose pid is the session id, as long as
    /// that process lives (the id cannot be reused while the session has members); a session
    /// whose leader is gone may be a new one, and is not passed over.
    private mutating func sessionStartedEarlier(_ session: pid_t) -> Bool {
        guard getsid(session) == session, let leader = proc.stat(session) else { return false }
        return leader.startTime < notBefore
    }

    /// Sends `signal` to every member that has not exited and has not had it yet, and once to
    /// the process group (which also reaches a process forked since the last scan). Returns how
    /// many members it was sent to.
    @discardableResult
    mutating func signalAll(_ signal: Int32) -> Int {
        if groupSignals.insert(signal).inserted { kill(-mainPID, signal) }
        var sent = 0
        for (pid, member) in members where !member.exited && !member.signals.contains(signal) {
            members[pid]?.signals.insert(signal)
            if send(signal, to: pid, member) { sent += 1 }
        }
        return sent
    }

    /// Members that were alive when found and were then sent a signal: "killed", for the notice.
    var killed: [(pid: pid_t, name: String)] {
        members.filter { $0.value.seenAlive && $0.value.named && !$0.value.signals.isEmpty }
            .map { (pid: $0.key, name: $0.value.name) }.sorted { $0.pid < $1.pid }
    }

    /// pidfds of the members not known to have exited; readable once they exit.
    var waitList: [(pid: pid_t, fd: Int32)] {
        members.filter { !$0.value.exited && $0.value.pidfd >= 0 }.map { (pid: $0.key, fd: $0.value.pidfd) }
    }

    /// Whether some member without a pidfd may still be running (it must then be polled).
    var hasUnwatchedMembers: Bool { members.values.contains { !$0.exited && $0.pidfd < 0 } }

    /// Whether every member has exited (is a zombie or gone), as far as known.
    var allExited: Bool { members.values.allSatisfy(\.exited) }

    mutating func noteExited(_ pid: pid_t) { members[pid]?.exited = true }

    /// Marks the members without a pidfd that have exited (by /proc).
    mutating func refreshUnwatched() {
        for (pid, member) in members where !member.exited && member.pidfd < 0 {
            if let stat = proc.stat(pid), stat.startTime == member.startTime, !stat.hasExited { continue }
            members[pid]?.exited = true
        }
    }

    /// Reaps, one by one (never `waitpid(-1)`: other tasks' children are not ours to take),
    /// every member that is our child and has exited. A killed grandchild is reparented to us
    /// (a child subreaper) only when its parent, killed too, has exited, so this retries, with
    /// growing pauses, until each member is reaped by us or gone (reaped by its own parent), or
    /// until `limit` has passed. Returns the pids left behind (e.g. stuck in the kernel, or
    /// reparented to init because this process is not a subreaper).
    @discardableResult
    mutating func reap(within limit: Duration) -> [pid_t] {
        let clock = ContinuousClock()
        let giveUp = clock.now + limit
        var pause: Duration = .milliseconds(1)
        while true {
            for (pid, member) in members where !member.reaped {
                if reapOne(pid, member) { members[pid]?.reaped = true }
            }
            let left = members.filter { !$0.value.reaped }.map(\.key)
            if left.isEmpty || clock.now >= giveUp { return left.sorted() }
            // Nothing to wait on for a reparenting: pause briefly, a little longer each round.
            let remaining = giveUp - clock.now
            sleepThread(for: min(pause, remaining))
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    // MARK: - One member

    /// A pidfd for a newly found process, checked to be that process (same start time).
    private mutating func track(_ stat: ProcStat) -> Member? {
        let fd = teleops_pidfd_open(stat.pid)
        if fd < 0 && errno == ESRCH { return nil }  // gone (reaped) since the scan
        guard let again = proc.stat(stat.pid), again.startTime == stat.startTime else {
            if fd >= 0 { close(fd) }
            return nil
        }
        return Member(name: stat.name, startTime: stat.startTime, pidfd: fd)
    }

    private mutating func send(_ signal: Int32, to pid: pid_t, _ member: Member) -> Bool {
        if member.pidfd >= 0 { return teleops_pidfd_send_signal(member.pidfd, signal) == 0 }
        guard let stat = proc.stat(pid), stat.startTime == member.startTime else { return false }
        return kill(pid, signal) == 0
    }

    /// True when the member is dealt with: reaped now, or gone (reaped by someone else).
    private mutating func reapOne(_ pid: pid_t, _ member: Member) -> Bool {
        var status: Int32 = 0
        if member.pidfd >= 0 {
            let reaped = teleops_pidfd_reap(member.pidfd, &status)
            if reaped > 0 { return true }
            if reaped == 0 || errno != ECHILD { return false }  // our child, not exited yet
            // Not our child: gone if it can no longer be signalled (a zombie still can).
            return teleops_pidfd_send_signal(member.pidfd, 0) != 0 && errno == ESRCH
        }
        guard let stat = proc.stat(pid), stat.startTime == member.startTime else { return true }
        guard stat.parent == getpid() else { return false }
        return waitpid(pid, &status, WNOHANG) == pid
    }
}

/// Sleeps the calling (dedicated) thread for `duration`.
func sleepThread(for duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
