/// Where in a chat platform a routed announcement goes: a chat (Telegram chat id or
/// `@channel`, Slack channel id) and, on platforms that have them, a topic inside it
/// (Telegram's forum `message_thread_id`). Nil fields mean the transport's own setting.
public struct ChatDestination: Sendable, Equatable {
    public var chat: String?
    public var topic: String?

    public init(chat: String? = nil, topic: String? = nil) {
        self.chat = chat
        self.topic = topic
    }
}

/// Which alerts a route takes. Every field that is set must hold; an empty matcher takes
/// every alert. Names are `Glob` patterns (`*` only, any case); a list holds when any of its
/// patterns does.
///
/// ```swift
/// let match = AlertMatch(hosts: ["db-*"], severities: [.critical], labels: ["team": ["db"]])
/// match.matches(alert)  // a critical alert from db-3 labelled team=db
/// ```
public struct AlertMatch: Sendable, Equatable {
    public var sources: [String]
    public var hosts: [String]
    public var checks: [String]
    public var severities: Set<Severity>
    /// Label name (exact) → patterns for its value; an alert without the label does not match.
    public var labels: [String: [String]]

    public init(
        sources: [String] = [], hosts: [String] = [], checks: [String] = [], severities: Set<Severity> = [],
        labels: [String: [String]] = [:]
    ) {
        self.sources = sources
        self.hosts = hosts
        self.checks = checks
        self.severities = severities
        self.labels = labels
    }

    /// `host db-*, severity critical|error, label team=db`, or `everything`.
    public var summary: String {
        var parts: [String] = []
        for (name, patterns) in [("source", sources), ("host", hosts), ("check", checks)] where !patterns.isEmpty {
            parts.append("\(name) \(patterns.joined(separator: "|"))")
        }
        if !severities.isEmpty { parts.append("severity " + severities.sorted().map(\.rawValue).joined(separator: "|")) }
        for (name, patterns) in labels.sorted(by: { $0.key < $1.key }) { parts.append("label \(name)=\(patterns.joined(separator: "|"))") }
        return parts.isEmpty ? "everything" : parts.joined(separator: ", ")
    }

    public func matches(_ alert: Alert) -> Bool {
        func any(_ patterns: [String], _ text: String) -> Bool {
            patterns.isEmpty || patterns.contains { Glob.matches($0, text) }
        }
        guard severities.isEmpty || severities.contains(alert.severity),
              any(sources, alert.source), any(hosts, alert.host), any(checks, alert.check)
        else { return false }
        for (name, patterns) in labels {
            guard let value = alert.labels[name], any(patterns, value) else { return false }
        }
        return true
    }
}

/// A rule of `chat.routes`: the alerts it takes, and where their scenario is announced on each
/// transport. A transport the route does not name announces in its own chat.
public struct AlertRoute: Sendable, Equatable {
    public var name: String
    public var match: AlertMatch
    /// By transport name (`telegram`, `slack`).
    public var destinations: [String: ChatDestination]

    public init(name: String, match: AlertMatch, destinations: [String: ChatDestination]) {
        self.name = name
        self.match = match
        self.destinations = destinations
    }

    /// `database (host db-*) → slack C0DB, telegram topic 7`.
    public var summary: String {
        let places = destinations.sorted { $0.key < $1.key }.map { transport, place in
            [transport, place.chat, place.topic.map { "topic \($0)" }].compactMap { $0 }.joined(separator: " ")
        }
        return "\(name) (\(match.summary)) → \(places.joined(separator: ", "))"
    }
}

/// The configured routes, in order: the first whose matcher takes the alert that opens a
/// scenario decides where the scenario is announced; no match, each transport's own chat.
/// Everything later about the scenario goes in the announcement's thread, so it follows.
///
/// ```swift
/// let routing = AlertRouting([AlertRoute(name: "database", match: AlertMatch(hosts: ["db-*"]),
///                                        destinations: ["telegram": ChatDestination(chat: "-1009876543210", topic: "7")])])
/// routing.route(for: alert)?.name                              // "database"
/// routing.destination(route: "database", transport: "telegram")  // chat -1009876543210, topic 7
/// ```
public struct AlertRouting: Sendable, Equatable {
    public var routes: [AlertRoute]

    public init(_ routes: [AlertRoute] = []) {
        self.routes = routes
    }

    /// The first route that takes `alert`.
    public func route(for alert: Alert) -> AlertRoute? {
        routes.first { $0.match.matches(alert) }
    }

    /// Where a route announces on a transport; nil when the route is unknown (say, removed
    /// from the configuration while its message waited) or names no place on that transport.
    public func destination(route name: String?, transport: String) -> ChatDestination? {
        guard let name else { return nil }
        return routes.first { $0.name == name }?.destinations[transport]
    }
}
