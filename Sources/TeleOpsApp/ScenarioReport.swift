import Foundation
import TeleOpsCore

/// Text and JSON renderings of scenarios for the CLI.
public enum ScenarioReport {
    public static func listLine(_ scenario: Scenario) -> String {
        let status = scenario.status.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
        let severity = scenario.severity.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
        return "#\(scenario.id)".padding(toLength: 6, withPad: " ", startingAt: 0)
            + " \(status) \(severity) \(scenario.host) · \(scenario.check) ×\(scenario.occurrences) — \(scenario.summary)"
    }

    /// `alerts`: the alerts the events name (`ScenarioStore.alerts(ids:)`), whose labels and
    /// details are printed under their events.
    public static func timeline(_ scenario: Scenario, events: [ScenarioEvent], alerts: [Int64: Alert] = [:]) -> String {
        var lines = [
            "#\(scenario.id) \(scenario.status.rawValue) · \(scenario.severity.rawValue) · \(scenario.host) · \(scenario.check) (\(scenario.source))",
            scenario.summary,
            "opened \(scenario.openedAt.ISO8601Format()), seen \(scenario.occurrences)×"
                + (scenario.acknowledgedBy.map { ", acknowledged by \($0)" } ?? "")
                + (scenario.resolvedAt.map { ", resolved \($0.ISO8601Format())" } ?? "")
                + (scenario.previousID.map { ", follows #\($0)" } ?? ""),
            "",
        ]
        for event in events {
            let time = event.at.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            lines.append("\(time)  \(event.actor.padding(toLength: 10, withPad: " ", startingAt: 0)) \(event.body.summary)")
            if let alert = event.alertID.flatMap({ alerts[$0] }) {
                lines += alert.detailLines().map { "    \($0)" }
            }
            if case .commandFinished(let result) = event.body, !result.output.isEmpty {
                for line in result.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast(result.output.hasSuffix("\n") ? 1 : 0) {
                    lines.append("    | \(line)")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One scenario as a Markdown document (what `scenarios export` writes): a summary table,
    /// then the timeline, each command's output in a fenced block.
    public static func markdown(_ scenario: Scenario, events: [ScenarioEvent], alerts: [Int64: Alert] = [:]) -> String {
        func cell(_ text: String) -> String {
            text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }
        func time(_ date: Date) -> String { date.ISO8601Format() }
        var rows: [(String, String)] = [
            ("Status", scenario.status.rawValue), ("Severity", scenario.severity.rawValue), ("Host", scenario.host),
            ("Check", scenario.check), ("Source", scenario.source), ("Opened", time(scenario.openedAt)),
        ]
        if let resolved = scenario.resolvedAt {
            let took = ChatDuration.format(.seconds(Int64(resolved.timeIntervalSince(scenario.openedAt).rounded())))
            rows.append(("Resolved", "\(time(resolved)) (after \(took))"))
        }
        rows.append(("Seen", scenario.occurrences == 1 ? "once" : "\(scenario.occurrences) times"))
        if let who = scenario.acknowledgedBy { rows.append(("Acknowledged by", who)) }
        if let previous = scenario.previousID { rows.append(("Follows", "#\(previous)")) }
        rows.append(("Fingerprint", "`\(scenario.fingerprint)`"))

        var lines = ["# Scenario #\(scenario.id): \(cell(scenario.host)) · \(cell(scenario.check))", "",
                     "> " + scenario.summary.replacingOccurrences(of: "\n", with: "\n> "), "", "| | |", "|---|---|"]
        lines += rows.map { "| \($0.0) | \(cell($0.1)) |" }
        lines += ["", "## Timeline", ""]
        /// A fenced block, its fence longer than any run of backticks in `text`, so it stays one block.
        func fenced(_ text: [String]) -> [String] {
            let longest = text.flatMap { $0.split(whereSeparator: { $0 != "`" }).map(\.count) }.max() ?? 0
            let fence = String(repeating: "`", count: max(3, longest + 1))
            return ["", "  \(fence)text"] + text.map { "  \($0)" } + ["  \(fence)"]
        }
        for event in events {
            lines.append("- **\(time(event.at))** · \(cell(event.actor)) · \(event.body.summary.replacingOccurrences(of: "\n", with: " "))")
            if let alert = event.alertID.flatMap({ alerts[$0] }), !alert.detailLines().isEmpty {
                lines += fenced(alert.detailLines()) + [""]
            }
            if case .commandFinished(let result) = event.body, !result.output.isEmpty {
                lines += fenced(result.output.split(separator: "\n", omittingEmptySubsequences: false)
                    .dropLast(result.output.hasSuffix("\n") ? 1 : 0).map(String.init))
                if result.truncated { lines.append("  (output truncated by the worker's limit)") }
                lines.append("")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A scenario with its events, and the alerts they name, as `scenarios show --json` prints it.
    public struct Detail: Encodable {
        public var scenario: Scenario
        public var events: [ScenarioEvent]
        public var alerts: [StoredAlert]

        public init(scenario: Scenario, events: [ScenarioEvent], alerts: [Int64: Alert] = [:]) {
            self.scenario = scenario
            self.events = events
            self.alerts = alerts.sorted { $0.key < $1.key }.map { StoredAlert(id: $0.key, alert: $0.value) }
        }
    }

    /// An alert with the id its events name it by.
    public struct StoredAlert: Encodable {
        public var id: Int64
        public var alert: Alert
    }
}
