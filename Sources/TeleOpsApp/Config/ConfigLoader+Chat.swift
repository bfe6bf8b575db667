import Foundation
import TeleOpsChat
import TeleOpsCore

/// Which chat platforms the controller uses, and how its outbox delivers to them.
public struct ChatConfig: Sendable {
    public enum Platform: String, Sendable, CaseIterable {
        case console, telegram, slack
    }

    /// Where new scenarios are announced. The console is always there for a local operator.
    public var primary: Platform = .console
    public var telegram: TelegramSettings?
    public var slack: SlackSettings?
    /// Retries, splitting and failover of the outbox (`failover` names transports by platform name).
    public var outbox = OutboxSender.Settings()

    public init() {}

    /// Whether the platform can be used: the console always, the others when configured.
    public func isConfigured(_ platform: Platform) -> Bool {
        switch platform {
        case .console: true
        case .telegram: telegram != nil
        case .slack: slack != nil
        }
    }

    /// For the start-up line: `telegram (primary), slack (failover), console`.
    public var describedPlatforms: String {
        var names = [primary.rawValue + (telegram != nil || slack != nil ? " (primary)" : "")]
        for platform in Platform.allCases where platform != primary && isConfigured(platform) {
            names.append(platform.rawValue + (outbox.failover?.secondary == platform.rawValue ? " (failover)" : ""))
        }
        return names.joined(separator: ", ")
    }
}

extension ConfigLoader {
    /// `chat:`
    ///
    /// ```yaml
    /// chat:
    ///   primary: telegram
    ///   failover: {to: slack, after_failures: 3, retry_primary_after: 5m}
    ///   telegram: {chat: "-1001234567890", token_file: /etc/teleops/telegram.token}
    ///   slack: {channel: C0123ABCDEF, receive: socket_mode}
    /// ```
    static func readChat(_ value: YAMLValue, environment: [String: String]) throws(ConfigError) -> ChatConfig {
        let fields = try value.fields(allowed: ["primary", "failover", "give_up_after", "max_parts", "telegram", "slack", "routes"])
        var chat = ChatConfig()
        if let telegram = fields["telegram"] { chat.telegram = try readTelegram(telegram, environment: environment) }
        if let slack = fields["slack"] { chat.slack = try readSlack(slack, environment: environment) }
        if let primary = fields["primary"] {
            chat.primary = try platform(primary)
            try requireConfigured(chat.primary, in: chat, at: primary)
        } else if chat.telegram != nil || chat.slack != nil {
            chat.primary = chat.telegram != nil ? .telegram : .slack
        }
        if let after = fields["give_up_after"] { chat.outbox.giveUpAfter = try after.duration() }
        if let parts = fields["max_parts"] { chat.outbox.maxParts = try parts.int(in: 1...20) }
        if let failover = fields["failover"] {
            let options = try failover.fields(allowed: ["to", "after_failures", "retry_primary_after"])
            let toValue = try options.required("to")
            let secondary = try platform(toValue)
            try requireConfigured(secondary, in: chat, at: toValue)
            guard secondary != chat.primary else { throw toValue.error("the failover transport must differ from the primary (\(chat.primary.rawValue))") }
            var policy = FailoverPolicy(primary: chat.primary.rawValue, secondary: secondary.rawValue)
            if let count = options["after_failures"] { policy.afterFailures = try count.int(in: 1...100) }
            if let wait = options["retry_primary_after"] { policy.retryPrimaryAfter = try wait.duration() }
            chat.outbox.failover = policy
        }
        if let routes = fields["routes"] { chat.outbox.routing = try readRoutes(routes, chat: chat) }
        return chat
    }

    /// `chat.routes`: the first rule whose `match` takes an opening alert decides where its
    /// scenario is announced on each transport.
    ///
    /// ```yaml
    /// routes:
    ///   - name: database
    ///     match: {host: "db-*", severity: [critical, error], labels: {team: db}}
    ///     telegram: {chat: "-1009876543210", topic: 7}
    ///     slack: {channel: C0DBONCALL}
    /// ```
    private static func readRoutes(_ value: YAMLValue, chat: ChatConfig) throws(ConfigError) -> AlertRouting {
        var routes: [AlertRoute] = []
        for (index, item) in try value.list().enumerated() {
            let fields = try item.fields(allowed: ["name", "match", "telegram", "slack"])
            let name = try fields["name"]?.string() ?? "route \(index + 1)"
            guard !name.isEmpty, !routes.contains(where: { $0.name == name }) else {
                throw (fields["name"] ?? item).error(name.isEmpty ? "a route's name cannot be empty" : "route '\(name)' is defined twice")
            }
            let match = try fields.required("match")
            var destinations: [String: ChatDestination] = [:]
            if let telegram = fields["telegram"] {
                guard chat.telegram != nil else { throw telegram.error("this route names Telegram, but chat.telegram is not configured") }
                let options = try telegram.fields(allowed: ["chat", "topic"])
                var destination = ChatDestination()
                if let target = options["chat"] {
                    let id = try target.string()
                    do { try TelegramSettings.validate(chat: id, field: "chat") } catch { throw target.error(error.message) }
                    destination.chat = id
                }
                if let topic = options["topic"] { destination.topic = String(try topic.int(in: 1...Int(Int32.max))) }
                guard destination != ChatDestination() else { throw telegram.error("expected chat, topic or both") }
                destinations[TelegramTransport.transportName] = destination
            }
            if let slack = fields["slack"] {
                guard chat.slack != nil else { throw slack.error("this route names Slack, but chat.slack is not configured") }
                let target = try slack.fields(allowed: ["channel"]).required("channel")
                let id = try target.string()
                guard SlackSettings.isChannelID(id) else {
                    throw target.error("expected a channel ID such as C0123ABCDEF (not a #name), found '\(id)'")
                }
                destinations[SlackTransport.transportName] = ChatDestination(chat: id)
            }
            guard !destinations.isEmpty else { throw item.error("route '\(name)' says where on neither telegram nor slack") }
            routes.append(AlertRoute(name: name, match: try readMatch(match), destinations: destinations))
        }
        return AlertRouting(routes)
    }

    /// A route's `match`: source, host, check (a pattern or a list), severity (one or a list),
    /// labels (name → pattern or list).
    private static func readMatch(_ value: YAMLValue) throws(ConfigError) -> AlertMatch {
        let fields = try value.fields(allowed: ["source", "host", "check", "severity", "labels"])
        func patterns(_ value: YAMLValue) throws(ConfigError) -> [String] {
            let found: [String]
            if case .sequence = value.node { found = try value.strings() } else { found = [try value.string()] }
            guard !found.isEmpty, !found.contains(where: \.isEmpty) else { throw value.error("expected a pattern or a list of them, none empty") }
            return found
        }
        var match = AlertMatch()
        if let source = fields["source"] { match.sources = try patterns(source) }
        if let host = fields["host"] { match.hosts = try patterns(host) }
        if let check = fields["check"] { match.checks = try patterns(check) }
        if let severity = fields["severity"] {
            for name in try patterns(severity) {
                guard let level = Severity(rawValue: name.lowercased()) else {
                    throw severity.error("unknown severity '\(name)'; expected one of: \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                match.severities.insert(level)
            }
        }
        if let labels = fields["labels"] {
            guard case .mapping(let mapping) = labels.node else { throw labels.error("expected a mapping of label names to patterns") }
            for (keyNode, valueNode) in mapping {
                let name = keyNode.string ?? ""
                match.labels[name] = try patterns(YAMLValue(node: valueNode, key: "\(labels.key).\(name)", file: labels.file))
            }
        }
        return match
    }

    private static func platform(_ value: YAMLValue) throws(ConfigError) -> ChatConfig.Platform {
        let name = try value.string()
        guard let platform = ChatConfig.Platform(rawValue: name) else {
            throw value.error("unknown chat platform '\(name)'; expected one of: \(ChatConfig.Platform.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return platform
    }

    private static func requireConfigured(_ platform: ChatConfig.Platform, in chat: ChatConfig, at value: YAMLValue) throws(ConfigError) {
        guard chat.isConfigured(platform) else { throw value.error("'\(platform.rawValue)' is named but chat.\(platform.rawValue) is not configured") }
    }

    /// A secret from `<name>_file` (a file only its owner may read) or else the environment variable.
    private static func secret(
        _ fields: Fields, _ name: String, environment: [String: String], variable: String, required: Bool, at value: YAMLValue
    ) throws(ConfigError) -> String? {
        if let file = fields["\(name)_file"] { return try secretFile(file).first }
        if let text = environment[variable]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty { return text }
        guard required else { return nil }
        throw value.error("needs \(name): set \(variable) in the environment or name a file with \(name)_file (never the secret itself in this file)")
    }

    private static func readTelegram(_ value: YAMLValue, environment: [String: String]) throws(ConfigError) -> TelegramSettings {
        let fields = try value.fields(allowed: [
            "chat", "topic", "token_file", "api_url", "receive", "poll_timeout", "webhook_url", "webhook_secret_file",
            "request_timeout",
        ])
        let token = try secret(fields, "token", environment: environment, variable: TelegramSettings.tokenEnvironmentVariable,
                               required: true, at: value)!
        var settings = TelegramSettings(token: token, chat: try fields.required("chat").string())
        if let topic = fields["topic"] { settings.topic = try topic.int(in: 1...Int(Int32.max)) }
        if let url = fields["api_url"] { settings.apiURL = try url.string() }
        if let timeout = fields["request_timeout"] { settings.requestTimeout = try timeout.duration() }
        let mode = try fields["receive"]?.string() ?? "polling"
        switch mode {
        case "polling":
            settings.receive = .polling(timeout: try fields["poll_timeout"]?.duration() ?? .seconds(25))
        case "webhook":
            let secretValue = try secret(fields, "webhook_secret", environment: environment,
                                         variable: "TELEOPS_TELEGRAM_WEBHOOK_SECRET", required: true, at: value)!
            settings.receive = .webhook(url: try fields.required("webhook_url").string(), secret: secretValue)
        default:
            throw (fields["receive"] ?? value).error("expected polling or webhook, found '\(mode)'")
        }
        do {
            try settings.validate()
        } catch {
            throw (fields[error.field] ?? value).error(error.message)
        }
        return settings
    }

    private static func readSlack(_ value: YAMLValue, environment: [String: String]) throws(ConfigError) -> SlackSettings {
        let fields = try value.fields(allowed: [
            "channel", "bot_token_file", "app_token_file", "signing_secret_file", "api_url", "receive", "request_timeout",
        ])
        let mode = try fields["receive"]?.string() ?? SlackSettings.ReceiveMode.socketMode.rawValue
        guard let receive = SlackSettings.ReceiveMode(rawValue: mode) else {
            throw (fields["receive"] ?? value).error("expected socket_mode or events_api, found '\(mode)'")
        }
        var settings = SlackSettings(
            botToken: try secret(fields, "bot_token", environment: environment, variable: "TELEOPS_SLACK_BOT_TOKEN",
                                 required: true, at: value)!,
            appToken: try secret(fields, "app_token", environment: environment, variable: "TELEOPS_SLACK_APP_TOKEN",
                                 required: receive == .socketMode, at: value),
            signingSecret: try secret(fields, "signing_secret", environment: environment,
                                      variable: "TELEOPS_SLACK_SIGNING_SECRET", required: receive == .eventsAPI, at: value),
            channel: try fields.required("channel").string(), receiveMode: receive)
        if let url = fields["api_url"] { settings.apiURL = try url.string() }
        if let timeout = fields["request_timeout"] { settings.requestTimeout = try timeout.duration() }
        do {
            try settings.validate()
        } catch {
            throw (fields[error.field] ?? value).error(error.message)
        }
        return settings
    }
}
