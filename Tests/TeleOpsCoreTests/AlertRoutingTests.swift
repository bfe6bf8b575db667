import Foundation
import Testing
import TeleOpsCore

@Suite struct AlertRoutingTests {
    static func alert(source: String = "alertmanager", host: String = "db-3", check: String = "PostgresDown",
                      severity: Severity = .critical, labels: [String: String] = ["team": "db", "env": "prod"]) -> Alert {
        Alert(source: source, host: host, check: check, severity: severity, status: .firing, summary: "down", labels: labels)
    }

    @Test func everyFieldGivenMustHoldAndAnEmptyMatcherTakesAll() {
        #expect(AlertMatch().matches(Self.alert()))
        let match = AlertMatch(sources: ["alertmanager", "grafana"], hosts: ["DB-*"], checks: ["postgres*"], severities: [.critical, .error],
                               labels: ["team": ["db"], "env": ["prod*", "staging"]])
        #expect(match.matches(Self.alert()), "globs ignore case; a list holds when any pattern does")
        #expect(!match.matches(Self.alert(source: "sensu")))
        #expect(!match.matches(Self.alert(host: "web-1")))
        #expect(!match.matches(Self.alert(check: "MySQLDown")))
        #expect(!match.matches(Self.alert(severity: .warning)))
        #expect(!match.matches(Self.alert(labels: ["team": "web", "env": "prod"])))
        #expect(!match.matches(Self.alert(labels: ["env": "prod"])), "a label the alert lacks does not match")
        #expect(match.matches(Self.alert(labels: ["team": "DB", "env": "staging", "extra": "x"])))
    }

    @Test func aRouteSaysWhatItTakesAndWhereItGoes() {
        let route = AlertRoute(
            name: "database", match: AlertMatch(hosts: ["db-*"], severities: [.error, .critical], labels: ["team": ["db", "dba"]]),
            destinations: ["telegram": ChatDestination(chat: "-1001", topic: "7"), "slack": ChatDestination(chat: "C0DB")])
        #expect(route.summary == "database (host db-*, severity error|critical, label team=db|dba) → slack C0DB, telegram -1001 topic 7")
        #expect(AlertMatch().summary == "everything")
    }

    @Test func theFirstRouteThatTakesTheAlertWins() {
        let routing = AlertRouting([
            AlertRoute(name: "critical db", match: AlertMatch(hosts: ["db-*"], severities: [.critical]),
                       destinations: ["telegram": ChatDestination(chat: "-1001", topic: "7")]),
            AlertRoute(name: "db", match: AlertMatch(hosts: ["db-*"]), destinations: ["slack": ChatDestination(chat: "C0DB")]),
        ])
        #expect(routing.route(for: Self.alert())?.name == "critical db")
        #expect(routing.route(for: Self.alert(severity: .warning))?.name == "db")
        #expect(routing.route(for: Self.alert(host: "web-1")) == nil)
        #expect(routing.destination(route: "critical db", transport: "telegram") == ChatDestination(chat: "-1001", topic: "7"))
        #expect(routing.destination(route: "critical db", transport: "slack") == nil, "a transport the route does not name")
        #expect(routing.destination(route: "gone", transport: "telegram") == nil, "a route no longer configured")
        #expect(routing.destination(route: nil, transport: "telegram") == nil)
    }

    @Test func theComposerNamesTheRouteOnAnOpeningAlertsDrafts() {
        let routing = AlertRouting([AlertRoute(name: "db", match: AlertMatch(hosts: ["db-*"]), destinations: ["slack": ChatDestination(chat: "C0DB")])])
        let composer = NotificationComposer(catalogue: ActionCatalogue([]), routing: routing)
        let alert = Self.alert()
        let scenario = Scenario(
            id: 4, fingerprint: alert.fingerprint, source: alert.source, host: alert.host, check: alert.check, severity: alert.severity,
            summary: alert.summary, status: .open, occurrences: 1, openedAt: Date(), updatedAt: Date())
        let seen = SeenBefore(times: 2, last: nil, elsewhere: 0, lastElsewhere: nil)
        let opened = composer.drafts(for: alert, outcome: IngestOutcome(alertID: 1, scenarioID: 4, disposition: .opened, seenBefore: seen),
                                     scenario: scenario)
        #expect(opened.map(\.purpose) == [.announcement, .reply])
        #expect(opened.map(\.route) == ["db", "db"], "the announcement and the history under it")
        let other = composer.drafts(for: Self.alert(host: "web-1"), outcome: IngestOutcome(alertID: 2, scenarioID: 4, disposition: .opened),
                                    scenario: scenario)
        #expect(other.map(\.route) == [nil])
    }
}
