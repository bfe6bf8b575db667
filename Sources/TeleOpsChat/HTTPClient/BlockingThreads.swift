import Foundation
import Synchronization

/// Threads for blocking calls (libcurl's easy interface), kept between calls so a request does
/// not pay for creating one. A call runs on an idle thread, or on a new one when every thread is
/// busy (a Telegram long poll holds one for its whole wait), so calls never queue behind each
/// other. A thread idle for `idleTimeout` exits.
///
/// ```swift
/// BlockingThreads.shared.run { curl_easy_perform(handle) }
/// ```
final class BlockingThreads: Sendable {
    static let shared = BlockingThreads(name: "teleops-http", idleTimeout: .seconds(30))

    /// One thread's mailbox: the job it was handed, and the semaphore it sleeps on.
    private final class Worker: @unchecked Sendable {
        let wake = DispatchSemaphore(value: 0)
        /// Written under the pool's lock before `wake` is signalled; read by the worker after.
        var job: (@Sendable () -> Void)?
    }

    private let idle = Mutex([Worker]())
    private let name: String
    private let idleTimeout: Duration

    init(name: String, idleTimeout: Duration) {
        self.name = name
        self.idleTimeout = idleTimeout
    }

    /// Runs `job` on an idle thread, or a new one.
    func run(_ job: @escaping @Sendable () -> Void) {
        let worker = idle.withLock { idle -> Worker? in
            guard let worker = idle.popLast() else { return nil }
            worker.job = job
            return worker
        }
        if let worker {
            worker.wake.signal()
            return
        }
        let fresh = Worker()
        fresh.job = job
        let thread = Thread { [self] in loop(fresh) }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func loop(_ worker: Worker) {
        // On Linux a name set before `start()` never reaches the thread; set it from inside.
        Thread.current.name = name
        while true {
            let job = idle.withLock { _ in worker.job.take() }
            job?()
            idle.withLock { $0.append(worker) }
            if worker.wake.wait(timeout: .now() + idleTimeout.secondsValue) == .timedOut {
                let retired = idle.withLock { idle -> Bool in
                    guard let index = idle.firstIndex(where: { $0 === worker }) else { return false }
                    idle.remove(at: index)
                    return true
                }
                if retired { return }
                // A job was handed over just as the wait ended: take it.
                worker.wake.wait()
            }
        }
    }
}

extension Optional {
    fileprivate mutating func take() -> Wrapped? {
        defer { self = nil }
        return self
    }
}
