import Foundation

/// A threshold rule that turns a statsd metric into alerts, one series per host.
///
/// ```swift
/// let rule = StatsdRule(name: "api_latency", metric: "api.latency", aggregation: .p95, window: .seconds(60),
///                       comparison: .greater, threshold: 500, clearThreshold: 400, forDuration: .seconds(30),
///                       severity: .critical)
/// rule.problems()  // []
/// ```
///
/// - `metric` is an exact name, or a prefix when it ends in `*` (`api.*` matches `api.latency`
///   and `api.errors`). All metrics a prefix matches pool into the rule's one series per host.
/// - `tags` filters: a sample must carry every listed tag with exactly that value (`""` for a
///   flag tag).
/// - The host is the sample's `hostTag` tag; a sample without it (or with an empty one)
///   belongs to `defaultHost`.
/// - The series fires once `comparison threshold` has held at every evaluation for
///   `forDuration`. A firing series resolves once its value has been strictly on the safe
///   side of `clearThreshold` (below it for `>`/`>=`, above it for `<`/`<=`) at every
///   evaluation for `clearForDuration`; any value that is not resets that clock. So a value
///   hovering at the threshold (499, 501, 499 against `> 500`) fires once and stays firing,
///   instead of resolving and opening a new scenario, with a new chat announcement, every
///   few seconds. Both are on by default: `clearThreshold` defaults to the threshold (values
///   at it change nothing) and `clearForDuration` to `forDuration`, at least
///   `minimumClearFor`. A `clearThreshold` below the threshold adds a band where values
///   change nothing as well; `clearForDuration: .zero` resolves at the first evaluation on
///   the safe side.
public struct StatsdRule: Sendable, Equatable {
    /// How a window of samples becomes one value.
    ///
    /// Each counter, timer, histogram and distribution sample stands for `1 / sampleRate`
    /// events; a gauge sample is the gauge's value after the update, standing for one. `count`
    /// is the number of events plus the distinct set members; `sum` adds value × events;
    /// `rate` is `sum` per second of the window; `avg` is `sum` over the events; `min`, `max`,
    /// `last` and the percentiles (nearest rank) look at the values as sent. Set members only
    /// count in `count`.
    public enum Aggregation: String, Sendable, CaseIterable {
        case avg, min, max, sum, count, last, rate, p50, p90, p95, p99
    }

    public enum Comparison: String, Sendable, CaseIterable {
        case greater = ">"
        case greaterOrEqual = ">="
        case less = "<"
        case lessOrEqual = "<="

        /// Whether the rule fires on high values (`>`, `>=`).
        public var isUpper: Bool { self == .greater || self == .greaterOrEqual }
    }

    /// The placeholders a summary template may use.
    public static let placeholders = [
        "value", "threshold", "clear", "host", "metric", "rule", "aggregation", "comparison", "window", "status",
    ]

    /// The alert's check.
    public var name: String
    public var metric: String
    public var tags: [String: String]
    public var aggregation: Aggregation
    public var window: Duration
    public var comparison: Comparison
    public var threshold: Double
    public var clearThreshold: Double
    /// How long the condition must hold before the series fires.
    public var forDuration: Duration
    /// How long the value must stay on the safe side of `clearThreshold` before a firing
    /// series resolves; nil for the default (`effectiveClearFor`).
    public var clearForDuration: Duration?
    public var severity: Severity
    public var hostTag: String
    public var defaultHost: String
    /// With `{value}`, `{threshold}`, `{host}`, `{metric}` and the other `placeholders`;
    /// nil for the default, e.g. `p95 of api.latency is 812 (> 500) over 1m`.
    public var summaryTemplate: String?

    /// The shortest default `clearForDuration`: a firing series resolves only after a minute
    /// on the safe side, even with `for: 0`. A minute outlasts the dips of a value hovering at
    /// its threshold whatever the evaluation interval, and on call, a resolve that comes a
    /// minute late costs nothing, while each flap is a resolve, a new scenario and a new chat
    /// announcement.
    public static let minimumClearFor: Duration = .seconds(60)

    public init(
        name: String, metric: String, tags: [String: String] = [:], aggregation: Aggregation, window: Duration,
        comparison: Comparison, threshold: Double, clearThreshold: Double? = nil, forDuration: Duration = .zero,
        clearForDuration: Duration? = nil, severity: Severity, hostTag: String = "host", defaultHost: String = "statsd",
        summaryTemplate: String? = nil
    ) {
        self.name = name
        self.metric = metric
        self.tags = tags
        self.aggregation = aggregation
        self.window = window
        self.comparison = comparison
        self.threshold = threshold
        self.clearThreshold = clearThreshold ?? threshold
        self.forDuration = forDuration
        self.clearForDuration = clearForDuration
        self.severity = severity
        self.hostTag = hostTag
        self.defaultHost = defaultHost
        self.summaryTemplate = summaryTemplate
    }

    /// What is wrong with the rule, as sentences; empty when it can be used.
    public func problems() -> [String] {
        var problems: [String] = []
        if name.isEmpty { problems.append("the name is empty") }
        if metric.isEmpty || metric == "*" { problems.append("the metric is empty") }
        if metric.dropLast().contains("*") { problems.append("'*' may only end the metric name (a prefix match)") }
        if metricPrefix.utf8.count > StatsdParser.maxNameBytes {
            problems.append("the metric is longer than \(StatsdParser.maxNameBytes) bytes")
        }
        if tags.keys.contains("") { problems.append("a tag filter has an empty name") }
        if window <= .zero { problems.append("the window must be longer than zero") }
        if forDuration < .zero { problems.append("'for' must not be negative") }
        if let clearForDuration, clearForDuration < .zero { problems.append("'clear_for' must not be negative") }
        if !threshold.isFinite { problems.append("the threshold must be a finite number") }
        if !clearThreshold.isFinite { problems.append("the clear threshold must be a finite number") }
        if comparison.isUpper, clearThreshold > threshold {
            problems.append("the clear threshold \(Self.format(clearThreshold)) must not be above the threshold \(Self.format(threshold)) for '\(comparison.rawValue)'")
        }
        if !comparison.isUpper, clearThreshold < threshold {
            problems.append("the clear threshold \(Self.format(clearThreshold)) must not be below the threshold \(Self.format(threshold)) for '\(comparison.rawValue)'")
        }
        if hostTag.isEmpty { problems.append("the host tag is empty") }
        if defaultHost.isEmpty { problems.append("the default host is empty") }
        if let summaryTemplate {
            let known = Dictionary(uniqueKeysWithValues: Self.placeholders.map { ($0, "") })
            for placeholder in Self.fill(summaryTemplate, with: known).unknown {
                problems.append("the summary uses {\(placeholder)}; known placeholders: \(Self.placeholders.map { "{\($0)}" }.joined(separator: ", "))")
            }
        }
        return problems
    }

    // MARK: Matching and evaluation

    public var isPrefix: Bool { metric.hasSuffix("*") }

    /// The metric without its trailing `*`.
    public var metricPrefix: Substring { isPrefix ? metric.dropLast() : Substring(metric) }

    /// Whether the sample's name and tags are this rule's.
    public func matches(_ sample: StatsdSample) -> Bool {
        let nameMatches = isPrefix ? sample.name.hasPrefix(metricPrefix) : sample.name == metric
        return nameMatches && tags.allSatisfy { sample.tags[$0.key] == $0.value }
    }

    /// The host a sample belongs to.
    public func host(of sample: StatsdSample) -> String {
        if let host = sample.tags[hostTag], !host.isEmpty { return host }
        return defaultHost
    }

    /// Whether `value` is past the threshold.
    public func breaches(_ value: Double) -> Bool {
        switch comparison {
        case .greater: value > threshold
        case .greaterOrEqual: value >= threshold
        case .less: value < threshold
        case .lessOrEqual: value <= threshold
        }
    }

    /// How long a firing series' value must stay past the clear threshold before it resolves:
    /// `clearForDuration`, or by default as long as `forDuration`, and at least
    /// `minimumClearFor`. Worked out when asked, not in `init`, so that a rule whose
    /// `forDuration` is set after `init` (as the configuration reader does) gets the default
    /// that goes with it.
    public var effectiveClearFor: Duration {
        clearForDuration ?? max(forDuration, Self.minimumClearFor)
    }

    /// Whether this value counts towards resolving a firing series: strictly on the safe side
    /// of the clear threshold. The series resolves once this has held for `effectiveClearFor`.
    public func clears(_ value: Double) -> Bool {
        comparison.isUpper ? value < clearThreshold : value > clearThreshold
    }

    /// The alert summary for a series at `value`.
    public func summary(value: Double, host: String, status: AlertStatus) -> String {
        let shown = (value: Self.format(value), threshold: Self.format(threshold), clear: Self.format(clearThreshold),
                     window: Self.format(window))
        guard let summaryTemplate else {
            let condition = status == .firing
                ? "\(comparison.rawValue) \(shown.threshold)"
                : "back \(comparison.isUpper ? "below" : "above") \(shown.clear)"
            return "\(aggregation.rawValue) of \(metric) is \(shown.value) (\(condition)) over \(shown.window)"
        }
        return Self.fill(summaryTemplate, with: [
            "value": shown.value, "threshold": shown.threshold, "clear": shown.clear, "host": host, "metric": metric,
            "rule": name, "aggregation": aggregation.rawValue, "comparison": comparison.rawValue,
            "window": shown.window, "status": status.rawValue,
        ]).text
    }

    /// `template` with each `{name}` replaced by its value; names without one are kept as they
    /// are and listed in `unknown`.
    private static func fill(_ template: String, with values: [String: String]) -> (text: String, unknown: [String]) {
        var text = ""
        var unknown: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            text += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            if let value = values[name] {
                text += value
            } else {
                text += "{\(name)}"
                unknown.append(name)
            }
            rest = rest[rest.index(after: close)...]
        }
        return (text + rest, unknown)
    }

    // MARK: Formatting

    /// `812`, `0.5`, `12.346`: whole numbers without a fraction, others to three decimals.
    public static func format(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        guard value.isFinite, abs(value) >= 0.001 else { return "\(value)" }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// `1h`, `5m`, `30s`, `250ms`.
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000)] where milliseconds != 0 && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
