import Foundation
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
import Testing

/// `POST /api/v2/alerts` answers as Alertmanager's API does, so Prometheus can name TeleOps
/// in `alerting.alertmanagers`.
@Suite struct AlertmanagerRouteTests {
    func alerts(endsAt: Date) -> String {
        let ends = endsAt.ISO8601Format()
        return #"[{"labels":{"alertname":"DiskFull","instance":"db1:9100","severity":"critical"},"annotations":{"summary":"Disk almost full on db1"},"startsAt":"2026-11-01T10:00:00Z","endsAt":"\#(ends)"}]"#
    }

    @Test func prometheusFiresResendsAndResolves() async throws {
        let store = MemoryScenarioStore()
        try await IntakeServer.with(store: store, decoders: [AlertmanagerAPIDecoder()]) { server in
            let firing = try await server.post("/api/v2/alerts", alerts(endsAt: Date().addingTimeInterval(300)))
            #expect(firing.status == 200)
            #expect(firing.body.isEmpty)
            // Prometheus re-sends firing alerts every evaluation: the same alert changes nothing.
            #expect(try await server.post("/api/v2/alerts", alerts(endsAt: Date().addingTimeInterval(360))).status == 200)
            #expect(try await server.post("/api/v2/alerts", alerts(endsAt: Date().addingTimeInterval(-1))).status == 200)
            let scenario = try #require(try await store.scenarios(ScenarioQuery()).first)
            #expect(scenario.host == "db1")
            #expect(scenario.check == "DiskFull")
            #expect(scenario.occurrences == 1)
            #expect(scenario.status == .resolved)
        }
    }

    @Test func errorsAreAJSONStringNamingTheField() async throws {
        try await IntakeServer.with(decoders: [AlertmanagerAPIDecoder()]) { server in
            let body = #"[{"labels":{"alertname":"A"}},{"labels":{"job":"node"}}]"#
            let response = try await server.post("/api/v2/alerts", body)
            #expect(response.status == 400)
            let message = try #require(try JSONSerialization.jsonObject(with: response.body, options: .fragmentsAllowed) as? String)
            #expect(message.hasPrefix("[1].labels.alertname"), "\(message)")
        }
    }

    @Test func webhookAndGrafanaSamplesAreAccepted() async throws {
        let store = MemoryScenarioStore()
        try await IntakeServer.with(store: store, decoders: [AlertmanagerWebhookDecoder(), GrafanaAlertDecoder()]) { server in
            for (path, sample) in [
                ("/v1/alerts/alertmanager", "alerts/alertmanager-webhook-v0.34-firing.CONSTRUCTED.raw-go-encoding.txt"),
                ("/v1/alerts/grafana", "alerts/grafana-webhook.VERBATIM.json"),
            ] {
                let response = try await server.post(path, try Fixtures.data(sample))
                #expect(response.status == 202, "\(path): \(response.text)")
            }
            #expect(try await store.scenarios(ScenarioQuery()).count == 3)
        }
    }

    /// Alerts Alertmanager left out (`max_alerts`) never arrive; the log says so, naming the
    /// group, and the alerts that did arrive are taken.
    @Test func truncatedAlertsAreLoggedWithTheGroupKey() async throws {
        let sample = try Fixtures.data("alerts/alertmanager-webhook-v0.34-firing.CONSTRUCTED.raw-go-encoding.txt")
        let truncated = Data(String(decoding: sample, as: UTF8.self)
            .replacingOccurrences(of: #""truncatedAlerts":0"#, with: #""truncatedAlerts":7"#).utf8)
        let group = try AlertmanagerWebhookDecoder().decodeGroup(truncated, receivedAt: Date())
        #expect(group.truncatedAlerts == 7)
        #expect(group.groupKey == #"{}/{severity="critical"}:{alertname="DiskFull"}"#)

        let logs = LogCapture()
        let store = MemoryScenarioStore()
        try await IntakeServer.with(store: store, decoders: [AlertmanagerWebhookDecoder()], logger: logs.logger) { server in
            let whole = try await server.post("/v1/alerts/alertmanager", sample)
            #expect(whole.status == 202)
            #expect(logs.lines(containing: "max_alerts").isEmpty, "nothing to say when nothing was left out")
            let cut = try await server.post("/v1/alerts/alertmanager", truncated)
            #expect(cut.status == 202)
        }
        let warnings = logs.lines(containing: "max_alerts")
        #expect(warnings.count == 1)
        let warning = try #require(warnings.first)
        #expect(warning.hasPrefix("warning "))
        #expect(warning.contains(#"group_key={}/{severity="critical"}:{alertname="DiskFull"}"#), "\(warning)")
        #expect(warning.contains("truncated_alerts=7"), "\(warning)")
        #expect(warning.contains("source=alertmanager"), "\(warning)")
        #expect(try await store.scenarios(ScenarioQuery()).count == 1)
    }
}
