import Foundation
import TeleOpsCore

/// Text and JSON renderings of scenarios for the CLI.
public enum ScenarioReport {
    public static func listLine(_ scenario: Scenario) -> String {
        "#\(scenario.id)".padded(to: 6) + " \(scenario.status.rawValue.padded(to: 12)) \(scenario.severity.rawValue.padded(to: 8))"
            + " \(scenario.host) · \(scenario.check) ×\(scenario.occurrences) — \(scenario.summary)"
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
            lines.append("\(time)  \(event.actor.padded(to: 10)) \(event.body.summary)")
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
    /// then the timeline, each command's output in a fenced block. Text from alerts and people
    /// is escaped (`markdownText`) and reads as typed; fenced blocks hold it verbatim.
    public static func markdown(_ scenario: Scenario, events: [ScenarioEvent], alerts: [Int64: Alert] = [:]) -> String {
        /// On one line (a table cell, a heading, a timeline item).
        func cell(_ text: String) -> String {
            markdownText(String(text.map { $0.isNewline ? " " : $0 }))
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

        let quote = scenario.summary.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { "> " + markdownText(String($0), startsLine: true) }
        var lines = ["# Scenario #\(scenario.id): \(cell(scenario.host)) · \(cell(scenario.check))", ""] + quote
            + ["", "| | |", "|---|---|"]
        lines += rows.map { "| \($0.0) | \(cell($0.1)) |" }
        lines.append("| Fingerprint | \(codeSpan(scenario.fingerprint)) |")
        lines += ["", "## Timeline", ""]
        /// A fenced block, its fence longer than any run of backticks in `text`, so it stays one block.
        func fenced(_ text: [String]) -> [String] {
            let fence = String(repeating: "`", count: max(3, (text.map(longestBacktickRun).max() ?? 0) + 1))
            return ["", "  \(fence)text"] + text.map { "  \($0)" } + ["  \(fence)"]
        }
        for event in events {
            lines.append("- **\(time(event.at))** · \(cell(event.actor)) · \(cell(event.body.summary))")
            if let details = event.alertID.flatMap({ alerts[$0]?.detailLines() }), !details.isEmpty {
                lines += fenced(details) + [""]
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

    /// `text` for Markdown outside a fenced block, so that it renders as typed: `& < >` become
    /// entities (no tag, no `<!--` that hides the rest of the document, no `<…>` autolink,
    /// though some renderers still link a bare URL), and
    /// backslashes escape what would start emphasis, code, a link or image, strikethrough, math,
    /// a heading or a table cell (`_` only at a word's edge: `disk_usage` stays readable).
    /// `startsLine`: also what would make the line a list item, a rule or a setext underline.
    public static func markdownText(_ text: String, startsLine: Bool = false) -> String {
        let characters = Array(text)
        func isWord(_ index: Int) -> Bool {
            characters.indices.contains(index) && (characters[index].isLetter || characters[index].isNumber)
        }
        // The line's first visible character: leading spaces do not stop a list marker.
        let first = startsLine ? characters.firstIndex { $0 != " " && $0 != "\t" } : nil
        /// "1." or "1)" starting the line would be an ordered list.
        func endsLeadingNumber(_ index: Int) -> Bool {
            guard let first, index > first else { return false }
            return characters[first..<index].allSatisfy { $0.isASCII && $0.isNumber }
        }
        var out = ""
        for (index, character) in characters.enumerated() {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\\", "`", "*", "[", "]", "|", "~", "$", "#": out += "\\\(character)"
            case "_": out += isWord(index - 1) && isWord(index + 1) ? "_" : "\\_"
            case "-", "+", "=": out += index == first ? "\\\(character)" : "\(character)"
            case ".", ")": out += endsLeadingNumber(index) ? "\\\(character)" : "\(character)"
            default: out.append(character)
            }
        }
        return out
    }

    /// The longest run of backticks in `text`: a fence or code span must be longer.
    private static func longestBacktickRun(_ text: String) -> Int {
        text.split(whereSeparator: { $0 != "`" }).map(\.count).max() ?? 0
    }

    /// `text` as a code span: a backtick run longer than any inside it.
    static func codeSpan(_ text: String) -> String {
        let ticks = String(repeating: "`", count: longestBacktickRun(text) + 1)
        let pad = text.hasPrefix("`") || text.hasSuffix("`") ? " " : ""
        let line = String(text.map { $0.isNewline ? " " : $0 }).replacingOccurrences(of: "|", with: "\\|")
        return ticks + pad + line + pad + ticks
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
            self.alerts = StoredAlert.list(alerts)
        }
    }
}
