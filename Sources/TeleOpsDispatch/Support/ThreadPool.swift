import CShims
import Dispatch
import Foundation
import Synchronization

/// OS threads for blocking jobs, parked between jobs instead of created and torn down for each:
/// creating a thread maps its stack and a guard page, and ending it unmaps them, which showed in
/// profiles of a worker running many short commands.
///
/// ```swift
/// let pool = ThreadPool(name: "teleops-exec", keepIdle: 8)
/// let result = await withCheckedContinuation { continuation in
///     pool.run { continuation.resume(returning: blockingWork()) }
/// }
/// ```
///
/// Every job gets a thread to itself at once (a parked one, else a new one), so a job never
/// waits behind another: an executor's job blocks for as long as its command runs. At most
/// `keepIdle` threads stay parked; a thread that finishes a job when that many are parked ends.
final class ThreadPool: Sendable {
    /// The OS name of every thread (at most 15 bytes), as ps and gdb show it.
    let name: String
    private let parked: Mutex<(threads: [ParkedThread], keepIdle: Int)>

    init(name: String, keepIdle: Int) {
        self.name = name
        parked = Mutex((threads: [], keepIdle: keepIdle))
    }

    /// At most this many threads stay parked.
    var keepIdle: Int { parked.withLock { $0.keepIdle } }

    /// Raises `keepIdle` to `count` (never lowers it).
    func keepIdle(atLeast count: Int) {
        parked.withLock { $0.keepIdle = max($0.keepIdle, count) }
    }

    /// Threads waiting for a job now.
    var parkedCount: Int { parked.withLock { $0.threads.count } }

    /// Runs `job` on a thread of the pool and returns at once.
    func run(_ job: @escaping @Sendable () -> Void) {
        if let thread = parked.withLock({ $0.threads.popLast() }) {
            thread.hand(job)
        } else {
            let thread = Thread { [self] in serve(first: job) }
            thread.start()
        }
    }

    /// The body of one pool thread: runs its first job, then parks until it is handed another,
    /// unless `keepIdle` threads are parked already.
    private func serve(first: @escaping @Sendable () -> Void) {
        teleops_set_thread_name(name)
        let me = ParkedThread()
        var job = first
        while true {
            job()
            let parks = parked.withLock { parked in
                guard parked.threads.count < parked.keepIdle else { return false }
                parked.threads.append(me)
                return true
            }
            guard parks else { return }
            job = me.waitForJob()
        }
    }
}

/// A pool thread while it waits: the job handed to it, and the semaphore it sleeps on.
private final class ParkedThread: Sendable {
    private let wake = DispatchSemaphore(value: 0)
    private let job = Mutex<(@Sendable () -> Void)?>(nil)

    /// Called by whoever took this thread off the parked list (so only once per park).
    func hand(_ newJob: @escaping @Sendable () -> Void) {
        job.withLock { $0 = newJob }
        wake.signal()
    }

    /// Blocks the (pool) thread until `hand`.
    func waitForJob() -> @Sendable () -> Void {
        while true {
            wake.wait()
            let handed = job.withLock { job in
                defer { job = nil }
                return job
            }
            if let handed { return handed }
        }
    }
}
