import Foundation
import TeleOpsCore
import Yams

extension ConfigLoader {
    /// Reads the `statsd:` section:
    ///
    /// ```yaml
    /// statsd:
    ///   udp: "127.0.0.1:8125"        # absent: no UDP socket (lines can still be posted over HTTP)
    ///   evaluation_interval: 1s
    ///   max_series: 10000
    ///   rules:
    ///     - name: api_latency
    ///       metric: api.latency      # or a prefix: api.*
    ///       tags: {env: prod}
    ///       aggregation: p95         # avg min max sum count last rate p50 p90 p95 p99
    ///       window: 1m
    ///       comparison: '>'          # quoted: a bare > starts a YAML block
    ///       threshold: 500
    ///       clear: 400               # optional, default: the threshold
    ///       for: 30s                 # optional, default 0
    ///       clear_for: 2m            # optional, default: `for`, at least 1m; 0 resolves at once
    ///       severity: critical
    /// ```
    ///
    /// Other rule keys: `host_tag` (default `host`), `host` (default `statsd`), `summary`.
    /// UDP on a non-loopback address needs `allow_remote_udp: true`.
    static func readStatsd(_ value: YAMLValue) throws(ConfigError) -> StatsdSettings {
        let fields = try value.fields(allowed: [
            "udp", "allow_remote_udp", "evaluation_interval", "max_series", "max_packet_bytes", "rules",
        ])
        var settings = StatsdSettings()
        if let udp = fields["udp"] {
            (settings.udpHost, settings.udpPort) = try readUDPAddress(udp)
            let allowRemote = try fields["allow_remote_udp"]?.bool() ?? false
            if let host = settings.udpHost, !isLoopback(host), !allowRemote {
                throw udp.error("'\(host)' is not a loopback address; statsd has no authentication, so anyone who can reach the port could raise alerts. Set allow_remote_udp: true to listen there anyway")
            }
        }
        if let interval = fields["evaluation_interval"] { settings.evaluationInterval = try interval.duration() }
        if let count = fields["max_series"] { settings.maxSeries = try count.int(in: 1...1_000_000) }
        if let size = fields["max_packet_bytes"] { settings.maxPacketBytes = try size.int(in: 512...65535) }
        if let rules = fields["rules"] {
            for item in try rules.list() {
                let rule = try readStatsdRule(item)
                guard !settings.rules.contains(where: { $0.name == rule.name }) else {
                    throw item.error("statsd rule '\(rule.name)' is defined twice")
                }
                settings.rules.append(rule)
            }
        }
        return settings
    }

    /// `host:port`, with IPv6 hosts in brackets: `[::1]:8125`.
    private static func readUDPAddress(_ value: YAMLValue) throws(ConfigError) -> (String, Int) {
        let text = try value.string().trimmingCharacters(in: .whitespaces)
        let problem = value.error("expected host:port such as 127.0.0.1:8125 or [::1]:8125, found '\(text)'")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { throw problem }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("["), !host.contains("]") else { throw problem }
        guard (0...65535).contains(port) else { throw value.error("port \(port) is out of range; expected 0 to 65535") }
        return (host, port)
    }

    private static func readStatsdRule(_ item: YAMLValue) throws(ConfigError) -> StatsdRule {
        let fields = try item.fields(allowed: [
            "name", "metric", "tags", "aggregation", "window", "comparison", "threshold", "clear", "for", "clear_for",
            "severity", "host_tag", "host", "summary",
        ])
        let name = try fields.required("name").string()
        var rule = StatsdRule(
            name: name, metric: try fields.required("metric").string(),
            aggregation: try oneOf(fields.required("aggregation"), StatsdRule.Aggregation.self),
            window: try fields.required("window").duration(),
            comparison: try oneOf(fields.required("comparison"), StatsdRule.Comparison.self, hint: " (quote it: '>')"),
            threshold: try number(fields.required("threshold")),
            severity: try oneOf(fields.required("severity"), Severity.self))
        if let tags = fields["tags"] { rule.tags = try stringMap(tags) }
        if let clear = fields["clear"] { rule.clearThreshold = try number(clear) }
        if let hold = fields["for"] { rule.forDuration = try durationOrZero(hold) }
        if let hold = fields["clear_for"] { rule.clearForDuration = try durationOrZero(hold) }
        if let tag = fields["host_tag"] { rule.hostTag = try tag.string() }
        if let host = fields["host"] { rule.defaultHost = try host.string() }
        if let summary = fields["summary"] { rule.summaryTemplate = try summary.string() }
        if let problem = rule.problems().first { throw item.error("statsd rule '\(name)': \(problem)") }
        return rule
    }

    private static func oneOf<T: RawRepresentable & CaseIterable>(
        _ value: YAMLValue, _: T.Type, hint: String = ""
    ) throws(ConfigError) -> T where T.RawValue == String {
        let text = try value.string()
        guard let choice = T(rawValue: text.lowercased()) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw value.error("'\(text)' is not one of: \(allowed)\(hint)")
        }
        return choice
    }

    private static func number(_ value: YAMLValue) throws(ConfigError) -> Double {
        let text = try value.string()
        guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite else {
            throw value.error("expected a number, found '\(text)'")
        }
        return number
    }

    /// A duration, or `0` / `0s` for none.
    private static func durationOrZero(_ value: YAMLValue) throws(ConfigError) -> Duration {
        if ["0", "0s", "0ms"].contains(try value.string().trimmingCharacters(in: .whitespaces)) { return .zero }
        return try value.duration()
    }

    private static func stringMap(_ value: YAMLValue) throws(ConfigError) -> [String: String] {
        guard case .mapping(let mapping) = value.node else { throw value.error("expected a mapping of tag names to values") }
        var map: [String: String] = [:]
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? ""
            map[key] = try YAMLValue(node: valueNode, key: "\(value.key).\(key)", file: value.file).string()
        }
        return map
    }
}
