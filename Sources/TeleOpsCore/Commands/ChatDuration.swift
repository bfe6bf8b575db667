import Foundation

/// Durations as people type them in chat: `90s`, `30m`, `1h`, `2h30m`, `1d`.
///
/// ```swift
/// ChatDuration.parse("2h30m")  // .seconds(9000)
/// ChatDuration.format(.seconds(5400))  // "1h30m"
/// ```
public enum ChatDuration {
    /// The longest silence chat may ask for.
    public static let longestSilence: Duration = .seconds(7 * 86_400)

    private static let units: [(Character, Int64)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]

    /// A positive duration from one or more `<number><unit>` parts (units d, h, m, s, each at
    /// most once, largest first); nil for anything else.
    public static func parse(_ text: String) -> Duration? {
        var seconds: Int64 = 0
        var number: Int64?
        var lastUnit = units.count
        for character in text.trimmingCharacters(in: .whitespaces).lowercased() {
            if let digit = character.wholeNumberValue, character.isASCII {
                let (value, overflow) = (number ?? 0).multipliedReportingOverflow(by: 10)
                guard !overflow, value <= 1_000_000 else { return nil }
                number = value + Int64(digit)
            } else if let index = units.firstIndex(where: { $0.0 == character }), let value = number {
                guard lastUnit == units.count || index > lastUnit else { return nil }
                seconds += value * units[index].1
                lastUnit = index
                number = nil
            } else {
                return nil
            }
        }
        guard number == nil, seconds > 0 else { return nil }
        return .seconds(seconds)
    }

    /// The shortest form `parse` reads back: `1h30m`, `45s`, `2d`.
    public static func format(_ duration: Duration) -> String {
        var rest = duration.components.seconds
        var text = ""
        for (unit, size) in units where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text.isEmpty ? "0s" : text
    }
}
