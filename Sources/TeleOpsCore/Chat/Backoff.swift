/// Exponential backoff with full jitter, written once for every transport.
///
/// It only says how long to wait before an attempt, not how many attempts to make: each
/// caller decides when to stop (the outbox, for one, by the time since the message was
/// queued: `OutboxSender.Settings.giveUpAfter`).
///
/// ```swift
/// let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(60))
/// backoff.delay(attempt: 3)  // somewhere in 0...2 s
/// ```
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(60)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The ceiling for `attempt` (1-based): initial × 2^(attempt-1), capped at `maximum`.
    public func ceiling(attempt: Int) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        return min(initial * (1 << doublings), maximum)
    }

    /// A random delay in 0...ceiling (full jitter), so many senders do not retry in step.
    public func delay<G: RandomNumberGenerator>(attempt: Int, using generator: inout G) -> Duration {
        ceiling(attempt: attempt) * Double.random(in: 0...1, using: &generator)
    }

    public func delay(attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &generator)
    }
}
