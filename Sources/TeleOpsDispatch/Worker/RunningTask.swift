import Synchronization
import TeleOpsCore

/// One accepted task while its command runs, and how the run ends first: by itself, or stopped
/// by a CANCEL (or by the worker stopping). Whichever comes first decides whether DONE says
/// `cancelled`: a command that ended before its CANCEL arrived was not cancelled.
///
/// ```swift
/// let running = RunningTask()
/// running.attach(executor.start(spec, onOutput: nil) { result in
///     let cancelled = running.finish() == .cancelled
///     // … DONE
/// })
/// // the socket thread, on CANCEL:     running.cancel()
/// ```
final class RunningTask: Sendable {
    enum Ending: Sendable {
        case finished
        case cancelled
    }

    private struct State {
        var ending: Ending?
        var stop: ExecStop?
    }

    private let state = Mutex(State())

    /// How to stop the run, once the executor has started it. A task cancelled before that is
    /// stopped at once.
    func attach(_ stop: ExecStop) {
        let cancelled = state.withLock { state -> Bool in
            state.stop = stop
            return state.ending == .cancelled
        }
        if cancelled { stop.stop() }
    }

    /// Stops the run, unless it has ended already.
    func cancel() {
        let stop = state.withLock { state -> ExecStop? in
            guard state.ending == nil else { return nil }
            state.ending = .cancelled
            return state.stop
        }
        stop?.stop()
    }

    /// The run has returned: how it ended first.
    @discardableResult
    func finish() -> Ending {
        state.withLock { state in
            if state.ending == nil { state.ending = .finished }
            return state.ending ?? .finished
        }
    }
}
