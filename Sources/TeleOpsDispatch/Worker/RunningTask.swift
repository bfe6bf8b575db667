import Synchronization

/// One accepted task while its command runs, and how the run ends first: by itself, or stopped
/// by a CANCEL (or by the controller that started this worker going away). Whichever comes first
/// decides whether DONE says `cancelled`: a command that ended before its CANCEL arrived was not
/// cancelled.
///
/// ```swift
/// let running = RunningTask()
/// // the run, when it returns:         running.finish()
/// // the socket thread, on CANCEL:     running.cancel()
/// if await running.firstEnding() == .cancelled { /* cancel the run */ }
/// ```
final class RunningTask: Sendable {
    enum Ending: Sendable {
        case finished
        case cancelled
    }

    private struct State {
        var ending: Ending?
        var waiter: CheckedContinuation<Ending, Never>?
    }

    private let state = Mutex(State())

    /// Stops the run, unless it has ended already.
    func cancel() { settle(.cancelled) }

    /// The run has returned.
    func finish() { settle(.finished) }

    /// Waits for the first of `cancel()` and `finish()`. One waiter at a time.
    func firstEnding() async -> Ending {
        await withCheckedContinuation { continuation in
            let ending: Ending? = state.withLock { state in
                if state.ending == nil { state.waiter = continuation }
                return state.ending
            }
            if let ending { continuation.resume(returning: ending) }
        }
    }

    private func settle(_ ending: Ending) {
        let waiter: CheckedContinuation<Ending, Never>? = state.withLock { state in
            guard state.ending == nil else { return nil }
            state.ending = ending
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: ending)
    }
}
