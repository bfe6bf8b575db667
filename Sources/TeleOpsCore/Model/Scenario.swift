import Foundation

/// Where a scenario stands.
public enum ScenarioStatus: String, Sendable, Codable, CaseIterable {
    /// Firing and nobody has said they are on it.
    case open
    /// An engineer said they are on it; still firing.
    case acknowledged
    /// The monitoring system or an engineer said it is over.
    case resolved

    /// Open and acknowledged scenarios still accept repeats of their alert.
    public var isActive: Bool { self != .resolved }
}

/// One problem as the team sees it: the alerts that raised it and everything done about it.
///
/// A scenario is opened by the first firing alert with a new fingerprint, joined
/// by repeats while active, and closed by a resolve (from the source or an engineer).
/// `previousID` links to the last resolved scenario with the same fingerprint.
public struct Scenario: Sendable, Codable, Equatable, Identifiable {
    public var id: Int64
    public var fingerprint: String
    public var source: String
    public var host: String
    public var check: String
    public var severity: Severity
    public var summary: String
    public var status: ScenarioStatus
    public var occurrences: Int
    public var openedAt: Date
    public var updatedAt: Date
    public var resolvedAt: Date?
    public var acknowledgedBy: String?
    public var previousID: Int64?
    /// Repeats and escalations post nothing before this time (`silence 1h` from chat).
    public var silencedUntil: Date?

    /// JSON keys are snake_case, as everywhere TeleOps speaks JSON (`scenarios show --json`, REST).
    enum CodingKeys: String, CodingKey {
        case id, fingerprint, source, host, check, severity, summary, status, occurrences
        case openedAt = "opened_at", updatedAt = "updated_at", resolvedAt = "resolved_at"
        case acknowledgedBy = "acknowledged_by", previousID = "previous_id", silencedUntil = "silenced_until"
    }

    public init(
        id: Int64, fingerprint: String, source: String, host: String, check: String, severity: Severity,
        summary: String, status: ScenarioStatus, occurrences: Int, openedAt: Date, updatedAt: Date,
        resolvedAt: Date? = nil, acknowledgedBy: String? = nil, previousID: Int64? = nil, silencedUntil: Date? = nil
    ) {
        self.id = id
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
        self.previousID = previousID
        self.silencedUntil = silencedUntil
    }

    /// Whether news about the scenario (repeats, escalations) stays out of chat at `time`.
    public func isSilenced(at time: Date) -> Bool {
        silencedUntil.map { time < $0 } ?? false
    }

    /// Opens a scenario for a firing alert (the store assigns `id`).
    public static func opening(with alert: Alert, id: Int64, previousID: Int64?) -> Scenario {
        Scenario(
            id: id, fingerprint: alert.fingerprint, source: alert.source, host: alert.host, check: alert.check,
            severity: alert.severity, summary: alert.summary, status: .open, occurrences: 1,
            openedAt: alert.receivedAt, updatedAt: alert.receivedAt, previousID: previousID)
    }

    /// The scenario after `event`: the one place where events change a scenario's state,
    /// shared by every store so they cannot disagree.
    public func applying(_ body: EventBody, actor: String, at time: Date) -> Scenario {
        var next = touched(at: time)
        switch body {
        case .alertRepeated(let alert):
            next.occurrences += 1
            next.severity = max(severity, alert.severity)
            next.summary = alert.summary
        case .alertResolved, .resolved:
            next.status = .resolved
            next.resolvedAt = time
        case .acknowledged:
            if status == .open {
                next.status = .acknowledged
                next.acknowledgedBy = actor
            }
        case .silenced(let facts):
            next.silencedUntil = facts.until.truncatedToMilliseconds
        case .handedOff(let facts):
            // The new owner: an open scenario counts as acknowledged by them.
            if status.isActive {
                next.status = .acknowledged
                next.acknowledgedBy = facts.to
            }
        default:
            break
        }
        return next
    }

    /// What `applying` does with an event of a kind not in `kindsChangingMoreThanTheTime`: only
    /// `updatedAt` moves. (A replay of a long history need not decode those events.)
    public func touched(at time: Date) -> Scenario {
        var next = self
        next.updatedAt = max(updatedAt, time)
        return next
    }

    /// The kinds whose events `applying` reads beyond their time.
    public static let kindsChangingMoreThanTheTime: Set<EventKind> = [
        .alertRepeated, .alertResolved, .resolved, .acknowledged, .silenced, .handedOff,
    ]
}

/// One thing that happened in a scenario. Events are appended, never rewritten.
public struct ScenarioEvent: Sendable, Equatable, Codable {
    public var id: Int64
    public var scenarioID: Int64
    public var at: Date
    /// Who did it: an engineer's name, a source name for alerts, `teleops` for the system.
    public var actor: String
    public var body: EventBody

    public var kind: EventKind { body.kind }

    public init(id: Int64, scenarioID: Int64, at: Date, actor: String, body: EventBody) {
        self.id = id
        self.scenarioID = scenarioID
        self.at = at
        self.actor = actor
        self.body = body
    }

    enum CodingKeys: String, CodingKey {
        case id, scenarioID = "scenario_id", at, actor, kind, data
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        scenarioID = try container.decode(Int64.self, forKey: .scenarioID)
        at = try container.decode(Date.self, forKey: .at)
        actor = try container.decode(String.self, forKey: .actor)
        let kind = try container.decode(EventKind.self, forKey: .kind)
        body = try EventBody(kind: kind, from: container.superDecoder(forKey: .data))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(scenarioID, forKey: .scenarioID)
        try container.encode(at, forKey: .at)
        try container.encode(actor, forKey: .actor)
        try container.encode(kind, forKey: .kind)
        try body.encodeData(to: container.superEncoder(forKey: .data))
    }
}

/// An event not yet stored: the store gives it an id.
public struct NewEvent: Sendable, Equatable {
    public var scenarioID: Int64
    public var at: Date
    public var actor: String
    public var body: EventBody

    public init(scenarioID: Int64, at: Date = Date(), actor: String, body: EventBody) {
        self.scenarioID = scenarioID
        self.at = at
        self.actor = actor
        self.body = body
    }
}
