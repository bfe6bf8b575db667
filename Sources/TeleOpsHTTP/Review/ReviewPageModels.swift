import Foundation
import TeleOpsCore

/// What the review templates render: plain values, already formatted, so the templates hold no
/// logic. Every string reaches the page through `{{ }}`, which escapes it for HTML.
///
/// Mustache looks a missing or nil name up in the enclosing objects too; the names of optional
/// fields here are therefore unique across a page.
enum ReviewPageModels {
    /// One `<option>` of a select.
    struct Option {
        var value: String
        var label: String
        var selected: Bool
    }

    /// A filter given in the URL that the form has no field for (kept as a hidden input).
    struct Hidden {
        var name: String
        var value: String
    }

    /// The text fields of the search form, as given.
    struct FormValues {
        var q: String
        var host: String
        var check: String
        var source: String
        var engineer: String
        var since: String
        var until: String
    }

    struct StatusCount {
        var status: String
        /// "12", or "1000+" when the count stopped short (`ScenarioCount`).
        var count: String
        var href: String
        var current: Bool
    }

    /// One scenario in the list.
    struct Row {
        var id: Int64
        var status: String
        var severity: String
        var host: String
        var check: String
        var summary: String
        var opened: String
        var openedISO: String
        /// "lasted 42m" or "open for 2h 5m".
        var span: String
        var occurrences: Int
    }

    /// `/scenarios`.
    struct ListPage {
        let title = "Scenarios"
        var signOut: Bool
        /// What was wrong with the request; then there are no results.
        var error: String?
        var form: FormValues
        /// What the since and until fields accept, shown under them.
        let timeFormats = QueryTime.accepted
        var statusOptions: [Option]
        var severityOptions: [Option]
        var hidden: [Hidden]
        var results: Results?
    }

    /// The scenarios found, counts per status and paging links.
    struct Results {
        var counts: [StatusCount]
        var allCount: String
        var allHref: String
        var scenarios: [Row]
        var newestHref: String?
        var olderHref: String?
    }

    /// A line of the detail page's header.
    struct Fact {
        var label: String
        var value: String
        var factLink: String?
    }

    /// A command's output, folded under `<details>`.
    struct Output {
        var outputSummary: String
        var outputText: String
    }

    /// One event of the timeline.
    struct EventRow {
        var kind: String
        var at: String
        var atISO: String
        /// Time since the scenario opened: "+3m 12s".
        var offset: String
        var actor: String
        var headline: String
        var detail: String
        /// What was typed or run, shown as code.
        var code: String?
        var output: Output?
        /// `ok` or `bad` for a command's outcome, empty otherwise (a CSS class).
        var tone: String
    }

    /// `/scenarios/{id}`.
    struct DetailPage {
        var title: String
        var signOut: Bool
        var id: Int64
        var status: String
        var severity: String
        var host: String
        var check: String
        var summary: String
        var outcome: String
        var facts: [Fact]
        var events: [EventRow]
    }

    /// The sign-in form (401).
    struct SignInPage {
        let title = "Sign in"
        let signOut = false
        var problem: String?
        /// Where to go after signing in (a path on this server).
        var next: String
    }

    /// A page that only says something: 400, 403, 404, 500.
    struct MessagePage {
        var title: String
        let signOut = false
        var heading: String
        var message: String
    }
}

extension ReviewPageModels {
    /// The list page; `given` fills the form (the parameters as given, even when one was wrong).
    static func list(given: [String: String], results: Results?, signOut: Bool, error: String? = nil) -> ListPage {
        let statusOptions = [Option(value: "", label: "any", selected: given["status"] == nil)]
            + ScenarioStatus.allCases.map { Option(value: $0.rawValue, label: $0.rawValue, selected: given["status"] == $0.rawValue) }
        let severityOptions = [Option(value: "", label: "any", selected: given["severity"] == nil)]
            + Severity.allCases.reversed().map {
                Option(value: $0.rawValue, label: $0.rawValue, selected: given["severity"] == $0.rawValue)
            }
        let formFields: Set = ["q", "status", "severity", "host", "check", "source", "engineer", "since", "until", "before"]
        let hidden = ScenarioFilter.parameters.compactMap { name in
            formFields.contains(name) ? nil : given[name].map { Hidden(name: name, value: $0) }
        }
        return ListPage(
            signOut: signOut, error: error,
            form: FormValues(
                q: given["q"] ?? "", host: given["host"] ?? "", check: given["check"] ?? "",
                source: given["source"] ?? "", engineer: given["engineer"] ?? "", since: given["since"] ?? "",
                until: given["until"] ?? ""),
            statusOptions: statusOptions, severityOptions: severityOptions, hidden: hidden, results: results)
    }

    static func results(
        filter: ScenarioFilter, scenarios: [Scenario], nextBefore: Int64?, counts: [ScenarioStatus: ScenarioCount],
        allCount: ScenarioCount, now: Date
    ) -> Results {
        Results(
            counts: ScenarioStatus.allCases.map { status in
                StatusCount(
                    status: status.rawValue, count: (counts[status] ?? ScenarioCount(0)).description,
                    href: href(filter.queryString(with: ["status": status.rawValue, "before": nil])),
                    current: filter.query.status == status)
            },
            allCount: allCount.description, allHref: href(filter.queryString(with: ["status": nil, "before": nil])),
            scenarios: scenarios.map { row($0, now: now) },
            newestHref: filter.query.beforeID == nil ? nil : href(filter.queryString(with: ["before": nil])),
            olderHref: nextBefore.map { href(filter.queryString(with: ["before": String($0)])) })
    }

    private static func href(_ query: String) -> String {
        query.isEmpty ? "/scenarios" : "/scenarios?\(query)"
    }

    static func row(_ scenario: Scenario, now: Date) -> Row {
        Row(
            id: scenario.id, status: scenario.status.rawValue, severity: scenario.severity.rawValue, host: scenario.host,
            check: scenario.check, summary: scenario.summary, opened: ReviewFormat.time(scenario.openedAt),
            openedISO: ReviewJSON.time(scenario.openedAt), span: span(scenario, now: now),
            occurrences: scenario.occurrences)
    }

    /// "lasted 42m" for a resolved scenario, "open for 2h 5m" for an active one.
    static func span(_ scenario: Scenario, now: Date) -> String {
        if let resolvedAt = scenario.resolvedAt {
            return "lasted \(ReviewFormat.duration(resolvedAt.timeIntervalSince(scenario.openedAt)))"
        }
        return "\(scenario.status.rawValue) for \(ReviewFormat.duration(now.timeIntervalSince(scenario.openedAt)))"
    }

    /// `alerts`: the alerts the events name (`ScenarioStore.alerts(ids:)`), shown folded under
    /// each alert event with their labels and details.
    static func detail(
        _ scenario: Scenario, events: [ScenarioEvent], alerts: [Int64: Alert] = [:], now: Date, signOut: Bool
    ) -> DetailPage {
        var facts = [
            Fact(label: "Source", value: scenario.source),
            Fact(label: "Opened", value: ReviewFormat.time(scenario.openedAt)),
        ]
        if let resolvedAt = scenario.resolvedAt {
            facts.append(Fact(label: "Resolved", value: ReviewFormat.time(resolvedAt)))
        }
        facts.append(Fact(label: "Duration", value: span(scenario, now: now)))
        facts.append(Fact(label: "Occurrences", value: "\(scenario.occurrences), last \(ReviewFormat.time(scenario.updatedAt))"))
        facts.append(Fact(label: "Acknowledged by", value: scenario.acknowledgedBy ?? "nobody"))
        if let until = scenario.silencedUntil, until > now {
            facts.append(Fact(label: "Silenced until", value: ReviewFormat.time(until)))
        }
        if let previous = scenario.previousID {
            facts.append(Fact(label: "Follows", value: "#\(previous) (the last time this alert fired)", factLink: "/scenarios/\(previous)"))
        }
        facts.append(Fact(label: "Fingerprint", value: scenario.fingerprint))
        return DetailPage(
            title: "#\(scenario.id) \(scenario.host) · \(scenario.check)", signOut: signOut, id: scenario.id,
            status: scenario.status.rawValue, severity: scenario.severity.rawValue, host: scenario.host,
            check: scenario.check, summary: scenario.summary, outcome: outcome(scenario, events: events, now: now),
            facts: facts, events: events.map { eventRow($0, openedAt: scenario.openedAt, alerts: alerts) })
    }

    /// An alert's labels and details, folded; nil when it has neither (or is gone).
    static func alertOutput(_ alert: Alert?) -> Output? {
        guard let alert, !alert.labels.isEmpty || alert.details != nil else { return nil }
        let parts = [alert.labels.isEmpty ? nil : "\(alert.labels.count) label\(alert.labels.count == 1 ? "" : "s")",
                     alert.details == nil ? nil : "details"].compactMap { $0 }
        return Output(outputSummary: "Alert: " + parts.joined(separator: " and "), outputText: alert.detailLines().joined(separator: "\n"))
    }

    /// How the scenario ended, or where it stands.
    static func outcome(_ scenario: Scenario, events: [ScenarioEvent], now: Date) -> String {
        switch scenario.status {
        case .resolved:
            let closing = events.last { $0.kind == .resolved || $0.kind == .alertResolved }
            var text = "Resolved"
            if let closing {
                text += closing.kind == .alertResolved ? " by the monitoring source (\(closing.actor))" : " by \(closing.actor)"
            }
            if let resolvedAt = scenario.resolvedAt {
                text += " after \(ReviewFormat.duration(resolvedAt.timeIntervalSince(scenario.openedAt)))"
            }
            if let closing, case .resolved(let note) = closing.body, !note.text.isEmpty { text += ": \(note.text)" }
            return text
        case .acknowledged:
            return "Acknowledged by \(scenario.acknowledgedBy ?? "someone"), still firing after "
                + ReviewFormat.duration(now.timeIntervalSince(scenario.openedAt))
        case .open:
            return "Open for \(ReviewFormat.duration(now.timeIntervalSince(scenario.openedAt))); nobody has acknowledged it"
        }
    }

    static func eventRow(_ event: ScenarioEvent, openedAt: Date, alerts: [Int64: Alert] = [:]) -> EventRow {
        var row = EventRow(
            kind: event.kind.rawValue, at: ReviewFormat.time(event.at), atISO: ReviewJSON.time(event.at),
            offset: "+" + ReviewFormat.duration(event.at.timeIntervalSince(openedAt)), actor: event.actor,
            headline: "", detail: "", tone: "")
        switch event.body {
        case .alertFired(let facts):
            row.headline = "Alert fired"
            row.detail = "\(facts.severity.rawValue), from \(facts.source): \(facts.summary)"
            row.output = alertOutput(alerts[facts.alertID])
        case .alertRepeated(let facts):
            row.headline = "Alert repeated"
            row.detail = "\(facts.severity.rawValue): \(facts.summary)"
            row.output = alertOutput(alerts[facts.alertID])
        case .alertResolved(let facts):
            row.headline = "Alert resolved"
            row.detail = "by \(facts.source): \(facts.summary)"
            row.output = alertOutput(alerts[facts.alertID])
            row.tone = "ok"
        case .notified(let ref):
            row.headline = "Notified"
            row.detail = "on \(ref.transport), chat \(ref.chat), message \(ref.messageID)"
        case .replyReceived(let facts):
            row.headline = "Reply"
            row.detail = "on \(facts.transport):"
            row.code = facts.text
        case .replyRefused(let facts):
            row.headline = "Reply refused"
            row.detail = facts.reason + (facts.userID.map { " (chat user \($0))" } ?? "")
            row.code = facts.text
            row.tone = "bad"
        case .commandRejected(let facts):
            row.headline = "Command rejected"
            row.detail = facts.reason
            row.code = facts.text
            row.tone = "bad"
        case .commandDispatched(let facts):
            row.headline = "Command dispatched"
            row.detail = "\(facts.action) to \(facts.worker.map { "worker \($0)" } ?? facts.host) (task \(facts.taskID))"
            row.code = facts.argv.joined(separator: " ")
        case .commandFinished(let result):
            row.headline = "Command finished"
            row.detail = "\(result.action) on worker \(result.worker) (task \(result.taskID)): \(result.outcomeDescription)"
            row.tone = result.succeeded ? "ok" : "bad"
            if !result.output.isEmpty {
                let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).count
                    - (result.output.hasSuffix("\n") ? 1 : 0)
                row.output = Output(
                    outputSummary: "Output, \(lines) line\(lines == 1 ? "" : "s")" + (result.truncated ? " (truncated)" : ""),
                    outputText: result.output)
            }
        case .commandLost(let facts):
            row.headline = "Command lost"
            row.detail = "\(facts.action) (task \(facts.taskID)) on worker \(facts.worker): \(facts.reason)"
            row.tone = "bad"
        case .cancelRequested(let facts):
            row.headline = "Cancel requested"
            row.detail = "\(facts.action) (task \(facts.taskID))"
        case .acknowledged:
            row.headline = "Acknowledged"
        case .resolved(let note):
            row.headline = "Resolved"
            row.detail = note.text
            row.tone = "ok"
        case .note(let note):
            row.headline = "Note"
            row.detail = note.text
        case .silenced(let facts):
            row.headline = "Silenced"
            row.detail = "until \(ReviewFormat.time(facts.until))"
        case .handedOff(let facts):
            row.headline = "Handed off"
            row.detail = "to \(facts.to)" + (facts.note.isEmpty ? "" : ": \(facts.note)")
        }
        return row
    }
}
