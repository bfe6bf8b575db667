/// When the primary chat transport keeps failing, messages go out on the secondary.
///
/// `afterFailures` consecutive failed calls to the primary (rate limiting does not count: it
/// is the platform working as designed) take it out of service for `retryPrimaryAfter`;
/// messages meant for it go out on `secondary` with a note saying why. After that time the
/// primary is tried again with the next message.
public struct FailoverPolicy: Sendable, Equatable {
    public var primary: String
    public var secondary: String
    public var afterFailures: Int
    public var retryPrimaryAfter: Duration

    public init(primary: String, secondary: String, afterFailures: Int = 3, retryPrimaryAfter: Duration = .seconds(300)) {
        self.primary = primary
        self.secondary = secondary
        self.afterFailures = afterFailures
        self.retryPrimaryAfter = retryPrimaryAfter
    }
}
