import Foundation
import Testing
import TeleOpsTesting
@testable import TeleOpsCore

/// JSON bytes for a body written as a `JSONValue` literal.
func jsonBody(_ value: JSONValue) throws -> Data {
    try JSONEncoder().encode(value)
}

func time(_ text: String) -> Date {
    RFC3339.parse(text)!
}

/// Whether decoding `body` fails with an error at `field` whose message contains `message`.
func fails(
    _ decoder: any AlertDecoder, _ body: Data, field: String, message: String, receivedAt: Date
) -> Bool {
    do {
        _ = try decoder.decode(body, receivedAt: receivedAt)
        return false
    } catch {
        return error.field == field && error.message.contains(message)
    }
}

/// One webhook alert object, with the fields tests most often change.
func webhookAlert(
    status: String = "firing", labels: JSONValue = ["alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"],
    annotations: JSONValue? = ["summary": "Disk almost full on db1"], startsAt: String = "2026-08-01T10:00:00Z",
    endsAt: String = "0001-01-01T00:00:00Z", fingerprint: String? = nil
) -> JSONValue {
    var object: [String: JSONValue] = ["status": .string(status), "labels": labels, "startsAt": .string(startsAt), "endsAt": .string(endsAt)]
    object["annotations"] = annotations
    object["fingerprint"] = fingerprint.map(JSONValue.string)
    return .object(object)
}

/// A webhook notification around `alerts`.
func webhookBody(_ alerts: [JSONValue], reason: String = "first notification", version: JSONValue = "4") throws -> Data {
    try jsonBody([
        "receiver": "oncall", "status": "firing", "alerts": .array(alerts), "notification_reason": .string(reason),
        "externalURL": "http://alertmanager:9093", "version": version, "groupKey": "{}:{alertname=\"DiskFull\"}",
        "truncatedAlerts": 0,
    ])
}

@Suite struct AlertmanagerWebhookDecoderTests {
    let decoder = AlertmanagerWebhookDecoder()
    let receivedAt = time("2026-08-01T11:00:00Z")

    @Test func decodesTheFiringSample() throws {
        let group = try decoder.decodeGroup(
            Fixtures.data("alerts/alertmanager-webhook-v0.34-firing.CONSTRUCTED.json"), receivedAt: receivedAt)
        #expect(group.truncatedAlerts == 0)
        #expect(group.receiver == "oncall-im")
        #expect(group.groupKey == #"{}/{severity="critical"}:{alertname="DiskFull"}"#)
        let alert = try #require(group.alerts.first)
        #expect(group.alerts.count == 1)
        #expect(alert.source == "alertmanager")
        #expect(alert.host == "db1")
        #expect(alert.check == "DiskFull")
        #expect(alert.severity == .critical)
        #expect(alert.status == .firing)
        #expect(alert.summary == "Disk almost full on db1")
        #expect(alert.fingerprint == "alertmanager|1a30ba71cca2921f")
        #expect(alert.idempotencyKey == "alertmanager|1a30ba71cca2921f|firing|2026-08-01T10:00:00.123456789Z")
        #expect(alert.labels == ["alertname": "DiskFull", "instance": "db1:9100", "job": "node", "severity": "critical"])
        #expect(alert.receivedAt == receivedAt)
        #expect(alert.details == [
            "annotations": ["description": "/var is 95% full", "summary": "Disk almost full on db1"],
            "startsAt": "2026-08-01T10:00:00.123456789Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=disk_used_pct+%3E+90&g0.tab=1",
            "fingerprint": "1a30ba71cca2921f",
            "receiver": "oncall-im",
            "groupKey": #"{}/{severity="critical"}:{alertname="DiskFull"}"#,
            "externalURL": "http://alertmanager.example.org:9093",
            "notification_reason": "first notification",
            "truncatedAlerts": 0,
        ])
    }

    @Test func goEncodedBytesDecodeLikeThePrettyFile() throws {
        let raw = try Fixtures.data("alerts/alertmanager-webhook-v0.34-firing.CONSTRUCTED.raw-go-encoding.txt")
        #expect(raw.last == UInt8(ascii: "\n"))
        #expect(String(decoding: raw, as: UTF8.self).contains(#"\u0026"#))
        let pretty = try Fixtures.data("alerts/alertmanager-webhook-v0.34-firing.CONSTRUCTED.json")
        #expect(try decoder.decode(raw, receivedAt: receivedAt) == decoder.decode(pretty, receivedAt: receivedAt))
    }

    @Test func decodesTheResolvedSample() throws {
        let alerts = try decoder.decode(
            Fixtures.data("alerts/alertmanager-webhook-v0.34-resolved.CONSTRUCTED.json"), receivedAt: receivedAt)
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(alert.status == .resolved)
        #expect(alert.host == "db1")
        #expect(alert.check == "DiskFull")
        #expect(alert.severity == .critical)
        #expect(alert.summary == "Disk almost full on db1")
        #expect(alert.fingerprint == "alertmanager|1a30ba71cca2921f")
        #expect(alert.details?["endsAt"] == "2026-08-01T10:30:00.123456789Z")
        #expect(alert.details?["notification_reason"] == "all alerts resolved")
        #expect(alert.idempotencyKey
            == "alertmanager|1a30ba71cca2921f|resolved|2026-08-01T10:00:00.123456789Z|2026-08-01T10:30:00.123456789Z")
    }

    @Test func decodesTheOldAlertmanagerSampleWithoutFingerprint() throws {
        let alerts = try decoder.decode(
            Fixtures.data("alerts/alertmanager-webhook-gist-mobeigi.VERBATIM.json"), receivedAt: receivedAt)
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(alert.host == "localhost")
        #expect(alert.check == "Test")
        #expect(alert.severity == .warning)
        #expect(alert.status == .firing)
        #expect(alert.summary == "some description")
        let digest = Alert.digest(["alertname=Test", "dc=eu-west-1", "instance=localhost:9090", "job=prometheus24"])
        #expect(alert.fingerprint == "alertmanager|\(digest)")
        #expect(alert.idempotencyKey == "alertmanager|\(digest)|firing|2018-08-03T09:52:26.739266876+02:00")
        #expect(alert.details?["generatorURL"] == "http://example.com:9090/graph?g0.expr=go_memstats_alloc_bytes+%3E+0&g0.tab=1")
        #expect(alert.details?["fingerprint"] == nil)
        #expect(alert.details?["truncatedAlerts"] == nil)
    }

    @Test func exposesTruncatedAlerts() throws {
        var body = try JSONDecoder().decode(
            JSONValue.self, from: Fixtures.data("alerts/alertmanager-webhook-v0.34-firing.CONSTRUCTED.json"))
        if case .object(var root) = body {
            root["truncatedAlerts"] = 42
            body = .object(root)
        }
        let group = try decoder.decodeGroup(jsonBody(body), receivedAt: receivedAt)
        #expect(group.truncatedAlerts == 42)
        #expect(group.alerts.first?.details?["truncatedAlerts"] == 42)
    }

    @Test func decodesAThousandAlertsInOneGroup() throws {
        let alerts = (0..<1000).map { index in
            webhookAlert(
                status: index.isMultiple(of: 2) ? "firing" : "resolved",
                labels: ["alertname": "NodeDown", "instance": .string("node-\(index):9100")],
                endsAt: index.isMultiple(of: 2) ? "0001-01-01T00:00:00Z" : "2026-08-01T10:30:00Z")
        }
        let decoded = try decoder.decode(webhookBody(alerts), receivedAt: receivedAt)
        #expect(decoded.count == 1000)
        #expect(decoded[999].host == "node-999")
        #expect(decoded[999].status == .resolved)
        #expect(decoded[998].status == .firing)
        #expect(Set(decoded.map(\.fingerprint)).count == 1000)
        #expect(decoded[0].summary == "Disk almost full on db1")
    }

    @Test func rejectsMoreThanTenThousandAlerts() throws {
        // The count is checked before any alert is read, so empty objects do.
        let body = try webhookBody(Array(repeating: [:], count: AlertmanagerAlert.maxAlerts + 1))
        #expect(fails(decoder, body, field: "alerts", message: "holds 10001 alerts; at most 10000", receivedAt: receivedAt))
    }

    @Test func keepsUnicodeLabelsAndAnnotations() throws {
        let body = try webhookBody([webhookAlert(
            labels: ["alertname": "Диск полон", "host": "сервер-1", "équipe": "stockage 😀"],
            annotations: ["summary": "磁盘已满 🔥", "descripción": "¡lleno!"])])
        let alert = try #require(try decoder.decode(body, receivedAt: receivedAt).first)
        #expect(alert.check == "Диск полон")
        #expect(alert.host == "сервер-1")
        #expect(alert.summary == "磁盘已满 🔥")
        #expect(alert.labels["équipe"] == "stockage 😀")
        #expect(alert.details?["annotations"]?["descripción"] == "¡lleno!")
    }

    @Test func cutsALongSummaryAndRejectsAValueOverTheLimit() throws {
        let longest = String(repeating: "x", count: AlertmanagerAlert.maxValueBytes)
        let alert = try #require(try decoder.decode(
            webhookBody([webhookAlert(annotations: ["summary": .string(longest)])]), receivedAt: receivedAt).first)
        #expect(alert.summary.count == AlertmanagerAlert.maxSummaryLength)
        #expect(alert.summary.hasSuffix("x…"))
        #expect(alert.details?["annotations"]?["summary"] == .string(longest))

        // 8,193 characters, 16,386 bytes: the limit is in bytes.
        let tooLong = String(repeating: "é", count: AlertmanagerAlert.maxValueBytes / 2 + 1)
        let body = try webhookBody([webhookAlert(annotations: ["description": .string(tooLong)])])
        #expect(fails(
            decoder, body, field: "alerts[0].annotations.description", message: "16386 bytes long; at most 16384",
            receivedAt: receivedAt))
        let label = try webhookBody([webhookAlert(), webhookAlert(labels: ["alertname": "A", "team": .string(tooLong)])])
        #expect(fails(decoder, label, field: "alerts[1].labels.team", message: "at most 16384", receivedAt: receivedAt))
    }

    @Test func readsAnAlertWithoutOptionalFields() throws {
        let body = try jsonBody([
            "version": "4",
            "alerts": [["status": "firing", "labels": ["alertname": "NodeDown", "instance": "[2001:db8::7]:9100"],
                        "startsAt": "2026-08-01T10:00:00Z"]],
        ])
        let alert = try #require(try decoder.decode(body, receivedAt: receivedAt).first)
        #expect(alert.host == "2001:db8::7")
        #expect(alert.summary == "NodeDown on 2001:db8::7")
        #expect(alert.severity == .warning)
        #expect(alert.details == ["startsAt": "2026-08-01T10:00:00Z"])

        let bare = try jsonBody(["version": "4", "alerts": [["status": "resolved", "startsAt": "2026-08-01T10:00:00Z"]]])
        let unnamed = try #require(try decoder.decode(bare, receivedAt: receivedAt).first)
        #expect(unnamed.check == "unnamed")
        #expect(unnamed.host == "unknown")
        #expect(unnamed.summary == "unnamed on unknown")
        #expect(unnamed.fingerprint == "alertmanager|\(Alert.digest([]))")
    }

    @Test func ignoresUnknownFields() throws {
        let body = try jsonBody([
            "version": "4", "routeLabels": ["team": "db"], "somethingNew": [1, 2],
            "alerts": [["status": "firing", "labels": ["alertname": "A"], "startsAt": "2026-08-01T10:00:00Z", "extra": true]],
        ])
        #expect(try decoder.decode(body, receivedAt: receivedAt).count == 1)
    }

    @Test(arguments: [
        (#"{"version":"3","alerts":[]}"#, "version", "takes Alertmanager webhook version 4 payloads, found version '3'"),
        (#"{"version":"1","alerts":[]}"#, "version", "Grafana alerting payloads go to /v1/alerts/grafana"),
        (#"{"alerts":[]}"#, "version", "no version was sent"),
        (#"{"version":4,"alerts":[]}"#, "version", "expected a string, found number"),
        (#"[{"labels":{"alertname":"A"}}]"#, "", "alert lists as Prometheus posts them go to /api/v2/alerts"),
        (#"{"version":"4"}"#, "alerts", "is required"),
        (#"{"version":"4","alerts":{"status":"firing"}}"#, "alerts", "expected an array of alerts, found object"),
        (#"{"version":"4","alerts":[]}"#, "alerts", "holds no alerts"),
        (#"{"version":"4","alerts":["firing"]}"#, "alerts[0]", "expected an object, found string"),
        (#"{"version":"4","alerts":[{"labels":{"alertname":"A"},"startsAt":"2026-08-01T10:00:00Z"}]}"#,
         "alerts[0].status", "is required"),
        (#"{"version":"4","alerts":[{"status":"pending","startsAt":"2026-08-01T10:00:00Z"}]}"#,
         "alerts[0].status", "'pending' is not one of: firing, resolved"),
        (#"{"version":"4","alerts":[{"status":"firing","labels":{"severity":3},"startsAt":"2026-08-01T10:00:00Z"}]}"#,
         "alerts[0].labels.severity", "expected a string, found number"),
        (#"{"version":"4","alerts":[{"status":"firing","labels":{"":"x"},"startsAt":"2026-08-01T10:00:00Z"}]}"#,
         "alerts[0].labels", "has an entry with an empty name"),
        (#"{"version":"4","alerts":[{"status":"firing","annotations":"x","startsAt":"2026-08-01T10:00:00Z"}]}"#,
         "alerts[0].annotations", "expected an object of strings, found string"),
        (#"{"version":"4","alerts":[{"status":"firing","startsAt":"01/08/2026 10:00"}]}"#,
         "alerts[0].startsAt", "is not an RFC 3339 time"),
        (#"{"version":"4","alerts":[{"status":"firing","startsAt":"1970-01-01T00:00:00Z"}]}"#,
         "alerts[0].startsAt", "is before 2000-01-01"),
        (#"{"version":"4","alerts":[{"status":"firing","startsAt":"0001-01-01T00:00:00Z"}]}"#,
         "alerts[0].startsAt", "is Go's zero time"),
        (#"{"version":"4","alerts":[{"status":"firing"}]}"#, "alerts[0].startsAt", "is required"),
        (#"{"version":"4","alerts":[{"status":"resolved","startsAt":"2026-08-01T10:00:00Z","endsAt":"2027-01-01T00:00:00Z"}]}"#,
         "alerts[0].endsAt", "in the future"),
        (#"{"version":"4","truncatedAlerts":-1,"alerts":[{"status":"firing","startsAt":"2026-08-01T10:00:00Z"}]}"#,
         "truncatedAlerts", "expected an integer from 0"),
        (#"{"version":"4","alerts":[{"status":"firing","startsAt":"2026-08-01T10:00:00Z"},{"status":"firing","startsAt":"x"}]}"#,
         "alerts[1].startsAt", "is not an RFC 3339 time"),
    ])
    func namesTheFieldThatIsWrong(body: String, field: String, message: String) {
        #expect(fails(decoder, Data(body.utf8), field: field, message: message, receivedAt: receivedAt))
    }

    @Test func aResendIsADuplicateAndANewFiringIsNot() throws {
        let first = try decoder.decode(webhookBody([webhookAlert(fingerprint: "abc")]), receivedAt: receivedAt)
        let retry = try decoder.decode(webhookBody([webhookAlert(fingerprint: "abc")]), receivedAt: receivedAt)
        let repeated = try decoder.decode(
            webhookBody([webhookAlert(fingerprint: "abc")], reason: "repeat interval elapsed"), receivedAt: receivedAt)
        let refired = try decoder.decode(
            webhookBody([webhookAlert(startsAt: "2026-08-01T10:40:00Z", fingerprint: "abc")]), receivedAt: receivedAt)
        let resolved = try decoder.decode(
            webhookBody([webhookAlert(status: "resolved", endsAt: "2026-08-01T10:20:00Z", fingerprint: "abc")]),
            receivedAt: receivedAt)
        let key = try #require(first[0].idempotencyKey)
        #expect(retry[0].idempotencyKey == key)
        #expect(repeated[0].idempotencyKey == key)
        #expect(refired[0].idempotencyKey != key)
        #expect(refired[0].fingerprint == first[0].fingerprint)
        #expect(resolved[0].idempotencyKey != key)
        #expect(resolved[0].fingerprint == first[0].fingerprint)
    }
}

@Suite struct AlertmanagerAPIDecoderTests {
    let decoder = AlertmanagerAPIDecoder()

    @Test func decodesTheSampleWhileItFires() throws {
        let alerts = try decoder.decode(
            Fixtures.data("alerts/alertmanager-api-v2-post-alerts.CONSTRUCTED.json"), receivedAt: time("2026-08-01T10:01:00Z"))
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(alert.source == "prometheus")
        #expect(alert.host == "db1")
        #expect(alert.check == "DiskFull")
        #expect(alert.severity == .critical)
        #expect(alert.status == .firing)
        #expect(alert.summary == "Disk almost full on db1")
        let digest = Alert.digest(["alertname=DiskFull", "instance=db1:9100", "severity=critical"])
        #expect(alert.fingerprint == "prometheus|\(digest)")
        #expect(alert.idempotencyKey == "prometheus|\(digest)|firing|2026-08-01T10:00:00Z")
        #expect(alert.details == [
            "annotations": ["summary": "Disk almost full on db1"],
            "startsAt": "2026-08-01T10:00:00Z", "endsAt": "2026-08-01T10:05:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=disk_used_pct+%3E+90",
        ])
    }

    @Test func anEndsAtInThePastResolves() throws {
        let body = try Fixtures.data("alerts/alertmanager-api-v2-post-alerts.CONSTRUCTED.json")
        let at = try #require(try decoder.decode(body, receivedAt: time("2026-08-01T10:05:00Z")).first)
        let after = try #require(try decoder.decode(body, receivedAt: time("2026-08-01T11:00:00Z")).first)
        #expect(at.status == .resolved)
        #expect(after.status == .resolved)
        #expect(after.idempotencyKey == at.idempotencyKey)
        #expect(after.fingerprint == at.fingerprint)
    }

    @Test func endsAtAbsentOrFarAheadFires() throws {
        let receivedAt = time("2026-08-01T10:01:00Z")
        let absent = try decoder.decode(
            jsonBody([["labels": ["alertname": "A"], "startsAt": "2026-08-01T10:00:00Z"]]), receivedAt: receivedAt)
        #expect(absent[0].status == .firing)
        #expect(absent[0].details?["endsAt"] == nil)
        let nextYear = try decoder.decode(
            jsonBody([["labels": ["alertname": "A"], "startsAt": "2026-08-01T10:00:00Z", "endsAt": "2027-07-01T00:00:00Z"]]),
            receivedAt: receivedAt)
        #expect(nextYear[0].status == .firing)
        #expect(nextYear[0].idempotencyKey == absent[0].idempotencyKey)
    }

    @Test func aMissingStartsAtIsTheTimeReceivedWithNoKey() throws {
        let alerts = try decoder.decode(
            jsonBody([["labels": ["alertname": "A", "instance": "::1"]]]), receivedAt: time("2026-08-01T10:01:00Z"))
        #expect(alerts[0].status == .firing)
        #expect(alerts[0].host == "::1")
        #expect(alerts[0].idempotencyKey == nil)
        #expect(alerts[0].details == [:])
    }

    @Test func prometheusResendsAreDuplicates() throws {
        let receivedAt = time("2026-08-01T10:01:00Z")
        func post(endsAt: String) throws -> Alert {
            try decoder.decode(
                jsonBody([["labels": ["alertname": "A", "job": "node"], "startsAt": "2026-08-01T10:00:00Z",
                           "endsAt": .string(endsAt)]]),
                receivedAt: receivedAt)[0]
        }
        let first = try post(endsAt: "2026-08-01T10:04:00Z")
        let resend = try post(endsAt: "2026-08-01T10:05:00Z")
        let resolved = try post(endsAt: "2026-08-01T10:00:30Z")
        #expect(first.idempotencyKey == resend.idempotencyKey)
        #expect(resolved.status == .resolved)
        #expect(resolved.idempotencyKey != first.idempotencyKey)
        #expect(resolved.fingerprint == first.fingerprint)
    }

    @Test(arguments: [
        ("[]", "", "holds no alerts"),
        (#"{"labels":{"alertname":"A"}}"#, "", "expected an array of alerts, found object"),
        (#"[{"labels":{"alertname":"A"}},{"labels":{"job":"node"}}]"#, "[1].labels.alertname", "is required"),
        (#"[{"labels":{"alertname":" "}}]"#, "[0].labels.alertname", "must not be empty"),
        (#"[{"labels":{"alertname":"A"}},{"annotations":{"summary":"s"}}]"#, "[1].labels", "is required"),
        (#"[{"labels":{"alertname":"A","severity":2}}]"#, "[0].labels.severity", "expected a string, found number"),
        (#"[{"labels":{"alertname":"A"},"startsAt":"2026-08-01"}]"#, "[0].startsAt", "is not an RFC 3339 time"),
        (#"[{"labels":{"alertname":"A"},"startsAt":"1970-01-01T00:00:01Z"}]"#, "[0].startsAt", "is before 2000-01-01"),
        (#"[{"labels":{"alertname":"A"},"startsAt":"2026-08-03T00:00:00Z"}]"#, "[0].startsAt", "in the future"),
        (#"[{"labels":{"alertname":"A"},"endsAt":"2028-01-01T00:00:00Z"}]"#, "[0].endsAt", "in the future"),
        (#"[{"labels":{"alertname":"A"},"endsAt":"1999-12-31T23:59:59Z"}]"#, "[0].endsAt", "is before 2000-01-01"),
        (#"[{"labels":{"alertname":"A"},"generatorURL":7}]"#, "[0].generatorURL", "expected a string, found number"),
    ])
    func namesTheFieldThatIsWrong(body: String, field: String, message: String) {
        #expect(fails(decoder, Data(body.utf8), field: field, message: message, receivedAt: time("2026-08-01T10:01:00Z")))
    }
}

@Suite struct AlertmanagerLabelTests {
    @Test(arguments: [
        ("db1:9100", "db1"),
        ("db1", "db1"),
        ("10.0.0.7:9100", "10.0.0.7"),
        ("[::1]:9100", "::1"),
        ("[2001:db8::7]:9100", "2001:db8::7"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("2001:db8::7", "2001:db8::7"),
        ("[::1]:x", "[::1]:x"),
        ("db1:", "db1:"),
        ("https://example.org:8443/health", "example.org"),
        ("http://[::1]:8080/", "::1"),
    ])
    func instanceLosesItsPort(instance: String, host: String) {
        #expect(AlertmanagerAlert.host(instance: instance) == host)
    }

    @Test func hostLabelsAreTriedInOrder() {
        #expect(AlertmanagerAlert.host(labels: ["pod": "p", "instance": "i:1", "host": "h"]) == "h")
        #expect(AlertmanagerAlert.host(labels: ["pod": "p", "instance": "i:1", "host": " "]) == "i")
        #expect(AlertmanagerAlert.host(labels: ["pod": "p", "nodename": "n"]) == "n")
        #expect(AlertmanagerAlert.host(labels: ["pod": "p"]) == "p")
        #expect(AlertmanagerAlert.host(labels: ["job": "node"]) == "unknown")
    }

    @Test(arguments: [
        ("critical", Severity.critical), ("CRIT", .critical), ("page", .critical), ("P1", .critical), ("high", .critical),
        ("emergency", .critical), ("alert", .critical), ("error", .error), ("err", .error), ("Major", .error), ("p2", .error),
        ("warning", .warning), ("warn", .warning), ("minor", .warning), ("medium", .warning), ("p3", .warning),
        ("info", .info), ("informational", .info), ("low", .info), ("none", .info), ("notice", .info), ("p4", .info),
        ("p5", .info), (" Info ", .info), ("bogus", .warning), ("", .warning),
    ])
    func severityWords(label: String, severity: Severity) {
        #expect(AlertmanagerAlert.severity(label: label) == severity)
    }

    @Test func noSeverityLabelIsAWarning() {
        #expect(AlertmanagerAlert.severity(label: nil) == .warning)
    }
}
