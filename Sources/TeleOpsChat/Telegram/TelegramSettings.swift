import Foundation
import TeleOpsCore

/// How TeleOps talks to Telegram: the bot token, the chat it posts in, and how it receives
/// what people type (long polling or a webhook).
///
/// The token is a secret: `description` and `debugDescription` never show it (nor the webhook
/// secret), and the transport keeps it out of every log line and failure message.
///
/// ```swift
/// var telegram = TelegramSettings(token: token, chat: "-1001234567890")
/// telegram.topic = 42                                   // post in this forum topic
/// telegram.receive = .webhook(url: "https://teleops.example.com/v1/chat/telegram", secret: "s3cret-token")
/// try telegram.validate()
/// ```
public struct TelegramSettings: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// How updates (typed messages, button presses) reach TeleOps. Telegram allows one at a time
    /// per bot token.
    public enum ReceiveMode: Sendable, Equatable {
        /// `getUpdates` long polling; each call waits up to `timeout` (whole seconds, 0...50) for
        /// something to happen. Works behind NAT and firewalls; needs no public URL.
        case polling(timeout: Duration = .seconds(25))
        /// Telegram POSTs each update to `url` (HTTPS), with `secret` (1-256 characters of
        /// `A-Z a-z 0-9 _ -`) in the `X-Telegram-Bot-Api-Secret-Token` header.
        case webhook(url: String, secret: String)
    }

    // MARK: Platform limits (core.telegram.org/bots/api, bots/faq)

    /// The longest message text, after entity parsing (counted in UTF-16 code units, the stricter count).
    public static let maxMessageLength = 4096
    /// `callback_data` of an inline button: 1-64 bytes.
    public static let maxCallbackDataBytes = 64
    /// "avoid sending more than one message per second" in a chat.
    public static let perChatRate = ChatRate(1, per: .seconds(1))
    /// "not able to send more than 20 messages per minute to the same group".
    public static let perGroupRate = ChatRate(20, per: .seconds(60))
    /// "not allow more than 30 messages per second or so" across chats.
    public static let globalRate = ChatRate(30, per: .seconds(1))
    /// `getUpdates` waits at most this long; the server clamps `timeout` to it.
    public static let maxPollTimeout = Duration.seconds(50)
    /// Buttons per keyboard row: three fit a phone screen with readable labels.
    public static let buttonsPerRow = 3
    /// The inbox cursor holding the next `getUpdates` offset.
    public static let offsetCursor = "telegram.offset"
    /// The header carrying the webhook secret.
    public static let secretHeader = "X-Telegram-Bot-Api-Secret-Token"
    /// Where the HTTP server mounts the webhook.
    public static let webhookPath = "/v1/chat/telegram"
    /// The environment variable the token is read from when no token file is configured.
    public static let tokenEnvironmentVariable = "TELEOPS_TELEGRAM_TOKEN"

    // MARK: Settings

    /// The bot token from @BotFather (`123456789:AA…`). Never logged.
    public var token: String
    /// The Bot API server; tests point it at a fake, self-hosted `telegram-bot-api` servers work too.
    public var apiURL: String
    /// The chat posts go to when a message names none: a numeric id (`-1001234567890` for a
    /// supergroup) or a public `@channelname`.
    public var chat: String
    /// A forum topic (`message_thread_id`) for posts to the default chat; nil posts in the chat itself.
    public var topic: Int?
    public var receive: ReceiveMode
    /// Time to establish a connection to the Bot API.
    public var connectTimeout: Duration
    /// Time for a whole call (send, edit, answer, setWebhook). A `getUpdates` call gets its
    /// poll timeout on top of this.
    public var requestTimeout: Duration
    /// Waits between failed `getUpdates` calls on network errors, timeouts, 5xx and 429
    /// (exponential with full jitter; a 429's `retry_after` wins when longer).
    public var pollBackoff: Backoff
    /// Waits after a 409 Conflict (another poller or a webhook): `initial`, doubling up to `maximum`.
    public var conflictBackoff: Backoff
    /// The wait after the token is refused (401) or the API URL is wrong (404) before trying again.
    public var unauthorizedDelay: Duration

    public init(
        token: String, chat: String, apiURL: String = "https://api.telegram.org", topic: Int? = nil,
        receive: ReceiveMode = .polling(), connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30),
        pollBackoff: Backoff = Backoff(initial: .seconds(1), maximum: .seconds(60)),
        conflictBackoff: Backoff = Backoff(initial: .seconds(5), maximum: .seconds(60)),
        unauthorizedDelay: Duration = .seconds(300)
    ) {
        self.token = token
        self.chat = chat
        self.apiURL = apiURL
        self.topic = topic
        self.receive = receive
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.pollBackoff = pollBackoff
        self.conflictBackoff = conflictBackoff
        self.unauthorizedDelay = unauthorizedDelay
    }

    /// Checks every field; the error names the field and what to do. Never echoes the token.
    public func validate() throws(ChatSettingsError) {
        try Self.validate(token: token)
        guard let api = URL(string: apiURL), let scheme = api.scheme?.lowercased(), ["http", "https"].contains(scheme),
              api.host?.isEmpty == false
        else {
            throw ChatSettingsError(platform: "telegram", field: "api_url", message: "'\(apiURL)' is not an http(s) URL; the default is https://api.telegram.org")
        }
        try Self.validate(chat: chat, field: "chat")
        if let topic, topic <= 0 {
            throw ChatSettingsError(platform: "telegram", field: "topic", message: "\(topic) is not a forum topic id (a positive message_thread_id)")
        }
        switch receive {
        case .polling(let timeout):
            let seconds = timeout.components
            guard seconds.attoseconds == 0, seconds.seconds >= 0, timeout <= Self.maxPollTimeout else {
                throw ChatSettingsError(
                    platform: "telegram", field: "poll_timeout", message: "\(timeout) is not whole seconds between 0 and 50 (Telegram's long-poll limit); 25 s is a good value")
            }
        case .webhook(let url, let secret):
            try Self.validate(webhookURL: url)
            try Self.validate(secret: secret)
        }
        for (field, value) in [("connect_timeout", connectTimeout), ("request_timeout", requestTimeout)] where value <= .zero {
            throw ChatSettingsError(platform: "telegram", field: field, message: "must be more than zero, found \(value)")
        }
    }

    /// The token from `file` when given (surrounding whitespace ignored), else from
    /// `TELEOPS_TELEGRAM_TOKEN`, so it never sits in the configuration file.
    public static func loadToken(
        file: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ChatSettingsError) -> String {
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ChatSettingsError(platform: "telegram", field: "token_file", message: "cannot read '\(file)'; it should hold the token from @BotFather")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw ChatSettingsError(platform: "telegram", field: "token_file", message: "'\(file)' is empty") }
            return token
        }
        guard let token = environment[tokenEnvironmentVariable]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw ChatSettingsError(
                platform: "telegram", field: "token", message: "no bot token: set \(tokenEnvironmentVariable) or name a token file (the token comes from @BotFather)")
        }
        return token
    }

    public var description: String {
        var parts = ["token: <redacted>", "apiURL: \(apiURL)", "chat: \(chat)"]
        if let topic { parts.append("topic: \(topic)") }
        switch receive {
        case .polling(let timeout): parts.append("receive: polling(timeout: \(timeout))")
        case .webhook(let url, _): parts.append("receive: webhook(url: \(url), secret: <redacted>)")
        }
        parts.append("connectTimeout: \(connectTimeout)")
        parts.append("requestTimeout: \(requestTimeout)")
        return "TelegramSettings(\(parts.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }

    // MARK: Field checks

    private static func validate(token: String) throws(ChatSettingsError) {
        // Shape only: `<bot id>:<secret>`; the message never repeats the value.
        let parts = token.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy(\.isASCII), parts[0].allSatisfy(\.isNumber),
              !parts[1].isEmpty, parts[1].allSatisfy({ allowed.contains($0) })
        else {
            throw ChatSettingsError(
                platform: "telegram", field: "token", message: "does not look like a bot token from @BotFather (<bot id>:<secret>, e.g. 123456789:AAH…); check for quotes or spaces")
        }
    }

    public static func validate(chat: String, field: String) throws(ChatSettingsError) {
        if Int64(chat) != nil { return }
        let name = chat.dropFirst()
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
        guard chat.hasPrefix("@"), (4...32).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw ChatSettingsError(
                platform: "telegram", field: field,
                message: "'\(chat)' is neither a numeric chat id (e.g. -1001234567890) nor a public @channelname")
        }
    }

    private static func validate(webhookURL: String) throws(ChatSettingsError) {
        guard let url = URL(string: webhookURL), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw ChatSettingsError(platform: "telegram", field: "webhook_url", message: "'\(webhookURL)' is not a URL")
        }
        let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw ChatSettingsError(
                platform: "telegram", field: "webhook_url", message: "'\(webhookURL)' must be an https:// URL: Telegram only calls webhooks over HTTPS (ports 443, 80, 88 or 8443)")
        }
    }

    private static func validate(secret: String) throws(ChatSettingsError) {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        guard (1...256).contains(secret.count), secret.allSatisfy({ allowed.contains($0) }) else {
            throw ChatSettingsError(
                platform: "telegram", field: "webhook_secret",
                message: "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token); found \(secret.count) characters"
                    + (secret.allSatisfy({ allowed.contains($0) }) ? "" : " including others"))
        }
    }
}
