import Foundation
import TeleOpsTesting
import Testing
@testable import TeleOpsCore

@Suite struct PagerDutyAlertDecoderTests {
    let decoder = PagerDutyAlertDecoder()
    /// 2026-08-01T16:00:00Z.
    let now = Date(timeIntervalSince1970: 1_785_600_000)
    static let sampleRoutingKey = "e93facc04764012d7bfb002500d5d1a6"

    func event(_ body: String) throws -> PagerDutyEvent {
        try decoder.decodeEvent(Data(body.utf8), receivedAt: now)
    }

    func event(_ body: JSONValue) throws -> PagerDutyEvent {
        try decoder.decodeEvent(JSONEncoder().encode(body), receivedAt: now)
    }

    /// A trigger like the reference sample, with `changes` applied to its payload.
    func trigger(dedupKey: String? = "srv01/mysql", payload changes: [String: JSONValue] = [:]) -> JSONValue {
        var payload: [String: JSONValue] = [
            "summary": "DISK at 99% on machine prod-datapipe03.example.com", "source": "prod-datapipe03.example.com",
            "severity": "critical", "component": "mysql",
        ]
        payload.merge(changes) { _, new in new }
        var body: [String: JSONValue] = [
            "routing_key": .string(Self.sampleRoutingKey), "event_action": "trigger", "payload": .object(payload),
        ]
        body["dedup_key"] = dedupKey.map(JSONValue.string)
        return .object(body)
    }

    // MARK: Reference samples

    @Test func decodesTheReferenceTrigger() throws {
        let event = try decoder.decodeEvent(Fixtures.data("alerts/pagerduty-enqueue-trigger.json"), receivedAt: now)
        #expect(event.routingKey == Self.sampleRoutingKey)
        #expect(event.dedupKey == "srv01/mysql")
        let alert = event.alert
        #expect(alert.source == "pagerduty")
        #expect(alert.host == "prod-datapipe03.example.com")
        #expect(alert.check == "mysql")
        #expect(alert.severity == .critical)
        #expect(alert.status == .firing)
        #expect(alert.summary == "DISK at 99% on machine prod-datapipe03.example.com")
        #expect(alert.fingerprint == "pagerduty|\(Alert.digest([Self.sampleRoutingKey]))|srv01/mysql")
        #expect(alert.labels == ["component": "mysql", "group": "prod-datapipe", "class": "disk"])
        #expect(alert.receivedAt == now)
        let details = try #require(alert.details)
        #expect(details["custom_details"] == ["free space": "1%", "ping time": "1500ms", "load avg": 0.75])
        #expect(details["client"] == "Sample Monitoring Service")
        #expect(details["client_url"] == "https://monitoring.service.com")
        #expect(details["links"] == [["href": "http://pagerduty.example.com", "text": "An example link."]])
        guard case .array(let images)? = details["images"] else { Issue.record("no images"); return }
        #expect(images.first?["alt"] == "An example link with an image")
        #expect(details["timestamp"] == "2015-07-17T08:42:58.315+0000")
        #expect(details["dedup_key"] == "srv01/mysql")
        #expect(details["event_action"] == "trigger")
        #expect(details["routing_key_digest"] == .string(Alert.digest([Self.sampleRoutingKey])))
        #expect(alert.idempotencyKey?.hasPrefix("pagerduty|") == true)
        #expect(try decoder.decode(Fixtures.data("alerts/pagerduty-enqueue-trigger.json"), receivedAt: now) == [alert])
    }

    @Test(arguments: [("pagerduty-enqueue-acknowledge.json", AlertStatus.acknowledged, "acknowledged"),
                      ("pagerduty-enqueue-resolve.json", .resolved, "resolved")])
    func decodesTheReferenceAcknowledgeAndResolve(file: String, status: AlertStatus, word: String) throws {
        let event = try decoder.decodeEvent(Fixtures.data("alerts/\(file)"), receivedAt: now)
        #expect(event.routingKey == "routingkeyhere")
        #expect(event.dedupKey == "dedupkeyhere")
        let alert = event.alert
        #expect(alert.status == status)
        #expect(alert.host == "")
        #expect(alert.check == "")
        #expect(alert.severity == .info)
        #expect(alert.summary == "\(word) via PagerDuty (dedup_key dedupkeyhere)")
        #expect(alert.fingerprint == "pagerduty|\(Alert.digest(["routingkeyhere"]))|dedupkeyhere")
        #expect(alert.labels == [:])
        #expect(alert.details == [
            "event_action": .string(status == .acknowledged ? "acknowledge" : "resolve"),
            "dedup_key": "dedupkeyhere", "routing_key_digest": .string(Alert.digest(["routingkeyhere"])),
        ])
    }

    @Test func aResolveFindsTheTriggersFingerprint() throws {
        let fired = try event(trigger())
        let resolved = try event(
            #"{"routing_key":"\#(Self.sampleRoutingKey)","dedup_key":"srv01/mysql","event_action":"resolve"}"#)
        #expect(fired.alert.fingerprint == resolved.alert.fingerprint)
        // Another integration key is another alert, as on PagerDuty.
        let other = try event(#"{"routing_key":"other","dedup_key":"srv01/mysql","event_action":"resolve"}"#)
        #expect(other.alert.fingerprint != fired.alert.fingerprint)
    }

    @Test func theResponseSamplesAreNotEvents() throws {
        for file in ["pagerduty-202-response.json", "pagerduty-error-response.json"] {
            #expect(throws: AlertDecodeError(field: "routing_key", message: "is required")) {
                try decoder.decodeEvent(Fixtures.data("alerts/\(file)"), receivedAt: now)
            }
        }
    }

    // MARK: Variants

    @Test func aTriggerWithoutDedupKeyGetsAGeneratedOne() throws {
        let first = try event(trigger(dedupKey: nil))
        let second = try event(trigger(dedupKey: nil))
        let other = try event(trigger(dedupKey: nil, payload: ["summary": "DISK at 100%"]))
        #expect(first.dedupKey.hasPrefix("teleops-"))
        // A retry is answered with the same key; another event gets another.
        #expect(first.dedupKey == second.dedupKey)
        #expect(first.dedupKey != other.dedupKey)
        #expect(first.alert.fingerprint == "pagerduty|\(Alert.digest([Self.sampleRoutingKey]))|\(first.dedupKey)")
        #expect(first.alert.details?["dedup_key"] == .string(first.dedupKey))
        // The key still comes from the content: the same event sent twice has the same one.
        #expect(first.alert.idempotencyKey == second.alert.idempotencyKey)
        // An empty dedup_key is no dedup_key.
        #expect(try event(trigger(dedupKey: "")).dedupKey == first.dedupKey)
    }

    @Test func theCheckIsTheComponentElseClassElseGroup() throws {
        #expect(try event(trigger(payload: ["class": "disk", "group": "prod"])).alert.check == "mysql")
        #expect(try event(trigger(payload: ["component": nil, "class": "disk", "group": "prod"])).alert.check == "disk")
        #expect(try event(trigger(payload: ["component": nil, "group": "prod"])).alert.check == "prod")
        let bare = try event(trigger(payload: ["component": nil]))
        #expect(bare.alert.check == "event")
        #expect(bare.alert.labels == [:])
    }

    @Test(arguments: [("critical", Severity.critical), ("error", .error), ("warning", .warning), ("info", .info)])
    func readsTheSeverity(text: String, severity: Severity) throws {
        #expect(try event(trigger(payload: ["severity": .string(text)])).alert.severity == severity)
    }

    @Test(arguments: ["2015-07-17T08:42:58.315+0000", "2015-07-17T08:42:58Z", "2026-08-01T18:00:00+02:00"])
    func acceptsISO8601Timestamps(text: String) throws {
        #expect(try event(trigger(payload: ["timestamp": .string(text)])).alert.details?["timestamp"] == .string(text))
    }

    @Test func readsAMinimalTrigger() throws {
        let body = #"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"}}"#
        let alert = try event(body).alert
        #expect(alert.host == "h")
        #expect(alert.check == "event")
        #expect(alert.details?["timestamp"] == nil)
        #expect(alert.details?["custom_details"] == nil)
    }

    @Test func readsUnicode() throws {
        let alert = try event(trigger(dedupKey: "диск/東京", payload: [
            "summary": "Диск заполнен 💥 на сервере", "source": "сервер-1", "component": "хранилище",
        ])).alert
        #expect(alert.summary == "Диск заполнен 💥 на сервере")
        #expect(alert.host == "сервер-1")
        #expect(alert.check == "хранилище")
        #expect(alert.fingerprint.hasSuffix("|диск/東京"))
    }

    @Test func aSummaryOfExactlyTheLimitIsAccepted() throws {
        let summary = String(repeating: "é", count: PagerDutyAlertDecoder.maxSummaryLength)
        #expect(try event(trigger(payload: ["summary": .string(summary)])).alert.summary == summary)
    }

    // MARK: Idempotency and the routing key

    @Test func aRetryHasTheSameKeyAndAChangeDoesNot() throws {
        let body = try Fixtures.data("alerts/pagerduty-enqueue-trigger.json")
        let key = try #require(try decoder.decodeEvent(body, receivedAt: now).alert.idempotencyKey)
        #expect(try decoder.decodeEvent(body, receivedAt: now.addingTimeInterval(30)).alert.idempotencyKey == key)

        // The same event with its keys in another order and other spacing is the same event.
        let reordered = try JSONEncoder().encode(JSONBody.parse(body))
        #expect(try decoder.decodeEvent(reordered, receivedAt: now).alert.idempotencyKey == key)

        var changes: [(String, String)] = []
        for (name, from, to) in [
            ("summary", "DISK at 99%", "DISK at 98%"), ("custom details", "\"1%\"", "\"2%\""),
            ("dedup key", "srv01/mysql", "srv02/mysql"), ("action", "\"trigger\"", "\"resolve\""),
            ("routing key", Self.sampleRoutingKey, "f93facc04764012d7bfb002500d5d1a6"),
            ("link", "An example link.", "Another link."), ("client", "Sample Monitoring", "Other Monitoring"),
        ] {
            let text = String(decoding: body, as: UTF8.self)
            #expect(text.contains(from), "\(name)")
            let changed = try decoder.decodeEvent(Data(text.replacingOccurrences(of: from, with: to).utf8), receivedAt: now)
            changes.append((name, try #require(changed.alert.idempotencyKey)))
        }
        for (name, changedKey) in changes {
            #expect(changedKey != key, "changed \(name)")
        }
        #expect(Set(changes.map(\.1)).count == changes.count)
    }

    @Test func anAcknowledgeAndAResolveOfOneAlertHaveDifferentKeys() throws {
        let acknowledge = try decoder.decodeEvent(Fixtures.data("alerts/pagerduty-enqueue-acknowledge.json"), receivedAt: now)
        let resolve = try decoder.decodeEvent(Fixtures.data("alerts/pagerduty-enqueue-resolve.json"), receivedAt: now)
        #expect(acknowledge.alert.idempotencyKey != resolve.alert.idempotencyKey)
        #expect(acknowledge.alert.fingerprint == resolve.alert.fingerprint)
    }

    @Test func theRoutingKeyIsNeverInTheAlert() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bodies = try [
            Fixtures.data("alerts/pagerduty-enqueue-trigger.json"),
            Fixtures.data("alerts/pagerduty-enqueue-acknowledge.json"),
            Fixtures.data("alerts/pagerduty-enqueue-resolve.json"),
            JSONEncoder().encode(trigger(dedupKey: nil)),
        ]
        for body in bodies {
            let event = try decoder.decodeEvent(body, receivedAt: now)
            let text = String(decoding: try encoder.encode(event.alert), as: UTF8.self)
            #expect(!text.contains(event.routingKey))
            #expect(!event.alert.fingerprint.contains(event.routingKey))
            #expect(!event.description.contains(event.routingKey))
            #expect(!"\(event)".contains(event.routingKey))
        }
    }

    // MARK: Errors

    @Test(arguments: [
        (#"{"routing_key":"#, "", "not valid JSON"),
        (#"[{"routing_key":"k"}]"#, "", "expected a PagerDuty event object, found array"),
        (#"{"event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"}}"#, "routing_key", "is required"),
        (#"{"routing_key":"","event_action":"resolve","dedup_key":"d"}"#, "routing_key", "must not be empty"),
        (#"{"routing_key":42,"event_action":"resolve","dedup_key":"d"}"#, "routing_key", "expected a string, found number"),
        (#"{"routing_key":"\#(String(repeating: "k", count: 65))","event_action":"resolve","dedup_key":"d"}"#, "routing_key", "is longer than 64 characters"),
        (#"{"routing_key":"k","dedup_key":"d"}"#, "event_action", "is required (one of: trigger, acknowledge, resolve)"),
        (#"{"routing_key":"k","event_action":"page","dedup_key":"d"}"#, "event_action", "'page' is not one of: trigger, acknowledge, resolve"),
        (#"{"routing_key":"k","event_action":"Resolve","dedup_key":"d"}"#, "event_action", "'Resolve' is not one of"),
        (#"{"routing_key":"k","event_action":"acknowledge"}"#, "dedup_key", "is required for acknowledge events"),
        (#"{"routing_key":"k","event_action":"resolve","dedup_key":" "}"#, "dedup_key", "is required for resolve events"),
        (#"{"routing_key":"k","event_action":"resolve","dedup_key":7}"#, "dedup_key", "expected a string, found number"),
        (#"{"routing_key":"k","event_action":"resolve","dedup_key":"\#(String(repeating: "d", count: 256))"}"#, "dedup_key", "is longer than 255 characters"),
        (#"{"routing_key":"k","event_action":"trigger"}"#, "payload", "is required"),
        (#"{"routing_key":"k","event_action":"trigger","payload":"disk full"}"#, "payload", "expected an object, found string"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"source":"h","severity":"info"}}"#, "payload.summary", "is required"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"\#(String(repeating: "s", count: 1025))","source":"h","severity":"info"}}"#, "payload.summary", "is longer than 1024 characters"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","severity":"info"}}"#, "payload.source", "is required"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h"}}"#, "payload.severity", "is required (one of: critical, error, warning, info)"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"high"}}"#, "payload.severity", "'high' is not one of: critical, error, warning, info"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info","timestamp":"yesterday"}}"#, "payload.timestamp", "is not an RFC 3339 time"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info","timestamp":"1970-01-02T00:00:00Z"}}"#, "payload.timestamp", "is before 2000-01-01"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info","component":3}}"#, "payload.component", "expected a string"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"},"client":{}}"#, "client", "expected a string, found object"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"},"links":{}}"#, "links", "expected an array"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"},"links":[{"text":"t"}]}"#, "links[0].href", "is required"),
        (#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"},"images":[{"src":"https://a"},{"src":5}]}"#, "images[1].src", "expected a string, found number"),
    ])
    func namesTheFieldThatIsWrong(body: String, field: String, message: String) {
        #expect {
            try decoder.decodeEvent(Data(body.utf8), receivedAt: now)
        } throws: { error in
            guard let error = error as? AlertDecodeError else { return false }
            return error.field == field && error.message.contains(message)
        }
    }

    @Test func errorsNeverQuoteTheRoutingKey() throws {
        let key = Self.sampleRoutingKey
        for body in [
            #"{"routing_key":"\#(key)\#(key)\#(key)","event_action":"trigger"}"#,
            #"{"routing_key":"\#(key)","event_action":"resolve"}"#,
            #"{"routing_key":"\#(key)","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"high"}}"#,
        ] {
            do {
                _ = try decoder.decodeEvent(Data(body.utf8), receivedAt: now)
                Issue.record("accepted \(body)")
            } catch {
                #expect(!error.description.contains(key), "\(error)")
            }
        }
    }

    @Test func rejectsABodyOverPagerDutysLimit() throws {
        let details = String(repeating: "x", count: PagerDutyAlertDecoder.maxBodyBytes)
        let body = try JSONEncoder().encode(trigger(payload: ["custom_details": .string(details)]))
        #expect(throws: AlertDecodeError(
            field: "", message: "the event is larger than PagerDuty's limit of 512 KB (524288 bytes)", kind: .tooLarge)) {
            try decoder.decodeEvent(body, receivedAt: now)
        }
    }
}
