import Foundation

/// Shell-style patterns with `*` only (any run of characters), compared case-insensitively:
/// enough for check names in the configuration, with no regular-expression surprises.
///
/// ```swift
/// Glob.matches("*disk*", "Disk_Usage_Root")  // true
/// ```
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let parts = pattern.lowercased().split(separator: "*", omittingEmptySubsequences: false)
        var rest = Substring(text.lowercased())
        guard let first = parts.first, rest.hasPrefix(first) else { return false }
        rest = rest.dropFirst(first.count)
        if parts.count == 1 { return rest.isEmpty }
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        let last = parts.last!
        return rest.count >= last.count && rest.hasSuffix(last)
    }
}
