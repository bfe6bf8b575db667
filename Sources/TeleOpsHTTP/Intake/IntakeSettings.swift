import TeleOpsCore

/// How one alert source is let in: whether it is enabled, how its senders prove who they
/// are, and how fast they may post.
///
/// ```swift
/// var alertmanager = SourceSettings()
/// alertmanager.tokens = ["s3cret"]          // Authorization: Bearer s3cret
/// alertmanager.rateLimit = RateLimit(perSecond: 50, burst: 200)
/// ```
public struct SourceSettings: Sendable, Equatable {
    public var enabled = true
    /// Accepted `Authorization: Bearer …` tokens; more than one while a token is rotated.
    public var tokens: [String] = []
    /// `generic` only: HMAC-SHA256 secrets; a request must carry
    /// `X-TeleOps-Signature: sha256=<hex HMAC of the body>` made with one of them.
    public var hmacSecrets: [String] = []
    /// `pagerduty` only: accepted integration keys (the body's `routing_key`), PagerDuty's own
    /// way to authenticate a sender, so that any tool that can page PagerDuty can page TeleOps.
    public var routingKeys: [String] = []
    /// Requests per second and burst, per source; nil turns the limit off.
    public var rateLimit: RateLimit? = RateLimit()

    public init() {}

    /// Whether a request must prove who sent it.
    public var requiresAuthentication: Bool { !tokens.isEmpty || !hmacSecrets.isEmpty || !routingKeys.isEmpty }
}

/// A token bucket: `burst` requests at once, refilled at `perSecond`.
public struct RateLimit: Sendable, Equatable {
    public var perSecond: Double
    public var burst: Int

    public init(perSecond: Double = 200, burst: Int = 1000) {
        self.perSecond = perSecond
        self.burst = burst
    }
}

/// Every alert source the controller knows, with its settings.
public enum AlertSourceName {
    /// The sources, in the order the docs list them.
    public static let all = ["generic", "sensu", "alertmanager", "prometheus", "grafana", "pagerduty", "statsd"]
}
