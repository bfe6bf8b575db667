extension StringProtocol {
    /// The text without white space and line breaks at either end: what
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` gives (Unicode's White_Space property:
    /// tabs, line breaks, NEL, no-break and other spaces; and, as Foundation has it, the
    /// zero-width space), without Foundation's bridging, and without a copy of a `String` with
    /// nothing to trim (the usual case, on every alert's labels).
    public func trimmed() -> String {
        let text = self as? String ?? String(self)
        let scalars = text.unicodeScalars
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace || scalar == "\u{200B}" }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        if first == scalars.startIndex, scalars.index(after: last) == scalars.endIndex { return text }
        return String(scalars[first...last])
    }
}
