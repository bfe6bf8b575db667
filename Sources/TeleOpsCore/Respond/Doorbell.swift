import Dispatch
import Synchronization

/// Wakes one waiting consumer (the outbox sender, a lane, the intake writer) when there is
/// new work. Rings are not counted: several rings before a wait wake it once, which is all a
/// "go and look" signal needs. One task waits at a time.
///
/// ```swift
/// let bell = Doorbell()
/// bell.ring()
/// await bell.wait(timeout: .seconds(1))  // returns at once: it was rung
/// ```
///
/// A ring resumes the waiter directly, and the timeout is one dispatch timer per doorbell,
/// re-armed by each wait: waiting costs no child tasks and no sleeping task to cancel, which
/// matters because every alert and every chat message goes through two or three doorbells.
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
        var deadline: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    /// libdispatch allows `schedule` and `cancel` from any thread.
    nonisolated(unsafe) private let timer: any DispatchSourceTimer

    public init() {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        self.timer = timer
        timer.setEventHandler { [weak self] in self?.expire() }
        timer.activate()
    }

    deinit { timer.cancel() }

    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            state.deadline = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when rung (or at once if rung since the last wait), on timeout, or on cancellation.
    public func wait(timeout: Duration) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waits = state.withLock { state -> Bool in
                    if state.rung || Task.isCancelled {
                        state.rung = false
                        return false
                    }
                    precondition(state.waiter == nil, "Doorbell: one task waits at a time")
                    state.waiter = continuation
                    state.deadline = .now + timeout
                    return true
                }
                if waits { arm(after: timeout) } else { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { (state.waiter, state.deadline) = (nil, nil) }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    private func arm(after delay: Duration) {
        let (seconds, attoseconds) = max(delay, .zero).components
        let nanoseconds = min(seconds, 1 << 32) * 1_000_000_000 + attoseconds / 1_000_000_000
        timer.schedule(deadline: .now() + .nanoseconds(Int(nanoseconds)), leeway: .milliseconds(1))
    }

    /// The timer fired: ends the wait whose deadline has passed (a wait that began since, with
    /// a later deadline, is re-armed instead).
    private func expire() {
        let (waiter, early) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Duration?) in
            guard let deadline = state.deadline, state.waiter != nil else { return (nil, nil) }
            let now = ContinuousClock.now
            if now < deadline { return (nil, deadline - now) }
            defer { (state.waiter, state.deadline) = (nil, nil) }
            return (state.waiter, nil)
        }
        if let early { arm(after: early) }
        waiter?.resume()
    }
}
