import TeleOpsCore

/// How the Slack transport talks to Slack: the tokens, the default channel, how it receives
/// what people type and press, and its timeouts. docs/slack.md explains each field.
///
/// Tokens and the signing secret are never logged: `description` redacts them.
///
/// ```swift
/// var settings = SlackSettings(botToken: "xoxb-…", channel: "C0123ABCDEF")
/// settings.appToken = "xapp-…"          // Socket Mode (the default receive mode)
/// try settings.validate()
/// ```
public struct SlackSettings: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// How Slack delivers events, button presses and slash commands.
    public enum ReceiveMode: String, Sendable, Equatable, CaseIterable {
        /// TeleOps opens a WebSocket to Slack (`apps.connections.open` with the app token);
        /// no public URL needed.
        case socketMode = "socket_mode"
        /// Slack POSTs signed requests to `/v1/chat/slack/events`, `/interactivity` and
        /// `/commands` on TeleOps' HTTP server, which must be reachable from Slack.
        case eventsAPI = "events_api"
    }

    // MARK: Platform limits (docs.slack.dev, see docs/slack.md)

    /// Longest text TeleOps posts, in UTF-16 code units. Slack advises at most 4,000 characters
    /// in `text` and truncates over 40,000; keeping to the advice keeps a message readable and
    /// within two section blocks, and the outbox splits longer text.
    public static let maxTextLength = 4000
    /// Slack truncates (or refuses, `msg_too_long`) text longer than this.
    public static let truncationLength = 40_000
    /// Block Kit: the text of one section block.
    public static let maxSectionTextLength = 3000
    /// Block Kit: elements in one actions block.
    public static let maxActionsPerBlock = 25
    /// Block Kit: the plain_text label of a button.
    public static let maxButtonLabelLength = 75
    /// "1 message per second to a specific channel", with short bursts allowed.
    public static let perChannelRate = ChatRate(1, per: .seconds(1))
    /// "Several hundred messages per minute" across the workspace: 300 keeps well inside it.
    public static let globalRate = ChatRate(300, per: .seconds(60))
    /// Signed requests whose timestamp is further than this from now are refused (replay protection).
    public static let replayWindow = Duration.seconds(300)
    /// Slack counts an Events API delivery failed when the answer takes longer than this.
    public static let responseDeadline = Duration.seconds(3)
    /// The routes the HTTP server mounts in `.eventsAPI` mode.
    public static let eventsPath = "/v1/chat/slack/events"
    public static let interactivityPath = "/v1/chat/slack/interactivity"
    public static let commandsPath = "/v1/chat/slack/commands"

    // MARK: Fields

    /// The bot token (`xoxb-…`) for the Web API: chat.postMessage, chat.update, auth.test.
    public var botToken: String
    /// The app-level token (`xapp-…`, scope `connections:write`); required for Socket Mode.
    public var appToken: String?
    /// The app's signing secret; required for the Events API over HTTP.
    public var signingSecret: String?
    /// The Web API base URL; tests point it at a fake.
    public var apiURL: String
    /// The channel ID (`C…`, `G…` or `D…`) messages go to when they name none.
    public var channel: String
    public var receiveMode: ReceiveMode
    /// Connect timeout of one Web API call.
    public var connectTimeout: Duration
    /// Total timeout of one Web API call; past it the call fails as `.timeout`.
    public var requestTimeout: Duration
    /// How long a new Socket Mode connection may take to say `hello`.
    public var helloTimeout: Duration
    /// Waits between Socket Mode reconnects and `auth.test` retries (exponential, full jitter).
    public var reconnectBackoff: Backoff
    /// The wait after Slack disconnects with `link_disabled` (Socket Mode turned off in the
    /// app settings) before trying again.
    public var linkDisabledRetry: Duration

    public init(
        botToken: String, appToken: String? = nil, signingSecret: String? = nil, apiURL: String = "https://slack.com/api",
        channel: String, receiveMode: ReceiveMode = .socketMode, connectTimeout: Duration = .seconds(5),
        requestTimeout: Duration = .seconds(15), helloTimeout: Duration = .seconds(10),
        reconnectBackoff: Backoff = Backoff(initial: .seconds(1), maximum: .seconds(60)),
        linkDisabledRetry: Duration = .seconds(300)
    ) {
        self.botToken = botToken
        self.appToken = appToken
        self.signingSecret = signingSecret
        self.apiURL = apiURL
        self.channel = channel
        self.receiveMode = receiveMode
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.helloTimeout = helloTimeout
        self.reconnectBackoff = reconnectBackoff
        self.linkDisabledRetry = linkDisabledRetry
    }

    /// What the transport tells the outbox about Slack.
    public var limits: ChatLimits {
        ChatLimits(maxMessageLength: Self.maxTextLength, perChat: [Self.perChannelRate], global: [Self.globalRate])
    }

    /// Throws the first problem, naming the field and what to do about it.
    public func validate() throws(ChatSettingsError) {
        if let problem = problems.first { throw problem }
    }

    /// Every problem with these settings, in field order.
    public var problems: [ChatSettingsError] {
        var problems: [ChatSettingsError] = []
        func problem(_ field: String, _ message: String) { problems.append(ChatSettingsError(platform: "slack", field: field, message: message)) }

        if botToken.isEmpty {
            problem("bot_token", "missing: set TELEOPS_SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token, xoxb-…)")
        } else if !botToken.hasPrefix("xoxb-") {
            problem("bot_token", "expected a bot token starting with xoxb- (found one starting with \(Self.tokenKind(botToken)))")
        }
        if !(apiURL.hasPrefix("https://") || apiURL.hasPrefix("http://")) {
            problem("api_url", "expected an http(s) URL such as https://slack.com/api, found '\(apiURL)'")
        }
        if channel.isEmpty {
            problem("channel", "missing: the channel ID messages go to (channel details → About → Channel ID, e.g. C0123ABCDEF)")
        } else if !Self.isChannelID(channel) {
            problem("channel", "expected a channel ID such as C0123ABCDEF (not a #name), found '\(channel)'")
        }
        switch receiveMode {
        case .socketMode:
            if let appToken, !appToken.isEmpty {
                if !appToken.hasPrefix("xapp-") {
                    problem("app_token", "expected an app-level token starting with xapp- (found one starting with \(Self.tokenKind(appToken)))")
                }
            } else {
                problem("app_token", "Socket Mode needs an app-level token with connections:write: set TELEOPS_SLACK_APP_TOKEN (Basic Information → App-Level Tokens), or use receive_mode: events_api")
            }
        case .eventsAPI:
            if signingSecret?.isEmpty ?? true {
                problem("signing_secret", "the Events API needs the app's signing secret to verify requests: set TELEOPS_SLACK_SIGNING_SECRET (Basic Information → App Credentials)")
            }
        }
        for (field, value) in [("connect_timeout", connectTimeout), ("request_timeout", requestTimeout), ("hello_timeout", helloTimeout),
                               ("link_disabled_retry", linkDisabledRetry)] where value <= .zero {
            problem(field, "must be more than 0, found \(value)")
        }
        if reconnectBackoff.initial <= .zero || reconnectBackoff.maximum < reconnectBackoff.initial {
            problem("reconnect_backoff", "needs 0 < initial ≤ maximum, found \(reconnectBackoff.initial)…\(reconnectBackoff.maximum)")
        }
        return problems
    }

    /// `C…`, `G…` or `D…` followed by upper-case letters and digits.
    public static func isChannelID(_ text: String) -> Bool {
        guard let first = text.first, "CGD".contains(first), text.count >= 2 else { return false }
        return text.dropFirst().allSatisfy { ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") }
    }

    public var description: String {
        "SlackSettings(botToken: \(Self.redacted(botToken)), appToken: \(appToken.map(Self.redacted) ?? "nil"), "
            + "signingSecret: \(signingSecret == nil ? "nil" : "<redacted>"), apiURL: \(apiURL), channel: \(channel), "
            + "receiveMode: \(receiveMode.rawValue))"
    }

    public var debugDescription: String { description }

    /// `xoxb-<redacted>`: the kind of token, never any of its secret part.
    static func redacted(_ token: String) -> String {
        token.isEmpty ? "<empty>" : "\(tokenKind(token))<redacted>"
    }

    private static func tokenKind(_ token: String) -> String {
        if let dash = token.firstIndex(of: "-"), token.distance(from: token.startIndex, to: dash) <= 5 {
            return String(token[...dash])
        }
        return "?"
    }
}
