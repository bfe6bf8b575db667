import Foundation

/// How stores keep time: whole milliseconds since 1970-01-01 UTC.
///
/// Every store truncates the dates it is given (alert `receivedAt`, event `at`, outbox
/// times) to the millisecond on the way in, so that a `Date` read back from any store
/// compares equal to what the same store returned when it was written, whichever store
/// it is (SQLite keeps integer milliseconds).
///
/// ```swift
/// let at = Date(timeIntervalSince1970: 1_750_000_000.123_9)
/// at.millisecondsSince1970                 // 1_750_000_000_123
/// at.truncatedToMilliseconds == Date(millisecondsSince1970: 1_750_000_000_123)  // true
/// ```
extension Date {
    /// Whole milliseconds since 1970, truncated towards the past.
    ///
    /// A value less than a microsecond below a millisecond boundary counts as that
    /// boundary: `Date` holds a `Double`, and `Date(millisecondsSince1970: n)` may sit a
    /// rounding error below `n`; this keeps `Date(millisecondsSince1970: n).millisecondsSince1970 == n`.
    public var millisecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1000 + 0.001).rounded(.down))
    }

    /// The date `milliseconds` after 1970-01-01 UTC.
    public init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// This date truncated to the millisecond, as a store gives it back.
    public var truncatedToMilliseconds: Date {
        Date(millisecondsSince1970: millisecondsSince1970)
    }
}
