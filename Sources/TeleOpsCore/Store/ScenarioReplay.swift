import Foundation

/// A scenario's columns as a store keeps them (times in milliseconds), for checking against
/// the scenario's events: the chain covers the events and the alert rows, and the columns are
/// derived from them (`Scenario.opening`, then `Scenario.applying` for each event), so an edit
/// of a column shows as a difference from the replay. `previous_id` is not derived from the
/// events: it is checked to name an earlier scenario with the same fingerprint, as the store
/// links a scenario only to such a one (so an edit that names another of those, or removes the
/// link, is not seen).
public struct StoredScenarioColumns: Sendable, Equatable {
    public var fingerprint: String
    public var source: String
    public var host: String
    public var check: String
    public var severity: String
    public var summary: String
    public var status: String
    public var occurrences: Int64
    public var openedAt: Int64
    public var updatedAt: Int64
    public var resolvedAt: Int64?
    public var acknowledgedBy: String?
    public var silencedUntil: Int64?
    /// The scenario this one follows (`Scenario.previousID`), and that scenario's fingerprint
    /// as stored, nil when there is no such scenario.
    public var previousID: Int64?
    public var previousFingerprint: String?

    public init(
        fingerprint: String, source: String, host: String, check: String, severity: String, summary: String,
        status: String, occurrences: Int64, openedAt: Int64, updatedAt: Int64, resolvedAt: Int64?,
        acknowledgedBy: String?, silencedUntil: Int64?, previousID: Int64? = nil, previousFingerprint: String? = nil
    ) {
        self.fingerprint = fingerprint
        self.source = source
        self.host = host
        self.check = check
        self.severity = severity
        self.summary = summary
        self.status = status
        self.occurrences = occurrences
        self.openedAt = openedAt
        self.updatedAt = updatedAt
        self.resolvedAt = resolvedAt
        self.acknowledgedBy = acknowledgedBy
        self.silencedUntil = silencedUntil
        self.previousID = previousID
        self.previousFingerprint = previousFingerprint
    }

    /// A scenario's columns as a store writes them; `previousFingerprint`: that of the scenario
    /// `scenario.previousID` names.
    public init(_ scenario: Scenario, previousFingerprint: String?) {
        self.init(
            fingerprint: scenario.fingerprint, source: scenario.source, host: scenario.host, check: scenario.check,
            severity: scenario.severity.rawValue, summary: scenario.summary, status: scenario.status.rawValue,
            occurrences: Int64(scenario.occurrences), openedAt: scenario.openedAt.millisecondsSince1970,
            updatedAt: scenario.updatedAt.millisecondsSince1970, resolvedAt: scenario.resolvedAt?.millisecondsSince1970,
            acknowledgedBy: scenario.acknowledgedBy, silencedUntil: scenario.silencedUntil?.millisecondsSince1970,
            previousID: scenario.previousID, previousFingerprint: previousFingerprint)
    }

    /// The names of the columns that differ from `other` (as the store names them).
    func differences(from other: StoredScenarioColumns) -> [String] {
        var names: [String] = []
        func compare<Value: Equatable>(_ name: String, _ path: KeyPath<StoredScenarioColumns, Value>) {
            if self[keyPath: path] != other[keyPath: path] { names.append(name) }
        }
        compare("fingerprint", \.fingerprint)
        compare("source", \.source)
        compare("host", \.host)
        compare("check_name", \.check)
        compare("severity", \.severity)
        compare("summary", \.summary)
        compare("status", \.status)
        compare("occurrences", \.occurrences)
        compare("opened_at", \.openedAt)
        compare("updated_at", \.updatedAt)
        compare("resolved_at", \.resolvedAt)
        compare("acknowledged_by", \.acknowledgedBy)
        compare("silenced_until", \.silencedUntil)
        return names
    }

    /// Whether `previousID`, when set, names an earlier scenario with the same fingerprint.
    func linksAsTheStoreDoes(scenarioID: Int64) -> Bool {
        guard let previousID else { return true }
        return previousID < scenarioID && previousFingerprint == fingerprint
    }
}

/// Replays a scenario's events onto the alert that opened it, the way the store applied them.
public enum ScenarioReplay {
    /// The columns whose stored value is not what `events` (oldest first, as stored) make of
    /// the alert their first event records (`alert`: the scenario's alert rows by id), or nil
    /// when they cannot be replayed: no events, a first event that is not `alert_fired`, or a
    /// payload that does not decode (the chain and alert checks report what is wrong then).
    /// Only events of `Scenario.kindsChangingMoreThanTheTime` are decoded.
    public static func differences(
        stored: StoredScenarioColumns, scenarioID: Int64, events: [ChainVerifier.StoredEvent], alert: (Int64) -> AlertRow?
    ) -> [String]? {
        guard let first = events.first, first.kind == EventKind.alertFired.rawValue,
              case .alertFired(let facts)? = try? EventBody(kind: .alertFired, jsonData: Data(first.data)),
              let row = alert(facts.alertID), let severity = Severity(rawValue: row.severity) else { return nil }
        let openedAt = Date(millisecondsSince1970: row.receivedAtMilliseconds)
        var scenario = Scenario(
            id: scenarioID, fingerprint: row.fingerprint, source: row.source, host: row.host, check: row.check,
            severity: severity, summary: row.summary, status: .open, occurrences: 1, openedAt: openedAt, updatedAt: openedAt)
        // The store records `alert_fired` at the alert's time without applying it (`Scenario.opening`).
        for event in events.dropFirst() {
            guard let kind = EventKind(rawValue: event.kind) else { return nil }
            if Scenario.kindsChangingMoreThanTheTime.contains(kind) {
                guard let body = try? EventBody(kind: kind, jsonData: Data(event.data)) else { return nil }
                scenario = scenario.applying(body, actor: event.actor, at: event.at)
            } else {
                scenario = scenario.touched(at: event.at)
            }
        }
        var names = StoredScenarioColumns(scenario, previousFingerprint: nil).differences(from: stored)
        if !stored.linksAsTheStoreDoes(scenarioID: scenarioID) { names.append("previous_id") }
        return names
    }
}
