import Foundation

/// The hash chain that makes a scenario's log tamper-evident.
///
/// Each event carries `hash = SHA-256(previous hash, scenario id, time, actor, kind, data)`,
/// where the previous hash is that of the scenario's previous event (empty for its first) and
/// `data` is the event body's stored JSON (`EventBody.jsonData`: compact, sorted keys). The
/// scenario keeps the hash of its newest event as its head, so removing the newest event is
/// caught as well as editing, removing or reordering any other. Fields are length-prefixed, so
/// no two different events hash the same input. An alert event's `data` records the digest of
/// its alert's stored row (`AlertDigest`), so the alerts are under the chain as well.
///
/// The chain shows tampering by anyone who does not rewrite every later hash and the head as
/// well; someone with write access to the store can do that. Keep a `ChainCheckpoint` (printed
/// by `teleops scenarios verify`) somewhere else to catch that too.
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

    /// `<byte count>:<bytes>`, so that no field can run into the next (`AlertDigest` frames its
    /// fields the same way).
    static func append(_ field: some Collection<UInt8>, to input: inout [UInt8]) {
        input.append(contentsOf: String(field.count).utf8)
        input.append(UInt8(ascii: ":"))
        input.append(contentsOf: field)
    }
}

/// The log as it stood, in a line to keep outside the store: `<last event id>-<pruned below>-<digest>`,
/// the digest being SHA-256 over `<scenario id>:<hash of its newest event up to that id>` for
/// every scenario in id order. Event ids only grow, so the log as it stood is exactly its events
/// up to that id, and a later `verify` against the checkpoint recomputes the same digest however
/// much the log has grown since; any event up to the id edited, removed or re-hashed changes it.
/// Retention removing scenarios since (`prunedBelow` moved) makes the checkpoint uncheckable,
/// not broken: take a new one after each prune.
///
/// ```text
/// $ teleops scenarios verify
/// OK: 2,134 scenarios, 19,870 events, every chain intact
/// checkpoint 19870-0-5b9f…e1
/// $ teleops scenarios verify --checkpoint 19870-0-5b9f…e1   # weeks later
/// ```
public struct ChainCheckpoint: Sendable, Equatable, Codable, LosslessStringConvertible {
    public var lastEventID: Int64
    public var prunedBelow: Int64
    /// Lowercase hex SHA-256.
    public var digest: String

    public init(lastEventID: Int64, prunedBelow: Int64, digest: String) {
        self.lastEventID = lastEventID
        self.prunedBelow = prunedBelow
        self.digest = digest
    }

    public init?(_ description: String) {
        let parts = description.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let last = Int64(parts[0]), last >= 0, let pruned = Int64(parts[1]), pruned >= 0,
              parts[2].count == 64, parts[2].allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else { return nil }
        self.init(lastEventID: last, prunedBelow: pruned, digest: String(parts[2]))
    }

    public var description: String { "\(lastEventID)-\(prunedBelow)-\(digest)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let checkpoint = ChainCheckpoint(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a checkpoint: \(text)"))
        }
        self = checkpoint
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What `ScenarioStore.verifyChain` found.
public struct ChainReport: Sendable, Equatable, Codable {
    /// How the log compares with an earlier checkpoint.
    public enum CheckpointResult: String, Sendable, Codable {
        /// Every event up to the checkpoint's is as it was.
        case holds
        /// Some event up to the checkpoint's was edited, removed or re-hashed since.
        case differs
        /// Retention removed scenarios since the checkpoint was taken; it cannot be checked.
        case prunedSince = "pruned_since"
    }

    public var scenariosChecked: Int
    public var eventsChecked: Int
    /// The first problem, in scenario then event order; nil when every chain holds.
    public var firstBreak: ChainBreak?
    /// SHA-256 over every scenario's head hash in id order. It changes whenever the log grows;
    /// `checkpoint` is what to keep.
    public var digest: String
    /// The log as it stands now, to keep elsewhere and check later (`ChainCheckpoint`).
    public var checkpoint: ChainCheckpoint
    /// Against the checkpoint given to the verification, if one was.
    public var checkpointResult: CheckpointResult?

    /// Every chain holds, and so does the checkpoint given (if one was and it can be checked).
    public var isIntact: Bool { firstBreak == nil && checkpointResult != .differs }

    public init(
        scenariosChecked: Int, eventsChecked: Int, firstBreak: ChainBreak?, digest: String, checkpoint: ChainCheckpoint,
        checkpointResult: CheckpointResult? = nil
    ) {
        self.scenariosChecked = scenariosChecked
        self.eventsChecked = eventsChecked
        self.firstBreak = firstBreak
        self.digest = digest
        self.checkpoint = checkpoint
        self.checkpointResult = checkpointResult
    }

    enum CodingKeys: String, CodingKey {
        case scenariosChecked = "scenarios_checked", eventsChecked = "events_checked", firstBreak = "first_break", digest
        case checkpoint, checkpointResult = "checkpoint_result"
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
        /// The alert an alert event records is not as it was: its row's content no longer has
        /// the digest the event recorded (`AlertDigest`); its row was edited.
        case alertAltered = "alert_altered"
        /// The alert an alert event records (with a digest) is not among its scenario's
        /// alerts: its row was removed, or moved to another scenario.
        case alertRemoved = "alert_removed"
        /// The scenario's stored columns (status, who acknowledged it, occurrences, …) are not
        /// what its events make of the alert that opened it (`ScenarioReplay`): its row was edited.
        case scenarioAltered = "scenario_altered"
    }

    public var scenarioID: Int64
    /// The event at which the chain breaks (nil for a removed scenario or removed newest events).
    public var eventID: Int64?
    public var reason: Reason
    /// The alert the event records, for `alertAltered` and `alertRemoved`.
    public var alertID: Int64?
    /// The columns that differ from the replay of the events, for `scenarioAltered`.
    public var columns: [String]?

    public init(scenarioID: Int64, eventID: Int64?, reason: Reason, alertID: Int64? = nil, columns: [String]? = nil) {
        self.scenarioID = scenarioID
        self.eventID = eventID
        self.reason = reason
        self.alertID = alertID
        self.columns = columns
    }

    public var description: String {
        switch reason {
        case .eventAltered:
            "scenario #\(scenarioID), event \(eventID.map(String.init) ?? "?"): its hash does not match its contents and the event before it (edited, or an earlier event was removed or edited)"
        case .eventsRemoved:
            "scenario #\(scenarioID): its newest events were removed (the recorded head hash matches no event)"
        case .scenarioRemoved:
            "scenario #\(scenarioID) was removed (it is missing and was not pruned by retention)"
        case .alertAltered:
            "scenario #\(scenarioID), event \(eventID.map(String.init) ?? "?"): its alert \(alertID.map(String.init) ?? "?") is not as the event recorded it (the alert's stored row was edited: its labels, details, host, check, summary or another field)"
        case .alertRemoved:
            "scenario #\(scenarioID), event \(eventID.map(String.init) ?? "?"): its alert \(alertID.map(String.init) ?? "?") is missing from the scenario (the alert's row was removed or moved to another scenario)"
        case .scenarioAltered:
            "scenario #\(scenarioID): its \((columns ?? []).joined(separator: ", ")) \((columns?.count ?? 0) == 1 ? "is" : "are") not what its events make of the alert that opened it (the scenario's stored row was edited)"
        }
    }

    enum CodingKeys: String, CodingKey {
        case scenarioID = "scenario_id", eventID = "event_id", reason, alertID = "alert_id", columns
    }
}

/// Checks chains as a store reads them: scenario by scenario in id order, each scenario's
/// events in id order. Stores feed it rows; it keeps the first break and the counts.
public struct ChainVerifier: Sendable {
    public private(set) var scenariosChecked = 0
    public private(set) var eventsChecked = 0
    public private(set) var firstBreak: ChainBreak?
    private var heads = DigestFold()
    /// For the checkpoint of now: each scenario's newest event.
    private var newest = DigestFold()
    /// For the checkpoint given: each scenario's newest event up to its event id.
    private var upToGiven = DigestFold()
    private var lastEventID: Int64 = 0
    private var expectedNextID: Int64 = 1
    private let prunedBelow: Int64
    private let given: ChainCheckpoint?

    /// `prunedBelow`: scenario ids below it may be missing (retention removed scenarios up to
    /// just below it; a removal below that mark is not told apart from retention's).
    /// `checkpoint`: an earlier checkpoint to compare the log with.
    public init(prunedBelow: Int64 = 0, against checkpoint: ChainCheckpoint? = nil) {
        self.prunedBelow = prunedBelow
        self.given = checkpoint
    }

    /// One scenario: its id, its recorded head, and its events (oldest first) as stored.
    /// `alert` gives the scenario's alert row with an id, as stored now, or nil when the scenario
    /// has no such alert: each alert event that recorded a digest is checked against the row's
    /// `AlertDigest` (events from before digests are not). With `columns` (the scenario's row as
    /// stored), the columns are checked against the replay of the events (`ScenarioReplay`) while
    /// nothing else is broken.
    public mutating func check(
        scenarioID: Int64, head: String?, events: [StoredEvent], alert: (Int64) -> AlertRow?,
        columns: StoredScenarioColumns? = nil
    ) {
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
            if firstBreak == nil, Self.alertKinds.contains(event.kind),
               let recorded = AlertFacts.recordedDigest(in: event.data) {
                switch alert(recorded.alertID).map({ AlertDigest.hex(of: $0) }) {
                case nil:
                    firstBreak = ChainBreak(scenarioID: scenarioID, eventID: event.id, reason: .alertRemoved, alertID: recorded.alertID)
                case let digest? where digest != recorded.digest:
                    firstBreak = ChainBreak(scenarioID: scenarioID, eventID: event.id, reason: .alertAltered, alertID: recorded.alertID)
                default:
                    break
                }
            }
            previous = event.hash
        }
        if previous != head, firstBreak == nil {
            firstBreak = ChainBreak(scenarioID: scenarioID, eventID: nil, reason: .eventsRemoved)
        }
        if firstBreak == nil, let columns,
           let differing = ScenarioReplay.differences(stored: columns, scenarioID: scenarioID, events: events, alert: alert),
           !differing.isEmpty {
            firstBreak = ChainBreak(scenarioID: scenarioID, eventID: nil, reason: .scenarioAltered, columns: differing)
        }
        heads.add(head ?? "")
        if let last = events.last {
            lastEventID = max(lastEventID, last.id)
            newest.add("\(scenarioID):\(last.hash ?? "")")
        }
        if let given, let upTo = events.last(where: { $0.id <= given.lastEventID }) {
            upToGiven.add("\(scenarioID):\(upTo.hash ?? "")")
        }
    }

    /// The kinds whose payload is `AlertFacts`.
    private static let alertKinds: Set<String> = [
        EventKind.alertFired.rawValue, EventKind.alertRepeated.rawValue, EventKind.alertResolved.rawValue,
    ]

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
        let result = given.map { given -> ChainReport.CheckpointResult in
            if prunedBelow > given.prunedBelow { return .prunedSince }
            return prunedBelow == given.prunedBelow && upToGiven.hex == given.digest ? .holds : .differs
        }
        return ChainReport(
            scenariosChecked: scenariosChecked, eventsChecked: eventsChecked, firstBreak: firstBreak, digest: heads.hex,
            checkpoint: ChainCheckpoint(lastEventID: lastEventID, prunedBelow: prunedBelow, digest: newest.hex),
            checkpointResult: result)
    }

    /// SHA-256 over lines added one at a time, in flat memory over millions of them: past 1 MiB
    /// the buffer is replaced by its own digest, which the next lines follow.
    struct DigestFold: Sendable {
        private var buffer: [UInt8] = []

        mutating func add(_ line: String) {
            buffer.append(contentsOf: line.utf8)
            buffer.append(0x0A)
            if buffer.count > 1 << 20 { buffer = Array(Hex.string(Digest.sha256(buffer)).utf8) }
        }

        var hex: String { Hex.string(Digest.sha256(buffer)) }
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
