import Foundation

/// What the team met and did the earlier times an alert came up: the scenarios with the same
/// fingerprint, and (ranked lower) the resolved ones of the same check on other hosts (those
/// still open are the same incident spreading, not history). Looked up when an alert opens a
/// scenario, in the same transaction, so the notification can say it.
public struct SeenBefore: Sendable, Equatable, Codable {
    /// Earlier scenarios with the same fingerprint (at most `countCap`).
    public var times: Int
    /// The newest of them.
    public var last: Occurrence?
    /// Earlier resolved scenarios with the same check on other hosts (at most `countCap`).
    public var elsewhere: Int
    /// The newest of those.
    public var lastElsewhere: Occurrence?

    /// Counting stops here ("100+ times"), so a lookup costs the same for an alert seen ten
    /// thousand times; counting to 1,000 doubled the lookup of a chronic alert at a million
    /// scenarios (docs/history.md).
    public static let countCap = 100
    /// The check's newest resolved scenarios among which `elsewhere` is counted.
    public static let checkWindow = 5000

    public init(times: Int, last: Occurrence?, elsewhere: Int, lastElsewhere: Occurrence?) {
        self.times = times
        self.last = last
        self.elsewhere = elsewhere
        self.lastElsewhere = lastElsewhere
    }

    /// One earlier scenario and what was done about it.
    public struct Occurrence: Sendable, Equatable, Codable {
        public var scenarioID: Int64
        public var host: String
        public var openedAt: Date
        public var resolvedAt: Date?
        /// The engineers who replied in its thread, in the order they first did.
        public var handledBy: [String]
        /// The actions run on it, in the order first run.
        public var actions: [String]
        /// The action that preceded the resolve: the last one that succeeded before it (or,
        /// if none succeeded, the last one run). Nil when nothing was run.
        public var fix: String?

        public init(scenarioID: Int64, host: String, openedAt: Date, resolvedAt: Date?, handledBy: [String],
                    actions: [String], fix: String?) {
            self.scenarioID = scenarioID
            self.host = host
            self.openedAt = openedAt
            self.resolvedAt = resolvedAt
            self.handledBy = handledBy
            self.actions = actions
            self.fix = fix
        }

        /// From opening to resolve.
        public var timeToResolve: TimeInterval? { resolvedAt.map { $0.timeIntervalSince(openedAt) } }

        /// The event kinds an occurrence is read from.
        public static let kinds: [EventKind] = [.replyReceived, .commandDispatched, .commandFinished, .resolved, .alertResolved]

        /// Reads what was done from `facts` (oldest first).
        public init(_ scenario: Scenario, facts: [OccurrenceFact]) {
            var handledBy: [String] = []
            var actions: [String] = []
            var lastSucceeded: String?
            var lastRun: String?
            var fixAtResolve: String??
            for fact in facts {
                switch fact {
                case .replied(let engineer):
                    if !handledBy.contains(engineer) { handledBy.append(engineer) }
                case .dispatched(let action):
                    if !actions.contains(action) { actions.append(action) }
                    lastRun = action
                case .finished(let action, let succeeded):
                    if succeeded { lastSucceeded = action }
                case .resolved:
                    if fixAtResolve == nil { fixAtResolve = .some(lastSucceeded ?? lastRun) }
                }
            }
            self.init(scenarioID: scenario.id, host: scenario.host, openedAt: scenario.openedAt,
                      resolvedAt: scenario.resolvedAt, handledBy: handledBy, actions: actions,
                      fix: fixAtResolve ?? (lastSucceeded ?? lastRun))
        }

        enum CodingKeys: String, CodingKey {
            case scenarioID = "scenario_id", host, openedAt = "opened_at", resolvedAt = "resolved_at"
            case handledBy = "handled_by", actions, fix
        }
    }

    enum CodingKeys: String, CodingKey {
        case times, last, elsewhere, lastElsewhere = "last_elsewhere"
    }
}

/// One event of an earlier scenario as "seen before" reads it (`SeenBefore.Occurrence.kinds`).
public enum OccurrenceFact: Sendable, Equatable {
    /// A reply in its thread, by this engineer.
    case replied(by: String)
    case dispatched(action: String)
    /// A command ended; `succeeded` as `TaskResult.succeeded`.
    case finished(action: String, succeeded: Bool)
    /// Resolved, by an engineer or by its source.
    case resolved

    /// The fact an event stands for; nil for other kinds.
    public init?(_ event: ScenarioEvent) {
        switch event.body {
        case .replyReceived: self = .replied(by: event.actor)
        case .commandDispatched(let facts): self = .dispatched(action: facts.action)
        case .commandFinished(let result): self = .finished(action: result.action, succeeded: result.succeeded)
        case .resolved, .alertResolved: self = .resolved
        default: return nil
        }
    }
}

extension ScenarioStoreTransaction {
    public func occurrenceFacts(of scenarioID: Int64) throws -> [OccurrenceFact] {
        try events(of: scenarioID, kinds: SeenBefore.Occurrence.kinds).compactMap(OccurrenceFact.init)
    }

    /// The history of `scenario` (just opened): nil when neither its fingerprint nor its check
    /// elsewhere was seen before. A few index lookups and the events of at most two scenarios.
    public func seenBefore(_ scenario: Scenario) throws -> SeenBefore? {
        let times = try scenarioCount(fingerprint: scenario.fingerprint, below: scenario.id, cap: SeenBefore.countCap)
        let elsewhere = try scenarioCount(check: scenario.check, otherThanHost: scenario.host, below: scenario.id,
                                          cap: SeenBefore.countCap)
        guard times > 0 || elsewhere > 0 else { return nil }
        func occurrence(_ earlier: Scenario?) throws -> SeenBefore.Occurrence? {
            guard let earlier else { return nil }
            return SeenBefore.Occurrence(earlier, facts: try occurrenceFacts(of: earlier.id))
        }
        let last = times > 0 ? try occurrence(try newestScenario(fingerprint: scenario.fingerprint, below: scenario.id)) : nil
        let lastElsewhere = elsewhere > 0
            ? try occurrence(try newestScenario(check: scenario.check, otherThanHost: scenario.host, below: scenario.id)) : nil
        return SeenBefore(times: times, last: last, elsewhere: elsewhere, lastElsewhere: lastElsewhere)
    }
}
