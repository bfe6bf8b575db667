extension Duration {
    /// Whole milliseconds (truncated), for wire formats, configuration and C timeouts.
    ///
    /// ```swift
    /// Duration.seconds(1.5).milliseconds  // 1500
    /// ```
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds with their fraction, for rates and `Retry-After`.
    public var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
