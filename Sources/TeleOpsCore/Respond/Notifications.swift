import Foundation

/// Renders what TeleOps says in chat, as plain text. Transports escape or format it for
/// their platform; nothing here knows about HTML or Markdown.
public struct NotificationComposer: Sendable {
    public var catalogue: ActionCatalogue
    /// Command output longer than this is cut in chat; the scenario log keeps all of it.
    public var maxOutputInChat: Int
    /// Where a new scenario is announced: the route that takes its opening alert is named on
    /// the drafts, and the outbox finds the chat on whichever transport sends them.
    public var routing: AlertRouting

    public init(catalogue: ActionCatalogue, maxOutputInChat: Int = 3000, routing: AlertRouting = AlertRouting()) {
        self.catalogue = catalogue
        self.maxOutputInChat = maxOutputInChat
        self.routing = routing
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
            let route = routing.route(for: alert)?.name
            let announcement = OutboxDraft(
                scenarioID: scenario.id, purpose: .announcement, text: announcement(scenario), buttons: buttons(for: scenario),
                route: route)
            guard let seen = outcome.seenBefore else { return [announcement] }
            // In the thread, right under the announcement; never edited, so it stays as it was.
            return [announcement, OutboxDraft(scenarioID: scenario.id, purpose: .reply, text: seenBefore(seen, scenario: scenario),
                                              buttons: seenBeforeButtons(seen, scenario: scenario), route: route)]
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

    /// What happened the earlier times: how often and when, who handled it last, what they
    /// ran and which action preceded the resolve, how long it took; then the same check on
    /// other hosts, in one line.
    public func seenBefore(_ seen: SeenBefore, scenario: Scenario) -> String {
        var lines: [String] = []
        func count(_ times: Int) -> String {
            times >= SeenBefore.countCap ? "\(times)+ times" : times == 1 ? "once" : "\(times) times"
        }
        if let last = seen.last {
            lines.append("🔁 Seen before: \(count(seen.times)), last on \(Self.time(last.openedAt)) (#\(last.scenarioID)).")
            var done: [String] = []
            if !last.handledBy.isEmpty { done.append(last.handledBy.joined(separator: ", ") + " handled it") }
            if !last.actions.isEmpty { done.append("ran " + last.actions.joined(separator: ", ")) }
            if let seconds = last.timeToResolve {
                done.append("resolved \(ChatDuration.format(.seconds(Int64(seconds.rounded())))) after it opened")
            } else {
                done.append("it was never resolved")
            }
            lines.append("Last time: " + done.joined(separator: "; ") + ".")
            if let fix = last.fix {
                lines.append("Before the resolve: \(fix)" + (rerunnable(fix) ? " (one tap below runs it again)." : "."))
            }
        }
        if let other = seen.lastElsewhere {
            var line = "Same check on other hosts: \(count(seen.elsewhere)), last on \(other.host) (#\(other.scenarioID), \(Self.time(other.openedAt)))"
            if let fix = other.fix { line += ", after \(fix)" }
            lines.append(line + ".")
        }
        return lines.joined(separator: "\n")
    }

    /// A one-tap rerun of the action that preceded the last resolve (on this host's alert, else
    /// on another host's), when it is still configured. Policy still decides when pressed.
    public func seenBeforeButtons(_ seen: SeenBefore, scenario: Scenario) -> [ChatButton] {
        guard let fix = seen.last?.fix ?? seen.lastElsewhere?.fix, rerunnable(fix) else { return [] }
        return [ChatButton(label: "▶ \(fix) again", command: Self.runCommand(scenario: scenario.id, action: fix))]
    }

    /// Whether `action` can be run by name alone: configured, and with no required argument.
    private func rerunnable(_ action: String) -> Bool {
        guard let definition = catalogue[action] else { return false }
        return definition.parameters.allSatisfy { !$0.required }
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
            buttons.append(ChatButton(label: "▶ \(action.name)", command: Self.runCommand(scenario: scenario.id, action: action.name)))
        }
        return buttons
    }

    /// The command of a button that runs `action` on scenario `id`: `#12 run disk`. It is the
    /// longest command TeleOps builds around an action's name, so `maxActionNameBytes` is
    /// worked out from it.
    public static func runCommand(scenario id: Int64, action: String) -> String { "#\(id) run \(action)" }

    /// The longest action name, in bytes of UTF-8, whose run button fits `ChatButton.maxCommandBytes`
    /// (Telegram's `callback_data`) for any scenario number of up to 10 digits (48). The
    /// configuration refuses longer names: their button could not be sent.
    public static let maxActionNameBytes = ChatButton.maxCommandBytes - runCommand(scenario: 9_999_999_999, action: "").utf8.count

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

    /// The whole timeline, condensed for a phone: runs of repeats become one line, commands
    /// show their outcome; the newest `maxLines` entries when it is longer.
    public func history(_ scenario: Scenario, events: [ScenarioEvent], maxLines: Int = 40) -> String {
        var entries: [String] = []
        var repeats = 0
        func flushRepeats() {
            if repeats > 0 { entries.append("  … repeated \(repeats == 1 ? "once" : "\(repeats) times")") }
            repeats = 0
        }
        for event in events {
            if case .alertRepeated = event.body {
                repeats += 1
                continue
            }
            flushRepeats()
            let time = event.at.formatted(Date.ISO8601FormatStyle().time(includingFractionalSeconds: false))
            switch event.body {
            case .notified, .commandDispatched:
                continue  // the reply before and the result after say it
            case .commandFinished(let result):
                entries.append("\(time) \(result.action): \(result.outcomeDescription)")
            default:
                entries.append("\(time) \(event.actor): \(event.body.summary.prefix(160))")
            }
        }
        flushRepeats()
        var lines = ["🕘 #\(scenario.id) \(scenario.host) \(scenario.check) · \(scenario.status.rawValue), opened \(Self.time(scenario.openedAt))"
                        + (scenario.previousID.map { " · seen before: #\($0)" } ?? "")]
        if entries.count > maxLines {
            lines.append("… \(entries.count - maxLines) earlier entries (teleops scenarios show \(scenario.id) has them all)")
        }
        lines += entries.suffix(maxLines)
        return lines.joined(separator: "\n")
    }

    /// What a handoff says in the thread: who takes it, the note, and where things stand.
    public func handoff(_ scenario: Scenario, events: [ScenarioEvent], from: String, to: String, note: String) -> String {
        var lines = ["🤝 #\(scenario.id) handed to @\(to) by \(from)" + (note.isEmpty ? "." : ": \(note)")]
        lines.append("\(scenario.host) \(scenario.check) · \(scenario.severity.rawValue) · seen \(scenario.occurrences)× since \(Self.time(scenario.openedAt))")
        let results = events.compactMap { if case .commandFinished(let result) = $0.body { result } else { nil } }
        if results.isEmpty {
            lines.append("Nothing has been run yet.")
        } else {
            lines.append("Run so far: " + results.suffix(5).map { "\($0.action) (\($0.succeeded ? "ok" : $0.outcomeDescription))" }
                .joined(separator: ", "))
        }
        lines.append("@\(to): reply history for the full timeline.")
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
