import Foundation
import Synchronization
import TeleOpsCore

/// Per-source token buckets: each source may send `burst` requests at once and `perSecond`
/// after that. A refused request learns how long until it would be let in (`Retry-After`).
///
/// ```swift
/// let limiter = RateLimiter(limits: ["alertmanager": RateLimit(perSecond: 10, burst: 20)])
/// if let wait = limiter.take("alertmanager") { /* 429, Retry-After: wait */ }
/// ```
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let limits: [String: RateLimit]
    private let buckets: Mutex<[String: Bucket]>
    private let clock = ContinuousClock()

    public init(limits: [String: RateLimit]) {
        self.limits = limits
        let now = clock.now
        buckets = Mutex(limits.mapValues { Bucket(tokens: Double($0.burst), updated: now) })
    }

    /// Takes one token for `source`. Returns nil when the request may proceed, or how long
    /// until a token is free.
    public func take(_ source: String) -> Duration? {
        guard let limit = limits[source] else { return nil }
        let now = clock.now
        return buckets.withLock { buckets -> Duration? in
            var bucket = buckets[source] ?? Bucket(tokens: Double(limit.burst), updated: now)
            let seconds = bucket.updated.duration(to: now).secondsValue
            bucket.tokens = min(Double(limit.burst), bucket.tokens + seconds * limit.perSecond)
            bucket.updated = now
            defer { buckets[source] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return .milliseconds(Int64(((1 - bucket.tokens) / max(limit.perSecond, 1e-9) * 1000).rounded(.up)))
        }
    }
}
