import CShims
import Foundation
import TeleOpsCore

/// Runs commands as real child processes, each in its own process group, with a hard timeout
/// and a bounded output buffer.
///
/// ```swift
/// let result = await ProcessExecutor().run(
///     ExecSpec(argv: ["df", "-h"], timeout: .seconds(10), outputLimit: 64 * 1024,
///              environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]))
/// print(result.exitCode ?? -1, String(decoding: result.output, as: UTF8.self))
/// ```
///
/// How a run goes:
/// - `posix_spawnp` with `POSIX_SPAWN_SETPGROUP` (a new group whose id is the child's pid),
///   `SETSIGDEF` (every signal at its default) and `SETSIGMASK` (empty mask); stdin is /dev/null;
///   stdout and stderr share one O_CLOEXEC pipe, so they interleave as written.
/// - The environment is exactly `spec.environment` (the caller allowlists it), plus a default
///   PATH when it has none. The program is looked up in *that* PATH.
/// - A dedicated thread (never Swift's cooperative pool) polls the pipe, a pidfd of the child
///   and a cancellation eventfd until the deadline.
/// - Output beyond `outputLimit` is read and dropped (`truncated`), so a flood costs bounded memory.
/// - Timeout, or cancellation of the calling task: SIGTERM to the group, `killGrace`, then SIGKILL.
/// - When the main process has ended, the rest of its group gets SIGKILL and every child left in
///   the group is reaped (`waitpid(-pgid)`) until ECHILD. Orphaned grandchildren are ours to reap
///   only if this process is a child subreaper; `WorkerAgent` makes itself one.
/// - Spawn failure: `spawnError` is set and `exitCode` follows the shell: 127 when the program
///   does not exist, 126 when it exists but cannot be run.
///
/// Limitation: a grandchild that calls `setsid()` or `setpgid()` leaves the group and escapes the
/// group kill; it may also keep the output pipe open, so output after the main process ends is
/// drained for a bounded time only. Airtight containment (future work) needs a cgroup or a walk of
/// descendants through /proc.
public struct ProcessExecutor: Executor {
    public init() {}

    public func run(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?) async -> ExecResult {
        let cancel = WakeSignal()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ExecResult, Never>) in
                let thread = Thread {
                    teleops_set_thread_name("teleops-exec")  // the OS thread's name, for ps and gdb too
                    continuation.resume(returning: ProcessRun(spec: spec, cancel: cancel, onOutput: onOutput).run())
                }
                thread.start()
            }
        } onCancel: {
            // The thread treats this like a timeout (SIGTERM, grace, SIGKILL) but reports timedOut=false.
            cancel.signal()
        }
    }
}
