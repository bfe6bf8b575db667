/// Shell-style patterns with `*` only (any run of characters), compared case-insensitively:
/// enough for check names in the configuration, with no regular-expression surprises.
///
/// ```swift
/// Glob.matches("*disk*", "Disk_Usage_Root")  // true
/// ```
///
/// Both sides are lowercased, then compared as UTF-8 bytes without allocating: this runs for
/// every new scenario (the action its announcement suggests), inside the intake transaction.
/// (A literal part of valid UTF-8 can only match at character boundaries, so bytes give the
/// same answers as characters.)
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        var text = text.lowercased()
        return text.withUTF8 { matches(pattern, lowercasedUTF8: $0) }
    }

    /// `pattern` against text already lowercased, as UTF-8: for matching many patterns
    /// against one check name.
    public static func matches(_ pattern: String, lowercasedUTF8 text: UnsafeBufferPointer<UInt8>) -> Bool {
        var pattern = pattern.lowercased()
        return pattern.withUTF8 { match($0, text) }
    }

    /// The classic wildcard walk: on a mismatch, the last `*` takes one more byte.
    private static func match(_ pattern: UnsafeBufferPointer<UInt8>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let star = UInt8(ascii: "*")
        var p = 0
        var t = 0
        var lastStar = -1
        var resumeAt = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == star {
                lastStar = p
                resumeAt = t
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if lastStar >= 0 {
                p = lastStar + 1
                resumeAt += 1
                t = resumeAt
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == star { p += 1 }
        return p == pattern.count
    }
}
