extension String {
    /// The text with spaces after it up to `width` characters, for columns in a terminal;
    /// longer text is kept whole. (Foundation's `padding(toLength:withPad:startingAt:)` cuts it:
    /// scenario `#1174324` came out as `#11743`.)
    public func padded(to width: Int) -> String {
        self + String(repeating: " ", count: Swift.max(0, width - count))
    }
}
