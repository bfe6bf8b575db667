import Foundation

/// Renders what TeleOps says in chat, as plain text. Transports escape or format it for
/// their platform; nothing here knows about HTML or Markdown.
public struct NotificationComposer: Sendable {
    public var catalogue: ActionCatalogue
    /// Command output longer than this is cut in chat; the scenario log keeps all of it.
    public var maxOutputInChat: Int

    public init(catalogue: ActionCatalogue, maxOutputInChat: Int = 3000) {
        self.catalogue = catalogue
        self.maxOutputInChat = maxOutputInChat
    }

    /// The drafts an intake result produces: an announcement for a new scenario, a message in
    /// its thread when it escalates, is acknowledged by the source, or resolves. Repeats at the
    /// same severity and retries say nothing: the scenario's count is enough.
    public func drafts(for alert: Alert, outcome: IngestOutcome, scenario: Scenario?) -> [OutboxDraft] {
        guard let scenario else { return [] }
        switch outcome.disposition {
        case .opened:
            return [OutboxDraft(scenarioID: scenario.id, purpose: .announcement, text: announcement(scenario))]
        case .resolved:
            let text = "✅ #\(scenario.id) resolved by \(alert.source): \(scenario.host) \(scenario.check) — \(alert.summary)"
            return [OutboxDraft(scenarioID: scenario.id, purpose: .reply, text: text)]
        case .escalated:
            let text = "\(Self.marker(scenario.severity)) #\(scenario.id) now \(scenario.severity.rawValue.uppercased()): "
                + "\(scenario.host) \(scenario.check) — \(alert.summary) (seen \(scenario.occurrences) times)"
            return [OutboxDraft(scenarioID: scenario.id, purpose: .reply, text: text)]
        case .acknowledged:
            let text = "👀 #\(scenario.id) acknowledged in \(alert.source): \(scenario.host) \(scenario.check)"
            return [OutboxDraft(scenarioID: scenario.id, purpose: .reply, text: text)]
        case .repeated, .unmatched, .duplicate:
            return []
        }
    }

    public func announcement(_ scenario: Scenario) -> String {
        var lines = [
            "\(Self.marker(scenario.severity)) #\(scenario.id) \(scenario.severity.rawValue.uppercased()) \(scenario.host) · \(scenario.check)",
            scenario.summary,
        ]
        if let previous = scenario.previousID { lines.append("Seen before: #\(previous)") }
        lines.append("Actions: " + catalogue.actions.map(\.usage).joined(separator: ", "))
        lines.append("Reply: run ACTION [ARGS] · ack · resolve [NOTE] · note TEXT · status · help")
        return lines.joined(separator: "\n")
    }

    public func result(_ result: TaskResult, scenario: Scenario) -> String {
        var text = "#\(scenario.id) \(result.action) on \(scenario.host): \(result.outcomeDescription)"
        let output = result.output.trimmingCharacters(in: .newlines)
        if !output.isEmpty {
            if output.count > maxOutputInChat {
                text += "\n" + output.prefix(maxOutputInChat) + "\n… (cut; the full output is in the scenario log: teleops scenarios show \(scenario.id))"
            } else {
                text += "\n" + output
            }
        }
        return text
    }

    public func status(_ scenario: Scenario, events: [ScenarioEvent]) -> String {
        var lines = [
            "#\(scenario.id) \(scenario.status.rawValue) · \(scenario.severity.rawValue) · \(scenario.host) \(scenario.check)",
            scenario.summary,
            "Seen \(scenario.occurrences) time\(scenario.occurrences == 1 ? "" : "s") since \(Self.time(scenario.openedAt))"
                + (scenario.acknowledgedBy.map { " · acknowledged by \($0)" } ?? ""),
        ]
        for event in events.suffix(5) {
            lines.append("  \(Self.time(event.at)) \(event.actor): \(event.body.summary.prefix(200))")
        }
        return lines.joined(separator: "\n")
    }

    static func marker(_ severity: Severity) -> String {
        switch severity {
        case .critical: "🔴"
        case .error: "🟠"
        case .warning: "🟡"
        case .info: "🔵"
        }
    }

    static func time(_ date: Date) -> String {
        date.ISO8601Format()
    }
}

/// Where decoded alerts go: the HTTP routes and the CLI hand alerts here.
public protocol AlertSink: Sendable {
    /// Stores `alerts` durably and queues their notifications; returns once they are on disk.
    func accept(_ alerts: [Alert]) async throws -> [IngestOutcome]
}
