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

    public static func timeline(_ scenario: Scenario, events: [ScenarioEvent]) -> String {
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
    public static func markdown(_ scenario: Scenario, events: [ScenarioEvent]) -> String {
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
        for event in events {
            lines.append("- **\(time(event.at))** · \(cell(event.actor)) · \(event.body.summary.replacingOccurrences(of: "\n", with: " "))")
            if case .commandFinished(let result) = event.body, !result.output.isEmpty {
                // A fence longer than any run of backticks in the output keeps it one block.
                let longest = result.output.split(whereSeparator: { $0 != "`" }).map(\.count).max() ?? 0
                let fence = String(repeating: "`", count: max(3, longest + 1))
                lines.append("")
                lines.append("  \(fence)text")
                lines += result.output.split(separator: "\n", omittingEmptySubsequences: false)
                    .dropLast(result.output.hasSuffix("\n") ? 1 : 0).map { "  \($0)" }
                lines.append("  \(fence)")
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

    /// A scenario with its events, as `scenarios show --json` prints it.
    public struct Detail: Encodable {
        public var scenario: Scenario
        public var events: [ScenarioEvent]

        public init(scenario: Scenario, events: [ScenarioEvent]) {
            self.scenario = scenario
            self.events = events
        }
    }
}
