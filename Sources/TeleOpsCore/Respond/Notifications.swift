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

    /// The drafts an intake result produces: an announcement (with buttons) for a new
    /// scenario; for an escalation, a source's acknowledge or a resolve, a message in its
    /// thread and an update of the announcement. Repeats at the same severity and retries say
    /// nothing (the scenario's count is enough), and a silenced scenario's escalations only
    /// update the announcement.
    public func drafts(for alert: Alert, outcome: IngestOutcome, scenario: Scenario?) -> [OutboxDraft] {
        guard let scenario else { return [] }
        func reply(_ text: String) -> OutboxDraft { OutboxDraft(scenarioID: scenario.id, purpose: .reply, text: text) }
        switch outcome.disposition {
        case .opened:
            return [OutboxDraft(
                scenarioID: scenario.id, purpose: .announcement, text: announcement(scenario), buttons: buttons(for: scenario))]
        case .resolved:
            return [reply("✅ #\(scenario.id) resolved by \(alert.source): \(scenario.host) \(scenario.check) — \(alert.summary)"),
                    update(scenario)]
        case .escalated:
            let text = "\(Self.marker(scenario.severity)) #\(scenario.id) now \(scenario.severity.rawValue.uppercased()): "
                + "\(scenario.host) \(scenario.check) — \(alert.summary) (seen \(scenario.occurrences) times)"
            return scenario.isSilenced(at: alert.receivedAt) ? [update(scenario)] : [reply(text), update(scenario)]
        case .acknowledged:
            return [reply("👀 #\(scenario.id) acknowledged in \(alert.source): \(scenario.host) \(scenario.check)"), update(scenario)]
        case .repeated, .unmatched, .duplicate:
            return []
        }
    }

    /// The first message about a scenario; once it is acknowledged, silenced or resolved, a
    /// line at the end says so (the announcement is edited to this text).
    public func announcement(_ scenario: Scenario, now: Date = Date()) -> String {
        var lines = [
            "\(Self.marker(scenario.severity)) #\(scenario.id) \(scenario.severity.rawValue.uppercased()) \(scenario.host) · \(scenario.check)",
            scenario.summary,
        ]
        if let previous = scenario.previousID { lines.append("Seen before: #\(previous)") }
        if scenario.status.isActive {
            lines.append("Actions: " + catalogue.actions.map(\.usage).joined(separator: ", "))
            lines.append("Reply: run ACTION [ARGS] · ack · resolve [NOTE] · silence 1h · note TEXT · status · help")
        }
        lines += stateLines(scenario, now: now)
        return lines.joined(separator: "\n")
    }

    private func stateLines(_ scenario: Scenario, now: Date) -> [String] {
        var lines: [String] = []
        switch scenario.status {
        case .open: break
        case .acknowledged: lines.append("👍 Acknowledged" + (scenario.acknowledgedBy.map { " by \($0)" } ?? ""))
        case .resolved: lines.append("✅ Resolved" + (scenario.resolvedAt.map { " at \(Self.time($0))" } ?? ""))
        }
        if scenario.status.isActive, let until = scenario.silencedUntil, until > now {
            lines.append("🔕 Silenced until \(Self.time(until))")
        }
        return lines
    }

    /// The buttons under a scenario's announcement: Ack (while open), Resolve, Silence 1h and
    /// the action suggested for its check; none once resolved.
    public func buttons(for scenario: Scenario) -> [ChatButton] {
        guard scenario.status.isActive else { return [] }
        // Each command names its scenario, so a press is unambiguous wherever the message is.
        let id = "#\(scenario.id)"
        var buttons: [ChatButton] = []
        if scenario.status == .open { buttons.append(ChatButton(label: "Ack", command: "\(id) ack")) }
        buttons.append(ChatButton(label: "Resolve", command: "\(id) resolve"))
        buttons.append(ChatButton(label: "Silence 1h", command: "\(id) silence 1h"))
        if let action = catalogue.suggested(for: scenario.check) {
            buttons.append(ChatButton(label: "▶ \(action.name)", command: "\(id) run \(action.name)"))
        }
        return buttons
    }

    /// An edit of the scenario's announcements to show its state now.
    public func update(_ scenario: Scenario) -> OutboxDraft {
        OutboxDraft(scenarioID: scenario.id, purpose: .update, text: announcement(scenario), buttons: buttons(for: scenario))
    }

    /// Whether going from `before` to `after` changes what the announcement shows.
    public func announcementChanges(from before: Scenario, to after: Scenario) -> Bool {
        before.status != after.status || before.acknowledgedBy != after.acknowledgedBy
            || before.silencedUntil != after.silencedUntil || before.severity != after.severity
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

    /// One reply for a fan-out: a count line, then each worker's outcome and the start of its
    /// output; the chat share of output is divided among the workers.
    public func fanOut(_ outcomes: [(worker: String, outcome: TaskOutcome)], title: String) -> String {
        let ok = outcomes.filter { if case .finished(let result) = $0.outcome { result.succeeded } else { false } }.count
        var lines = ["\(title): \(outcomes.count) workers, \(ok) ok, \(outcomes.count - ok) not"]
        let share = max(200, maxOutputInChat / max(1, outcomes.count))
        for (worker, outcome) in outcomes {
            switch outcome {
            case .finished(let result):
                lines.append("\(result.succeeded ? "✅" : "❌") \(worker): \(result.outcomeDescription)")
                let output = result.output.trimmingCharacters(in: .newlines)
                if !output.isEmpty { lines.append(output.count > share ? output.prefix(share) + "\n… (cut)" : output) }
            case .lost(_, let reason):
                lines.append("⚠️ \(worker): lost (\(reason)); its result is unknown")
            case .rejected(let reason):
                lines.append("✋ \(worker): did not run: \(reason)")
            }
        }
        return lines.joined(separator: "\n")
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
