import Foundation

/// Fitting text into a platform's message length, without ever dropping it: split into
/// parts at line breaks (then spaces) when it is too long, and past `maxParts`, trim the
/// last part with a pointer to where the whole text is kept.
///
/// Lengths are counted in UTF-16 code units, the stricter of the counts platforms use
/// (Telegram counts entity offsets in UTF-16; Slack counts characters).
///
/// ```swift
/// ChatText.split(longOutput, limit: 4096, maxParts: 4, pointer: "full output: teleops scenarios show 12")
/// ChatText.trim(announcement, limit: 4096, pointer: "…")
/// ```
public enum ChatText {
    /// The length `limit`s are measured in.
    public static func length(_ text: String) -> Int { text.utf16.count }

    /// `text` in parts of at most `limit` each, at most `maxParts` of them; when that is not
    /// enough, the last part ends with `… ` + `pointer`.
    public static func split(_ text: String, limit: Int, maxParts: Int, pointer: String) -> [String] {
        precondition(limit > 0 && maxParts > 0)
        var parts: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            if length(String(rest)) <= limit {
                parts.append(String(rest))
                break
            }
            if parts.count == maxParts - 1 {
                parts.append(trim(String(rest), limit: limit, pointer: pointer))
                break
            }
            let cut = breakIndex(in: rest, limit: limit)
            parts.append(String(rest[..<cut]).trimmingTrailingNewlines)
            rest = rest[cut...].drop { $0 == "\n" }
        }
        return parts.isEmpty ? [""] : parts
    }

    /// `text` if it fits in `limit`, else as much of it as fits followed by `… ` + `pointer`.
    public static func trim(_ text: String, limit: Int, pointer: String) -> String {
        guard length(text) > limit else { return text }
        let suffix = "\n… " + pointer
        let room = limit - length(suffix)
        guard room > 0 else { return String(prefix(Substring(suffix), units: limit)) }
        let head = Substring(text)[..<breakIndex(in: Substring(text), limit: room)]
        return String(head).trimmingTrailingNewlines + suffix
    }

    /// Where to end a part of at most `limit` units: after the last line break that fits, else
    /// the last space, else as many whole characters as fit.
    private static func breakIndex(in text: Substring, limit: Int) -> Substring.Index {
        let hard = prefix(text, units: limit).endIndex
        let window = text[..<hard]
        if let newline = window.lastIndex(of: "\n"), window.distance(from: window.startIndex, to: newline) > 0 {
            return text.index(after: newline)
        }
        if let space = window.lastIndex(of: " "), window.distance(from: window.startIndex, to: space) > 0 {
            return text.index(after: space)
        }
        return hard > text.startIndex ? hard : text.index(after: text.startIndex)
    }

    /// The longest prefix of whole characters within `units` UTF-16 units.
    private static func prefix(_ text: Substring, units: Int) -> Substring {
        var used = 0
        var end = text.startIndex
        for character in text {
            let size = character.utf16.count
            if used + size > units { break }
            used += size
            end = text.index(after: end)
        }
        return text[..<end]
    }
}

extension String {
    fileprivate var trimmingTrailingNewlines: String {
        var text = self
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
