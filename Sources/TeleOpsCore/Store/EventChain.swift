import Foundation

/// The hash chain that makes a scenario's log tamper-evident.
///
/// Each event carries `hash = SHA-256(previous hash, scenario id, time, actor, kind, data)`,
/// where the previous hash is that of the scenario's previous event (empty for its first) and
/// `data` is the event body's stored JSON (`EventBody.jsonData`: compact, sorted keys). The
/// scenario keeps the hash of its newest event as its head, so removing the newest event is
/// caught as well as editing, removing or reordering any other. Fields are length-prefixed, so
/// no two different events hash the same input.
///
/// The chain shows tampering by anyone who does not rewrite every later hash and the head as
/// well; someone with write access to the store can do that. Keep `teleops scenarios verify`
/// output (its head digest) somewhere else to catch that too.
public enum EventChain {
    /// Lowercase hex SHA-256 over the event's fields, linked to `previous`.
    public static func hash(previous: String?, scenarioID: Int64, at: Date, actor: String, kind: String,
                            data: some Collection<UInt8>) -> String {
        var input: [UInt8] = []
        input.reserveCapacity(128 + actor.utf8.count + kind.utf8.count + data.count)
        input.append(contentsOf: "teleops-event-v1".utf8)
        append((previous ?? "").utf8, to: &input)
        append(String(scenarioID).utf8, to: &input)
        append(String(at.millisecondsSince1970).utf8, to: &input)
        append(actor.utf8, to: &input)
        append(kind.utf8, to: &input)
        append(data, to: &input)
        return Hex.string(Digest.sha256(input))
    }

    /// `<byte count>:<bytes>`, so that no field can run into the next.
    private static func append(_ field: some Collection<UInt8>, to input: inout [UInt8]) {
        input.append(contentsOf: String(field.count).utf8)
        input.append(UInt8(ascii: ":"))
        input.append(contentsOf: field)
    }
}

/// What `ScenarioStore.verifyChain` found.
public struct ChainReport: Sendable, Equatable, Codable {
    public var scenariosChecked: Int
    public var eventsChecked: Int
    /// The first problem, in scenario then event order; nil when every chain holds.
    public var firstBreak: ChainBreak?
    /// SHA-256 over every scenario's head hash in id order: a short digest of the whole log to
    /// keep elsewhere; a later digest that differs while the log only grew shows a rewrite.
    public var digest: String

    public var isIntact: Bool { firstBreak == nil }

    public init(scenariosChecked: Int, eventsChecked: Int, firstBreak: ChainBreak?, digest: String) {
        self.scenariosChecked = scenariosChecked
        self.eventsChecked = eventsChecked
        self.firstBreak = firstBreak
        self.digest = digest
    }

    enum CodingKeys: String, CodingKey {
        case scenariosChecked = "scenarios_checked", eventsChecked = "events_checked", firstBreak = "first_break", digest
    }
}

/// Where a chain stops holding, and why.
public struct ChainBreak: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Reason: String, Sendable, Codable {
        /// The event's stored hash is not the hash of its fields and its predecessor's hash:
        /// the event was edited, or one before it was removed or edited.
        case eventAltered = "event_altered"
        /// The scenario's head is not its newest event's hash: its newest events were removed.
        case eventsRemoved = "events_removed"
        /// A scenario id is missing from the sequence (and was not pruned by retention).
        case scenarioRemoved = "scenario_removed"
    }

    public var scenarioID: Int64
    /// The event at which the chain breaks (nil for a removed scenario or removed newest events).
    public var eventID: Int64?
    public var reason: Reason

    public init(scenarioID: Int64, eventID: Int64?, reason: Reason) {
        self.scenarioID = scenarioID
        self.eventID = eventID
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .eventAltered:
            "scenario #\(scenarioID), event \(eventID.map(String.init) ?? "?"): its hash does not match its contents and the event before it (edited, or an earlier event was removed or edited)"
        case .eventsRemoved:
            "scenario #\(scenarioID): its newest events were removed (the recorded head hash matches no event)"
        case .scenarioRemoved:
            "scenario #\(scenarioID) was removed (it is missing and was not pruned by retention)"
        }
    }

    enum CodingKeys: String, CodingKey { case scenarioID = "scenario_id", eventID = "event_id", reason }
}

/// Checks chains as a store reads them: scenario by scenario in id order, each scenario's
/// events in id order. Stores feed it rows; it keeps the first break and the counts.
public struct ChainVerifier: Sendable {
    public private(set) var scenariosChecked = 0
    public private(set) var eventsChecked = 0
    public private(set) var firstBreak: ChainBreak?
    private var heads: [UInt8] = []
    private var expectedNextID: Int64 = 1
    private let prunedBelow: Int64

    /// `prunedBelow`: scenario ids below it may be missing (retention removed scenarios up to
    /// just below it; a removal below that mark is not told apart from retention's).
    public init(prunedBelow: Int64 = 0) {
        self.prunedBelow = prunedBelow
    }

    /// One scenario: its id, its recorded head, and its events (oldest first) as stored.
    public mutating func check(scenarioID: Int64, head: String?, events: [StoredEvent]) {
        scenariosChecked += 1
        noteMissing(below: scenarioID)
        expectedNextID = scenarioID + 1
        var previous: String?
        for event in events {
            eventsChecked += 1
            let expected = EventChain.hash(previous: previous, scenarioID: scenarioID, at: event.at, actor: event.actor,
                                           kind: event.kind, data: event.data)
            if expected != event.hash, firstBreak == nil {
                firstBreak = ChainBreak(scenarioID: scenarioID, eventID: event.id, reason: .eventAltered)
            }
            previous = event.hash
        }
        if previous != head, firstBreak == nil {
            firstBreak = ChainBreak(scenarioID: scenarioID, eventID: nil, reason: .eventsRemoved)
        }
        heads.append(contentsOf: (head ?? "").utf8)
        heads.append(0x0A)
        // Keep memory flat over millions of scenarios: fold the heads into a running digest.
        if heads.count > 1 << 20 { heads = Array(Hex.string(Digest.sha256(heads)).utf8) }
    }

    /// After the last scenario: `lastAllocatedID` is the highest id the store ever gave a
    /// scenario, so removing the newest scenarios is caught too.
    public mutating func finish(lastAllocatedID: Int64) {
        noteMissing(below: lastAllocatedID + 1)
    }

    private mutating func noteMissing(below id: Int64) {
        let missing = max(expectedNextID, prunedBelow)
        if missing < id, firstBreak == nil { firstBreak = ChainBreak(scenarioID: missing, eventID: nil, reason: .scenarioRemoved) }
    }

    public var report: ChainReport {
        ChainReport(scenariosChecked: scenariosChecked, eventsChecked: eventsChecked, firstBreak: firstBreak,
                    digest: Hex.string(Digest.sha256(heads)))
    }

    /// An event as stored: what its hash covers, and the hash recorded with it.
    public struct StoredEvent: Sendable {
        public var id: Int64
        public var at: Date
        public var actor: String
        public var kind: String
        public var data: [UInt8]
        public var hash: String?

        public init(id: Int64, at: Date, actor: String, kind: String, data: [UInt8], hash: String?) {
            self.id = id
            self.at = at
            self.actor = actor
            self.kind = kind
            self.data = data
            self.hash = hash
        }
    }
}
