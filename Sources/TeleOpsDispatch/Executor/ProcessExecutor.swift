import TeleOpsCore

/// Runs commands as real child processes, each in its own process group, with resource limits,
/// optionally as another user, with a hard timeout and a bounded output buffer; when a run
/// returns, no process it started is left running or unreaped. docs/isolation.md has the why.
///
/// ```swift
/// let result = await ProcessExecutor().run(
///     ExecSpec(argv: ["df", "-h"], timeout: .seconds(10), outputLimit: 64 * 1024,
///              environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"], user: "nobody")
/// ) { chunk in print(String(decoding: chunk, as: UTF8.self), terminator: "") }
/// print(result.exitCode ?? -1)
/// ```
///
/// How a run goes:
/// - The environment is exactly `spec.environment` (the caller allowlists it), plus a default
///   PATH when it has none, plus `TELEOPS_TASK_TOKEN=<128 random bits in hex>` (`TaskMarker`).
///   The program is looked up in *that* PATH, in this process.
/// - `teleops_spawn` (CShims) starts the child (sharing this process's memory until it execs, as
///   posix_spawn does; forked when it switches users); before exec the child makes itself a
///   process group leader and gives up the worker's controlling terminal (when it has one; see
///   docs/isolation.md for why not a session of its own), resets every signal disposition and
///   empties its mask, reads stdin from /dev/null, writes stdout and stderr to one pipe (so they
///   interleave as written), leaves no other fd open across exec, applies `spec.limits` (RLIMIT_CPU, AS,
///   NOFILE, NPROC; RLIMIT_CORE is always 0), switches to `spec.user`/`spec.group` when this
///   process is root (see `Credentials`), and changes to `spec.workingDirectory`. A failure at
///   any step comes back as `spawnError` naming it, with `exitCode` 127 when the program does
///   not exist and 126 otherwise.
/// - A thread of its own (from `threads`, never Swift's cooperative pool) polls the pipe, a pidfd
///   of the main process and a cancellation eventfd until the deadline. Each piece of kept
///   output goes to `onOutput` as it is read, on that thread; output beyond `outputLimit` is
///   read and dropped (`truncated`), so a flood costs bounded memory.
/// - Timeout, or cancellation of the calling task: SIGTERM to the main process, its group and
///   every process of the task found in /proc (`TaskTree`: the process group, the marker, and the
///   descendants by parent pid, which catches `setsid` escapees); `killGrace`; then SIGKILL
///   rounds until a scan finds nothing alive.
/// - The main process exited by itself: whatever of the task is still running is a leftover and
///   is stopped the same way (SIGTERM, grace, SIGKILL); the output ends with
///   "teleops: killed N leftover process(es) of this task, …", naming them.
/// - Every process of the task is then reaped by its own pidfd (never `waitpid(-1)`: other
///   runs' children are not ours), waiting a bounded time for orphans to be reparented to this
///   process, which must be a child subreaper for that (`WorkerAgent` makes itself one).
/// - In a process that called `claimOrphansOfTasks()` (`teleops worker` does), a process that
///   nothing in /proc ties to its task (it cleared its environment, so no marker; called
///   `setsid` or `setpgid`, so not in the task's group; and its parent has exited, so no parent
///   link) is still found: it was reparented to this process and is on its main thread's list of
///   children. It goes to the run whose window (main process started → tree stopped) covers its
///   start time, once no other running run could own it (`TaskOrphans`), and is stopped,
///   reaped and named like any other leftover; unclaimed zombies on that list are reaped.
///
/// Not contained: a process that is not a descendant of this process at all (started for the
/// command by a service that was already running) and carries no marker or carries it in a
/// session that began before the command; only a cgroup per task would close that gap. In a
/// process that did not opt in, the escapee above is not found either. And an escapee of a task
/// that is over runs on while another task that could own it (one that started before it) still
/// runs, until the last of those ends.
public struct ProcessExecutor: Executor {
    /// The threads runs block on, shared by every executor in the process. Up to 8 idle ones stay
    /// parked (more with `keepThreadsParked`), so a run seldom has to create a thread.
    static let threads = ThreadPool(name: "teleops-exec", keepIdle: 8)

    /// Keeps at least `count` idle threads parked from now on: a worker with more slots than 8
    /// would otherwise create and end a thread for most commands while it is busy (a thread's
    /// stack and guard page mapped and unmapped each time). A parked thread costs a few pages.
    public static func keepThreadsParked(atLeast count: Int) {
        threads.keepIdle(atLeast: count)
    }

    public init() {}

    /// Makes this process attribute to their tasks the orphans the scans cannot tie to one (see
    /// the type's doc comment and `TaskOrphans`), and reap the zombies among them. Returns
    /// whether it is on; it refuses when the process has a child process already, or the kernel
    /// has no pidfds.
    ///
    /// Call it only in a process whose only child processes, now and later, are the commands of
    /// this executor and what they start, as in `teleops worker`: the executor takes whatever is
    /// on the main thread's list of children for a task's orphan. A process that also starts
    /// other programs (the test process, `teleops serve` with its local workers) must not call
    /// it; an orphan of one of those would be taken for a task's and killed.
    @discardableResult
    public static func claimOrphansOfTasks() -> Bool {
        TaskOrphans.shared.enable()
    }

    public func run(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?) async -> ExecResult {
        let cancel = WakeSignal()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ExecResult, Never>) in
                Self.threads.run {
                    continuation.resume(returning: ProcessRun(spec: spec, cancel: cancel, onOutput: onOutput).run())
                }
            }
        } onCancel: {
            // The thread treats this like a timeout (SIGTERM, grace, SIGKILL) but reports timedOut=false.
            cancel.signal()
        }
    }

    /// Hands the run to a thread of `threads` and returns; `completion` is called on that thread.
    public func start(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?,
                      completion: @escaping @Sendable (ExecResult) -> Void) -> ExecStop {
        let cancel = WakeSignal()
        Self.threads.run { completion(ProcessRun(spec: spec, cancel: cancel, onOutput: onOutput).run()) }
        return ExecStop { cancel.signal() }
    }
}
