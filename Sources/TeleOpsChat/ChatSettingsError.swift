/// A chat platform setting that cannot work: the platform, the field as the configuration
/// names it, and what to do.
///
/// ```text
/// telegram.webhook_secret: must be 1-256 characters of A-Z, a-z, 0-9, _ and - (…)
/// slack.bot_token: must start with xoxb- (a bot token); found a token starting with xoxp-
/// ```
public struct ChatSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `telegram` or `slack`: the configuration section.
    public var platform: String
    /// The setting (`chat`, `webhook_secret`, `bot_token`, …).
    public var field: String
    public var message: String

    public init(platform: String, field: String, message: String) {
        self.platform = platform
        self.field = field
        self.message = message
    }

    public var description: String { "\(platform).\(field): \(message)" }
}
