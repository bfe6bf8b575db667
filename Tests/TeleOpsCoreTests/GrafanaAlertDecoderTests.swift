import Foundation
import Testing
import TeleOpsTesting
@testable import TeleOpsCore

@Suite struct GrafanaAlertDecoderTests {
    let decoder = GrafanaAlertDecoder()
    let receivedAt = time("2026-08-01T11:00:00Z")

    /// A Grafana notification around `alerts`, with `version` left out when nil.
    func body(_ alerts: [JSONValue], version: String? = "1") throws -> Data {
        var root: [String: JSONValue] = ["receiver": "ops", "status": "firing", "orgId": 1, "alerts": .array(alerts)]
        root["version"] = version.map(JSONValue.string)
        return try jsonBody(.object(root))
    }

    @Test func decodesTheDocumentedSample() throws {
        let group = try decoder.decodeGroup(Fixtures.data("alerts/grafana-webhook.VERBATIM.json"), receivedAt: receivedAt)
        #expect(group.alerts.count == 2)
        #expect(group.truncatedAlerts == 0)
        #expect(group.receiver == "My Super Webhook")
        #expect(group.groupKey == "{}:{}")
        let memory = group.alerts[0]
        #expect(memory.source == "grafana")
        #expect(memory.host == "unknown")
        #expect(memory.check == "High memory usage")
        #expect(memory.severity == .warning)
        #expect(memory.status == .firing)
        #expect(memory.summary == "This alert was triggered for zone us-1")
        #expect(memory.fingerprint == "grafana|c6eadffa33fcdf37")
        #expect(memory.idempotencyKey == "grafana|c6eadffa33fcdf37|firing|2021-10-12T09:51:03.157076+02:00")
        #expect(memory.labels == ["alertname": "High memory usage", "team": "blue", "zone": "us-1"])
        #expect(memory.details == [
            "annotations": [
                "description": "The system has high memory usage", "runbook_url": "https://myrunbook.com/runbook/1234",
                "summary": "This alert was triggered for zone us-1",
            ],
            "startsAt": "2021-10-12T09:51:03.157076+02:00",
            "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
            "values": ["B": 44.23943737541908, "C": 1],
            "orgId": 1,
            "receiver": "My Super Webhook",
            "groupKey": "{}:{}",
            "externalURL": "https://play.grafana.org/",
            "truncatedAlerts": 0,
        ])
        let cpu = group.alerts[1]
        #expect(cpu.host == "unknown")
        #expect(cpu.check == "High CPU usage")
        #expect(cpu.severity == .warning)
        #expect(cpu.status == .firing)
        #expect(cpu.summary == "This alert was triggered for zone eu-1")
        #expect(cpu.fingerprint == "grafana|bc97ff14869b13e3")
    }

    @Test func readsHostSeverityAndResolution() throws {
        let alerts = try decoder.decode(body([
            ["status": "resolved", "labels": ["alertname": "CPU", "instance": "[fe80::1]:9100", "severity": "P2"],
             "annotations": ["description": "CPU back to normal"],
             "startsAt": "2026-08-01T10:00:00Z", "endsAt": "2026-08-01T10:20:00Z", "fingerprint": "f1",
             "valueString": "[ var='B' labels={} value=12 ]", "imageURL": "https://grafana/img.png", "panelURL": ""],
        ]), receivedAt: receivedAt)
        let alert = try #require(alerts.first)
        #expect(alert.host == "fe80::1")
        #expect(alert.severity == .error)
        #expect(alert.status == .resolved)
        #expect(alert.summary == "CPU back to normal")
        #expect(alert.idempotencyKey == "grafana|f1|resolved|2026-08-01T10:00:00Z|2026-08-01T10:20:00Z")
        #expect(alert.details?["valueString"] == "[ var='B' labels={} value=12 ]")
        #expect(alert.details?["imageURL"] == "https://grafana/img.png")
        #expect(alert.details?["panelURL"] == nil)
        #expect(alert.details?["values"] == nil)
    }

    @Test func acceptsABodyWithoutVersionOrFingerprint() throws {
        let alerts = try decoder.decode(
            body([["status": "firing", "labels": ["alertname": "A", "grafana_folder": "ops"], "startsAt": "2026-08-01T10:00:00Z"]],
                 version: nil),
            receivedAt: receivedAt)
        #expect(alerts[0].fingerprint == "grafana|\(Alert.digest(["alertname=A", "grafana_folder=ops"]))")
        #expect(alerts[0].summary == "A on unknown")
    }

    @Test func sameNotificationTwiceHasTheSameKeys() throws {
        let data = try Fixtures.data("alerts/grafana-webhook.VERBATIM.json")
        let first = try decoder.decode(data, receivedAt: receivedAt)
        let again = try decoder.decode(data, receivedAt: receivedAt.addingTimeInterval(60))
        #expect(first.map(\.idempotencyKey) == again.map(\.idempotencyKey))
        #expect(Set(first.compactMap(\.idempotencyKey)).count == 2)
    }

    @Test(arguments: [
        (#"{"version":"4","alerts":[]}"#, "version", "Alertmanager webhook payloads go to /v1/alerts/alertmanager"),
        (#"{"version":"2","alerts":[]}"#, "version", "takes Grafana alerting webhook version 1 payloads, found version '2'"),
        (#"{"version":"1","orgId":"one","alerts":[]}"#, "orgId", "expected a number, found string"),
        (#"{"version":"1","alerts":[]}"#, "alerts", "holds no alerts"),
        (#"{"version":"1","alerts":[{"labels":{"alertname":"A"},"startsAt":"2026-08-01T10:00:00Z"}]}"#,
         "alerts[0].status", "is required"),
        (#"{"version":"1","alerts":[{"status":"firing","labels":{"severity":1},"startsAt":"2026-08-01T10:00:00Z"}]}"#,
         "alerts[0].labels.severity", "expected a string, found number"),
        (#"{"version":"1","alerts":[{"status":"firing","startsAt":"2026-08-01T10:00:00Z","silenceURL":5}]}"#,
         "alerts[0].silenceURL", "expected a string, found number"),
        (#"{"version":"1","alerts":[{"status":"firing","startsAt":"1970-01-01T00:00:00Z"}]}"#,
         "alerts[0].startsAt", "is before 2000-01-01"),
    ])
    func namesTheFieldThatIsWrong(body: String, field: String, message: String) {
        #expect(fails(decoder, Data(body.utf8), field: field, message: message, receivedAt: receivedAt))
    }
}
