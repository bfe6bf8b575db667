/// When the primary chat transport keeps failing, messages go out on the secondary.
///
/// `afterFailures` consecutive calls to the primary that failed for the transport as a whole
/// (`ChatFailure.isTransportFailure`: no answer, a 5xx, a refused token) take it out of
/// service for `retryPrimaryAfter`; messages meant for it go out on `secondary` with a note
/// saying why. Rate limiting does not count (it is the platform working as designed), nor
/// does a client error about one message (an edit of a deleted message); a post the primary
/// refuses goes to the secondary on its own. After that time the primary is tried again with
/// the next message.
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
