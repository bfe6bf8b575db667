import Foundation
import TeleOpsApp
import TeleOpsCore
import Testing

/// `ScenarioReport.markdown`, what `scenarios export` writes: text from alerts and people must
/// render as typed, whatever it holds; fenced blocks keep command output verbatim.
@Suite struct ScenarioReportTests {
    static let opened = Date(timeIntervalSince1970: 1_772_355_600)

    static func markdown(summary: String, actor: String = "ana", output: String = "ok\n") -> String {
        let scenario = Scenario(
            id: 7, fingerprint: "ab12", source: "generic", host: "web-1", check: "disk_usage", severity: .critical,
            summary: summary, status: .acknowledged, occurrences: 1, openedAt: opened, updatedAt: opened,
            acknowledgedBy: actor)
        let events = [
            ScenarioEvent(id: 1, scenarioID: 7, at: opened, actor: actor, body: .note(NoteFacts(text: summary))),
            ScenarioEvent(id: 2, scenarioID: 7, at: opened, actor: "teleops", body: .commandFinished(TaskResult(
                taskID: "t-1", action: "disk", worker: "local-1", exitCode: 0, signal: nil, timedOut: false,
                durationMs: 3, output: output, truncated: false))),
        ]
        return ScenarioReport.markdown(scenario, events: events)
    }

    /// Columns are padded, never cut: a seven-digit id and a long actor name come out whole.
    @Test func listAndTimelineKeepLongIdsAndNamesWhole() {
        let scenario = Scenario(
            id: 1_174_324, fingerprint: "ab12", source: "alertmanager", host: "web-1", check: "disk_usage",
            severity: .critical, summary: "full", status: .acknowledged, occurrences: 2, openedAt: Self.opened,
            updatedAt: Self.opened)
        #expect(ScenarioReport.listLine(scenario) == "#1174324 acknowledged critical web-1 · disk_usage ×2 — full")
        var short = scenario
        short.id = 7
        #expect(ScenarioReport.listLine(short).hasPrefix("#7     acknowledged critical "))
        let event = ScenarioEvent(id: 1, scenarioID: 1_174_324, at: Self.opened, actor: "alertmanager",
                                  body: .note(NoteFacts(text: "looking")))
        let timeline = ScenarioReport.timeline(scenario, events: [event])
        #expect(timeline.contains("  alertmanager "), "the actor cut short: \(timeline)")
    }

    /// The document with its fenced blocks taken out: what a renderer reads as Markdown.
    static func outsideFences(_ markdown: String) -> String {
        var inside = false
        return markdown.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                inside.toggle()
                return false
            }
            return !inside
        }.joined(separator: "\n")
    }

    @Test(arguments: [
        ("<!-- x", "&lt;!-- x"),
        (#"<script>alert("x")</script>"#, #"&lt;script&gt;alert("x")&lt;/script&gt;"#),
        ("**bold** and _em_ and `code`", #"\*\*bold\*\* and \_em\_ and \`code\`"#),
        ("[link](javascript:x) ![img](x)", #"\[link\](javascript:x) !\[img\](x)"#),
        ("a | b ~~gone~~ $x$ #1 &amp;", ##"a \| b \~\~gone\~\~ \$x\$ \#1 &amp;amp;"##),
        (#"C:\path\*"#, #"C:\\path\\\*"#),
    ] as [(String, String)])
    func hostileTextReadsAsTyped(summary: String, escaped: String) {
        let markdown = Self.markdown(summary: summary, actor: summary)
        let text = Self.outsideFences(markdown)
        #expect(text.contains("> \(escaped)\n"), "the summary, quoted")
        #expect(text.contains("· \(escaped) · note: \(escaped)\n"), "the actor and the note in the timeline")
        #expect(text.contains("| Acknowledged by | \(escaped) |"), "a table cell")
        #expect(!text.contains("<"), "no tag or comment outside the fenced blocks")
    }

    @Test func linesOfTheSummaryCannotStartABlock() {
        let markdown = Self.markdown(summary: "first\n# heading\n- item\n1. one\n  2) two\n===\n+ plus")
        #expect(markdown.contains(
            "> first\n> \\# heading\n> \\- item\n> 1\\. one\n>   2\\) two\n> \\===\n> \\+ plus\n"))
        // Inside a line the same characters are plain.
        let plain = Self.markdown(summary: "web-1 at 95.5% + 2 = 97 (so far)")
        #expect(plain.contains("> web-1 at 95.5% + 2 = 97 (so far)\n"))
    }

    @Test func ordinaryTextStaysReadable() {
        let markdown = Self.markdown(summary: "/var is 95% full on disk_usage")
        #expect(markdown.hasPrefix("# Scenario #7: web-1 · disk_usage\n"))
        #expect(markdown.contains("> /var is 95% full on disk_usage\n"))
        #expect(markdown.contains("| Fingerprint | `ab12` |"))
    }

    @Test func fencedBlocksStayVerbatim() {
        let output = "<!-- not a comment\n**not bold** [x](javascript:y)\n``` fence inside\n"
        let markdown = Self.markdown(summary: "s", output: output)
        #expect(markdown.contains(
            "  ````text\n  <!-- not a comment\n  **not bold** [x](javascript:y)\n  ``` fence inside\n  ````\n"))
    }
}
