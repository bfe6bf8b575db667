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
