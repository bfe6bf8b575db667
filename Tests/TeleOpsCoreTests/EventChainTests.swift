import Foundation
import TeleOpsCore
import Testing

/// The chain's hash input is fixed: every store written so far holds hashes of this form, and
/// `teleops scenarios verify` must keep reading them. The expected values are SHA-256 of the
/// documented input, computed outside Swift.
@Suite struct EventChainTests {
    @Test func theHashOfAKnownEventIsStable() {
        let at = Date(timeIntervalSince1970: 1_750_000_000.123)
        #expect(EventChain.hash(previous: nil, scenarioID: 42, at: at, actor: "José", kind: "alert_fired",
                                data: Array(#"{"alert_id":7}"#.utf8))
                == "ba8276e6f01583336c7f42f37698ffc9cc7ccf1ffecc61fb8ebfd98a87ac0afd")
        #expect(EventChain.hash(previous: "ab12", scenarioID: 42, at: at, actor: "José", kind: "note", data: Array("{}".utf8))
                == "01af6aed879fe2e4fa3a85bf93b137ab163dc2eb8524e6ebec0243326a9cfe5e")
    }

    @Test func hexIsLowerCaseAndReadsBack() {
        let bytes: [UInt8] = [0x00, 0x0f, 0xa5, 0xff, 0x10]
        #expect(Hex.string(bytes) == "000fa5ff10")
        #expect(Hex.bytes(Hex.string(bytes)) == bytes)
        #expect(Hex.string([]) == "")
    }
}

/// An alert's digest is fixed as the chain's hash is: events hold digests of this form.
@Suite struct AlertDigestTests {
    static let at = Date(timeIntervalSince1970: 1_750_000_000.123_456)

    static func alert() -> Alert {
        Alert(source: "generic", host: "web-1", check: "disk", severity: .critical, status: .firing, summary: "/var is 95% full",
              labels: ["team": "ops", "instance": "web-1:9100"], details: ["used_pct": 95, "mount": "/var"],
              idempotencyKey: "d-1", receivedAt: at)
    }

    /// The expected values are SHA-256 of the documented input, computed outside Swift.
    @Test func theDigestOfAKnownAlertIsStable() {
        #expect(AlertDigest.hex(of: Self.alert()) == "a868e4132c5e69f99c8073f73cc7cbc3d45b4a08e42d5cb1d8004124e3fcae47")
        let bare = Alert(source: "generic", host: "web-1", check: "disk", severity: .info, status: .resolved, summary: "ok",
                         receivedAt: Self.at)
        #expect(AlertDigest.hex(of: bare) == "3b2029a99ad5be72c475c74eee39ddfad61c300ff4e7295a0c7f701575f9771d")
    }

    /// What verify recomputes from a stored row is what intake recorded from the alert, also
    /// after the row's JSON is read back and written again (key order, numbers, escapes).
    @Test func theStoredRowHasTheAlertsDigest() throws {
        var alert = Self.alert()
        alert.labels = ["z": "1", "a": "x\n\"q\"", "é": "🔥", "A": ""]
        alert.details = ["b": [1, 0.1, -0.0, 1e20, nil, true, "\u{1}/\\"], "a": ["y": 2, "x": [:]], "": .null]
        let digest = AlertDigest.hex(of: alert)
        let row = AlertRow(alert)
        #expect(AlertDigest.hex(of: row) == digest)
        #expect(row.labels == JSONValue.object(alert.labels.mapValues(JSONValue.string)).compactJSON)
        #expect(row.receivedAtMilliseconds == 1_750_000_000_123)
        var readBack = alert
        readBack.receivedAt = alert.receivedAt.truncatedToMilliseconds
        readBack.details = try JSONParser.parse(Data(row.details!.utf8))
        #expect(AlertDigest.hex(of: readBack) == digest)
    }

    @Test func everyFieldIsCovered() {
        let base = Self.alert()
        let edits: [(String, (inout Alert) -> Void)] = [
            ("source", { $0.source = "other" }), ("host", { $0.host = "web-2" }), ("check", { $0.check = "cpu" }),
            ("severity", { $0.severity = .info }), ("status", { $0.status = .resolved }), ("summary", { $0.summary += "!" }),
            ("a label", { $0.labels["team"] = "dev" }), ("a label added", { $0.labels["x"] = "" }), ("no labels", { $0.labels = [:] }),
            ("details", { $0.details = ["used_pct": 96, "mount": "/var"] }), ("no details", { $0.details = nil }),
            ("null details", { $0.details = .null }), ("fingerprint", { $0.fingerprint = "f" }),
            ("no key", { $0.idempotencyKey = nil }), ("empty key", { $0.idempotencyKey = "" }),
            ("a millisecond later", { $0.receivedAt += 0.001 }),
            // Fields run into each other without the length prefixes.
            ("a byte moved between fields", { $0.source = "generi"; $0.host = "cweb-1" }),
        ]
        var seen = [AlertDigest.hex(of: base)]
        for (name, edit) in edits {
            var alert = base
            edit(&alert)
            let digest = AlertDigest.hex(of: alert)
            #expect(!seen.contains(digest), "\(name)")
            seen.append(digest)
        }
        var later = base
        later.receivedAt += 0.000_4
        #expect(AlertDigest.hex(of: later) == seen[0], "under a millisecond: the store keeps milliseconds")
    }
}

/// `ChainVerifier` checks each alert event that recorded a digest against its alert as stored.
@Suite struct ChainVerifierAlertTests {
    /// A chain of `bodies` on scenario 1, events 1…n, hashed as a store does.
    static func chain(_ bodies: [EventBody]) throws -> [ChainVerifier.StoredEvent] {
        try chain(data: bodies.map { (try $0.jsonData(), $0.kind.rawValue) })
    }

    static func chain(data: [(Data, String)]) throws -> [ChainVerifier.StoredEvent] {
        var previous: String?
        var events: [ChainVerifier.StoredEvent] = []
        for (index, (data, kind)) in data.enumerated() {
            let at = Date(millisecondsSince1970: 1_750_000_000_000 + Int64(index))
            let hash = EventChain.hash(previous: previous, scenarioID: 1, at: at, actor: "generic", kind: kind, data: data)
            events.append(ChainVerifier.StoredEvent(id: Int64(index + 1), at: at, actor: "generic", kind: kind,
                                                    data: Array(data), hash: hash))
            previous = hash
        }
        return events
    }

    static func firstBreak(_ events: [ChainVerifier.StoredEvent], alerts: [Int64: Alert]) -> ChainBreak? {
        var verifier = ChainVerifier()
        verifier.check(scenarioID: 1, head: events.last?.hash, events: events, alert: { alerts[$0].map(AlertRow.init) })
        verifier.finish(lastAllocatedID: 1)
        return verifier.report.firstBreak
    }

    static func facts(_ id: Int64, _ alert: Alert, digest: Bool = true) -> AlertFacts {
        AlertFacts(alertID: id, source: alert.source, severity: alert.severity, summary: alert.summary,
                   alertDigest: digest ? AlertDigest.hex(of: alert) : nil)
    }

    @Test func anEditedAlertIsNamedAndAnUntouchedOneHolds() throws {
        let fired = AlertDigestTests.alert()
        var resolved = fired
        resolved.status = .resolved
        let events = try Self.chain([.alertFired(Self.facts(7, fired)), .acknowledged, .alertResolved(Self.facts(9, resolved))])
        #expect(Self.firstBreak(events, alerts: [7: fired, 9: resolved]) == nil)

        var edited = fired
        edited.labels["team"] = "nobody"
        let found = Self.firstBreak(events, alerts: [7: edited, 9: resolved])
        #expect(found == ChainBreak(scenarioID: 1, eventID: 1, reason: .alertAltered, alertID: 7))
        #expect(found?.description.hasPrefix("scenario #1, event 1: its alert 7 is not as the event recorded it") == true)
        var later = resolved
        later.details = nil
        #expect(Self.firstBreak(events, alerts: [7: fired, 9: later]) == ChainBreak(scenarioID: 1, eventID: 3, reason: .alertAltered, alertID: 9))
    }

    @Test func aMissingAlertIsNamed() throws {
        let fired = AlertDigestTests.alert()
        let events = try Self.chain([.alertFired(Self.facts(7, fired))])
        let found = Self.firstBreak(events, alerts: [8: fired])
        #expect(found == ChainBreak(scenarioID: 1, eventID: 1, reason: .alertRemoved, alertID: 7))
        #expect(found?.description.contains("its alert 7 is missing from the scenario") == true)
    }

    /// Events written before digests were recorded are not checked against their alert.
    @Test func anEventWithoutADigestIsNotChecked() throws {
        let fired = AlertDigestTests.alert()
        let events = try Self.chain([.alertFired(Self.facts(7, fired, digest: false)), .alertRepeated(Self.facts(8, fired, digest: false))])
        #expect(!String(decoding: events[0].data, as: UTF8.self).contains("digest"))
        #expect(Self.firstBreak(events, alerts: [:]) == nil)
    }

    /// A payload in another layout than the store writes (keys unsorted, spaces) is decoded.
    @Test func aDigestInAnotherLayoutIsStillChecked() throws {
        let fired = AlertDigestTests.alert()
        let digest = AlertDigest.hex(of: fired)
        let text = #"{ "alert_id": 7, "summary": "s", "source": "generic", "severity": "critical", "alert_digest": "\#(digest)" }"#
        let events = try Self.chain(data: [(Data(text.utf8), "alert_fired")])
        #expect(Self.firstBreak(events, alerts: [7: fired]) == nil)
        var edited = fired
        edited.host = "web-9"
        #expect(Self.firstBreak(events, alerts: [7: edited]) == ChainBreak(scenarioID: 1, eventID: 1, reason: .alertAltered, alertID: 7))
        // A summary that merely says "alert_digest" records none.
        let note = try Self.chain([.alertFired(AlertFacts(alertID: 7, source: "g", severity: .info, summary: "alert_digest"))])
        #expect(Self.firstBreak(note, alerts: [:]) == nil)
    }

    /// An edited event is reported as such, not as its alert.
    @Test func anAlteredEventComesFirst() throws {
        let fired = AlertDigestTests.alert()
        var events = try Self.chain([.alertFired(Self.facts(7, fired))])
        events[0].actor = "mallory"
        #expect(Self.firstBreak(events, alerts: [:]) == ChainBreak(scenarioID: 1, eventID: 1, reason: .eventAltered))
    }

    @Test func theBreakEncodesItsAlert() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(ChainBreak(scenarioID: 2, eventID: 5, reason: .alertAltered, alertID: 4)), as: UTF8.self)
        #expect(text == #"{"alert_id":4,"event_id":5,"reason":"alert_altered","scenario_id":2}"#)
        let plain = String(decoding: try encoder.encode(ChainBreak(scenarioID: 2, eventID: 5, reason: .eventAltered)), as: UTF8.self)
        #expect(plain == #"{"event_id":5,"reason":"event_altered","scenario_id":2}"#)
    }
}
