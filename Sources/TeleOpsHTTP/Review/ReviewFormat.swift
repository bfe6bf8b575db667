import Foundation

/// How times and durations read on the review pages: UTC, to the second, and durations in the
/// two largest units ("3m 12s", "2h 5m").
enum ReviewFormat {
    /// `2026-03-01 09:30:12 UTC`.
    static func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d UTC", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
            parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }

    /// `850 ms`, `12s`, `3m 12s`, `2h 5m`, `3d 4h`.
    static func duration(_ seconds: TimeInterval) -> String {
        let seconds = max(0, seconds)
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        let whole = Int(seconds.rounded(.down))
        let units = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]
        guard let first = units.firstIndex(where: { whole >= $0.1 }) else { return "0s" }
        let (bigName, bigSize) = units[first]
        var text = "\(whole / bigSize)\(bigName)"
        if first + 1 < units.count {
            let (smallName, smallSize) = units[first + 1]
            let rest = (whole % bigSize) / smallSize
            if rest > 0 { text += " \(rest)\(smallName)" }
        }
        return text
    }
}
