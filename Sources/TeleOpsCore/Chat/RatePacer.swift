import Synchronization

/// Paces calls to a set of `ChatRate` limits (token buckets, all of which must have a token).
/// Shared by every lane of a transport for its global limits, and by every call to one chat
/// (posts, edits) for that chat's limits.
///
/// ```swift
/// let pacer = RatePacer([ChatRate(1, per: .seconds(1)), ChatRate(20, per: .seconds(60))])
/// try await pacer.acquire()   // returns when a call may be made, having counted it
/// ```
public final class RatePacer: Sendable {
    private struct Bucket {
        let capacity: Double
        /// Tokens per second.
        let refill: Double
        var tokens: Double
    }

    private struct State {
        var buckets: [Bucket]
        var last: ContinuousClock.Instant
    }

    private let state: Mutex<State>
    private let clock = ContinuousClock()

    public init(_ rates: [ChatRate]) {
        let buckets = rates.filter { $0.count > 0 && $0.period > .zero }.map {
            Bucket(capacity: Double($0.count), refill: Double($0.count) / $0.period.secondsValue, tokens: Double($0.count))
        }
        state = Mutex(State(buckets: buckets, last: ContinuousClock().now))
    }

    /// Waits until every bucket has a token, then takes one from each.
    public func acquire() async throws {
        while true {
            let wait = state.withLock { state -> Duration in
                let now = clock.now
                let elapsed = (now - state.last).secondsValue
                state.last = now
                var longest = 0.0
                for index in state.buckets.indices {
                    var bucket = state.buckets[index]
                    bucket.tokens = min(bucket.capacity, bucket.tokens + elapsed * bucket.refill)
                    state.buckets[index] = bucket
                    if bucket.tokens < 1 { longest = max(longest, (1 - bucket.tokens) / bucket.refill) }
                }
                guard longest == 0 else { return .seconds(longest) }
                for index in state.buckets.indices { state.buckets[index].tokens -= 1 }
                return .zero
            }
            if wait == .zero { return }
            try await Task.sleep(for: wait)
        }
    }

    /// Empties every bucket: the platform said to slow down, so the next calls wait a full
    /// refill rather than bursting again.
    public func drain() {
        state.withLock { state in
            for index in state.buckets.indices { state.buckets[index].tokens = min(state.buckets[index].tokens, 0) }
        }
    }
}
