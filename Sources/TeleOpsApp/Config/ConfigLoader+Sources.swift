import Foundation
import TeleOpsCore
import TeleOpsHTTP

extension ConfigLoader {
    /// `sources:`: one mapping per alert source (`AlertSourceName.all`), each optional:
    ///
    /// ```yaml
    /// sources:
    ///   alertmanager: {token_file: /etc/teleops/alertmanager.token}
    ///   generic: {hmac_secret: "…", rate_limit: {per_second: 50, burst: 100}}
    ///   pagerduty: {routing_keys: ["e93facc04764012d7bfb002500d5d1a6"]}
    ///   sensu: {enabled: false}
    /// ```
    static func readSources(_ value: YAMLValue, into settings: inout HTTPSettings) throws(ConfigError) {
        let fields = try value.fields(allowed: AlertSourceName.all)
        for name in AlertSourceName.all {
            guard let section = fields[name] else { continue }
            settings.sources[name] = try readSource(section, name: name)
        }
    }

    private static func readSource(_ value: YAMLValue, name: String) throws(ConfigError) -> SourceSettings {
        var allowed = ["enabled", "token", "tokens", "token_file", "rate_limit"]
        if name == "generic" { allowed += ["hmac_secret", "hmac_secret_file"] }
        if name == "pagerduty" { allowed += ["routing_keys", "routing_keys_file"] }
        let fields = try value.fields(allowed: allowed)
        var source = SourceSettings()
        if let enabled = fields["enabled"] { source.enabled = try enabled.bool() }
        if let token = fields["token"] { source.tokens.append(try secret(token)) }
        if let tokens = fields["tokens"] {
            for item in try tokens.list() { source.tokens.append(try secret(item)) }
        }
        if let file = fields["token_file"] { source.tokens += try secretFile(file) }
        if let secretValue = fields["hmac_secret"] { source.hmacSecrets.append(try secret(secretValue)) }
        if let file = fields["hmac_secret_file"] { source.hmacSecrets += try secretFile(file) }
        if let keys = fields["routing_keys"] {
            for item in try keys.list() { source.routingKeys.append(try secret(item)) }
        }
        if let file = fields["routing_keys_file"] { source.routingKeys += try secretFile(file) }
        if let limit = fields["rate_limit"] { source.rateLimit = try readRateLimit(limit) }
        return source
    }

    /// `off`, or `{per_second: N, burst: M}`.
    private static func readRateLimit(_ value: YAMLValue) throws(ConfigError) -> RateLimit? {
        if case .scalar = value.node, !(try value.bool()) { return nil }
        let fields = try value.fields(allowed: ["per_second", "burst"])
        let perSecondValue = try fields.required("per_second")
        let perSecondText = try perSecondValue.string()
        guard let perSecond = Double(perSecondText), perSecond > 0, perSecond <= 1_000_000 else {
            throw perSecondValue.error("expected a positive number of requests per second, found '\(perSecondText)'")
        }
        let burst = try fields["burst"]?.int(in: 1...1_000_000) ?? max(1, Int(perSecond.rounded(.up)))
        return RateLimit(perSecond: perSecond, burst: burst)
    }

    private static func secret(_ value: YAMLValue) throws(ConfigError) -> String {
        let text = try value.string().trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count >= 16 else {
            throw value.error("is too short to be a secret (at least 16 characters); generate one with: openssl rand -hex 24")
        }
        return text
    }

    /// One secret per non-empty line of a file that only its owner (and group) may read.
    static func secretFile(_ value: YAMLValue) throws(ConfigError) -> [String] {
        let path = try value.string()
        let attributes: [FileAttributeKey: Any]
        let text: String
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw value.error("cannot read '\(path)': \(error.localizedDescription)")
        }
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o004 != 0 {
            throw value.error("'\(path)' is readable by every user; restrict it with: chmod 600 \(path)")
        }
        let secrets = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !secrets.isEmpty else { throw value.error("'\(path)' holds no secret") }
        guard let short = secrets.first(where: { $0.count < 16 }) else { return secrets }
        throw value.error("'\(path)' holds a secret of \(short.count) characters; use at least 16 (openssl rand -hex 24)")
    }

    /// `intake:`: the queue between HTTP and the store.
    static func readIntake(_ value: YAMLValue, into settings: inout IngestQueue.Settings) throws(ConfigError) {
        let fields = try value.fields(allowed: ["max_pending_alerts", "max_alerts_per_commit", "retry_after"])
        if let pending = fields["max_pending_alerts"] { settings.maxPendingAlerts = try pending.int(in: 1...10_000_000) }
        if let perCommit = fields["max_alerts_per_commit"] { settings.maxAlertsPerCommit = try perCommit.int(in: 1...1_000_000) }
        if let retry = fields["retry_after"] { settings.retryAfter = try retry.duration() }
    }
}
