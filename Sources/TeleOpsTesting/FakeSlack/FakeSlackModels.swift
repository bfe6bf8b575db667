import Foundation
import TeleOpsCore

/// How a `FakeSlackServer` behaves; the defaults are Slack's, shortened where a test would
/// otherwise wait minutes.
public struct FakeSlackOptions: Sendable {
    /// Channel IDs that exist, with the bot in them.
    public var channels: [String]
    /// Socket Mode: an envelope not acknowledged within this long is sent again
    /// (`retry_attempt` + 1, `retry_reason: "timeout"`). Slack does not document its deadline.
    public var ackTimeout: Duration
    /// Socket Mode: how many times an unacknowledged envelope is sent again.
    public var maxRedeliveries: Int
    /// Events API: an answer slower than this counts as failed (`http_timeout`), as in Slack.
    public var responseDeadline: Duration
    /// Events API: the waits before retries 1, 2 and 3 (Slack: almost none, 1 minute, 5 minutes).
    public var retryDelays: [Duration]
    /// Per-channel flood control on chat.postMessage (429 with `Retry-After` past it); nil: none.
    public var floodControl: ChatRate?
    /// Whether the bot's own posts and edits come back as `message` events, as they do in Slack
    /// for an app subscribed to `message.channels`.
    public var echoBotMessages: Bool
    /// Socket Mode: the first this many connections get no `hello` (a stuck link).
    public var withholdHello: Int

    public init(
        channels: [String] = [FakeSlackServer.defaultChannel], ackTimeout: Duration = .seconds(3), maxRedeliveries: Int = 3,
        responseDeadline: Duration = .seconds(3),
        retryDelays: [Duration] = [.milliseconds(50), .milliseconds(200), .milliseconds(500)],
        floodControl: ChatRate? = nil, echoBotMessages: Bool = true, withholdHello: Int = 0
    ) {
        self.channels = channels
        self.ackTimeout = ackTimeout
        self.maxRedeliveries = maxRedeliveries
        self.responseDeadline = responseDeadline
        self.retryDelays = retryDelays
        self.floodControl = floodControl
        self.echoBotMessages = echoBotMessages
        self.withholdHello = withholdHello
    }
}

/// A message as the fake holds it.
public struct FakeSlackMessage: Sendable, Equatable {
    public var channel: String
    public var ts: String
    /// The thread it was posted in (`thread_ts` as sent), nil for a top-level message.
    public var threadTS: String?
    /// The author's user id (the bot's own for its posts).
    public var user: String
    /// Set for messages bots posted.
    public var botID: String?
    /// `text` as sent on the wire (escaped).
    public var text: String
    /// `blocks` as sent, nil when there are none.
    public var blocks: JSONValue?
    public var edits: Int

    /// What a person sees: the blocks' text when there are blocks, else `text`, with Slack's
    /// markup rendered (`&lt;` → `<`, `<https://x|label>` → `label`).
    public var shownText: String { FakeSlackBlocks.shownText(text: text, blocks: blocks) }
    /// The buttons in the message's actions blocks, in order.
    public var buttons: [FakeSlackButton] { FakeSlackBlocks.buttons(in: blocks) }
    /// Posted by the app under test (the fake's bot).
    public var isFromApp: Bool { botID == FakeSlackServer.botID }
}

public struct FakeSlackButton: Sendable, Equatable {
    public var label: String
    public var value: String
    public var actionID: String
    public var blockID: String?
}

/// How the fake fails the next chat.postMessage / chat.update calls.
public enum FakeSlackFailure: Sendable, Equatable {
    /// HTTP 429 with `Retry-After` and `{"ok":false,"error":"ratelimited"}`.
    case rateLimited(retryAfterSeconds: Int)
    /// An HTTP 5xx with an HTML body, as a load balancer answers.
    case serverError(status: Int)
    /// HTTP 200 `{"ok":false,"error":<code>}`.
    case error(String)
    /// Answers only after this long (for client timeouts).
    case slow(Duration)
}

/// One Web API request the fake answered.
public struct FakeSlackRequest: Sendable {
    /// The method: `chat.postMessage`, `auth.test`, …
    public var method: String
    public var arrivedAt: ContinuousClock.Instant
    public var status: Int
    /// The `error` of an `ok: false` answer.
    public var error: String?
    /// The request's `channel`, when it named one.
    public var channel: String?
    /// The arguments as parsed (JSON or form).
    public var arguments: JSONValue
}

/// One Events API delivery attempt the fake made.
public struct FakeSlackDelivery: Sendable {
    public var url: String
    /// `X-Slack-Retry-Num`; 0 for the first attempt.
    public var retryNumber: Int
    /// The answer's status; nil when the connection failed or the answer came too late.
    public var status: Int?
    public var body: String
    public var tookLonger: Bool
    /// The `event_id` of an `event_callback`, the `trigger_id` of an interaction or command.
    public var deliveryKey: String
}

/// One Socket Mode envelope and what became of it.
public struct FakeSlackEnvelope: Sendable {
    public var id: String
    /// `events_api`, `interactive` or `slash_commands`.
    public var type: String
    public var payload: JSONValue
    /// How many times it was sent.
    public var sends: Int
    public var acked: Bool
    /// The ack's `payload`, when it carried one.
    public var ackPayload: JSONValue?
}

/// A Socket Mode connection of the fake, numbered in the order they connected.
public enum FakeSlackSocketEvent: Sendable, Equatable {
    /// The fake said hello on connection n.
    case connected(Int)
    /// Connection n ended (closed by either side, or dropped).
    case closed(Int)
}

/// Thrown by the fake's test API when the test asked for something the fake does not hold.
public struct FakeSlackError: Error, Sendable, CustomStringConvertible {
    public var description: String
}
