import Foundation

/// A point in time as the review filters take it (`since` and `until`, on the command line,
/// in the REST API and on the web page alike):
///
/// - an RFC 3339 / ISO 8601 time: `2026-11-20T08:00:00Z`, `2026-11-20T09:00:00+01:00`, with or
///   without fractional seconds (a `+` sent unencoded in a query string reads as a space, and
///   is taken back as `+`);
/// - a day: `2026-11-20`, from its start in UTC;
/// - an age back from now: `90m`, `24h`, `7d`, `1d12h` (as chat durations), so a saved link
///   to "the last 24 hours" stays the last 24 hours.
///
/// ```swift
/// QueryTime.parse("24h", now: now)         // now − 24 h
/// QueryTime.parse("2026-11-20", now: now)  // 2026-11-20T00:00:00Z
/// ```
public enum QueryTime {
    /// What is accepted, for error messages.
    public static let accepted =
        "an ISO 8601 time (2026-11-20T08:00:00Z, 2026-11-20T09:00:00+01:00), a day (2026-11-20) or an age (90m, 24h, 7d)"

    public static func parse(_ text: String, now: Date) -> Date? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let age = ChatDuration.parse(text) { return now.addingTimeInterval(-age.secondsValue) }
        let candidate = text.replacingOccurrences(of: " ", with: "+")
        // A day alone, exactly: the day format would also take the date off "2026-11-20T25:00Z".
        let isDay = candidate.count == 10 && candidate.enumerated().allSatisfy { index, character in
            index == 4 || index == 7 ? character == "-" : character.isASCII && character.isNumber
        }
        let formats: [ISO8601DateFormatter.Options] = isDay
            ? [[.withFullDate]] : [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]]
        for options in formats {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            formatter.timeZone = TimeZone(identifier: "UTC")
            if let date = formatter.date(from: candidate) { return date }
        }
        return nil
    }
}
