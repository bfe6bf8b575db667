import TeleOpsCore

extension ConfigLoader {
    /// Reads `retention:` (absent: the scenario log keeps everything):
    ///
    /// ```yaml
    /// retention:
    ///   max_age: 365d        # resolved scenarios resolved longer ago than this are removed
    ///   max_count: 1000000   # and those beyond the newest this many
    ///   interval: 1h         # how often the server applies it (default 1h)
    /// ```
    ///
    /// Active scenarios are never removed. `teleops scenarios prune` applies a policy at once.
    static func readRetention(_ value: YAMLValue) throws(ConfigError) -> RetentionService.Settings {
        let fields = try value.fields(allowed: ["max_age", "max_count", "interval"])
        var settings = RetentionService.Settings()
        if let age = fields["max_age"] {
            let text = try age.string()
            guard let parsed = ChatDuration.parse(text) else {
                throw age.error("expected a duration such as 90d, 12h or 30m, found '\(text)'")
            }
            guard parsed >= .seconds(60) else { throw age.error("must be at least 1m, so that a typo does not empty the log") }
            settings.policy.maxAge = parsed
        }
        if let count = fields["max_count"] { settings.policy.maxCount = try count.int(in: 1...Int.max) }
        if let interval = fields["interval"] {
            let parsed = try interval.duration()
            guard parsed >= .seconds(1) else { throw interval.error("must be at least 1s") }
            settings.interval = parsed
        }
        return settings
    }
}
