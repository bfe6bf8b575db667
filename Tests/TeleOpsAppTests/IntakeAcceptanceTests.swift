import Foundation
import TeleOpsTesting
import Testing

/// Every source end to end, black box: the real binary, real HTTP (and a real UDP socket for
/// statsd), through to the scenarios the CLI lists.
@Suite struct IntakeAcceptanceTests {
    static let config = """
        statsd:
          udp: "127.0.0.1:0"
          evaluation_interval: 100ms
          rules:
            - name: api_errors
              metric: api.errors
              aggregation: sum
              window: 10s
              comparison: ">"
              threshold: 5
              severity: critical
        """

    @Test func everySourceReachesTheScenarioLog() async throws {
        let server = try await TeleOpsServer(extraYAML: Self.config)
        defer { server.stop() }
        let repository = TeleOpsServer.repositoryRoot
        let samples: [(path: String, file: String)] = [
            ("/v1/alerts/generic", "alerts/generic-disk.json"),
            ("/v1/alerts/sensu", "Tests/Fixtures/alerts/sensu-go-event-failing.DERIVED.json"),
            ("/v1/alerts/sensu", "Tests/Fixtures/alerts/sensu-classic-handler-stdin.json"),
            ("/v1/alerts/alertmanager", "Tests/Fixtures/alerts/alertmanager-webhook-v0.34-firing.CONSTRUCTED.raw-go-encoding.txt"),
            ("/v1/alerts/grafana", "Tests/Fixtures/alerts/grafana-webhook.VERBATIM.json"),
            ("/v2/enqueue", "Tests/Fixtures/alerts/pagerduty-enqueue-trigger.json"),
        ]
        for sample in samples {
            let response = try await server.http.send(
                method: "POST", url: server.baseURL + sample.path, headers: ["Content-Type": "application/json"],
                body: try Data(contentsOf: repository.appendingPathComponent(sample.file)))
            #expect((200..<300).contains(response.status), "\(sample.file): \(String(decoding: response.body, as: UTF8.self))")
        }
        // Prometheus, as its Alertmanager client posts: a firing alert ends a few minutes from now.
        let ends = Date().addingTimeInterval(300).ISO8601Format()
        let prometheus = try await server.http.send(
            method: "POST", url: server.baseURL + "/api/v2/alerts", headers: ["Content-Type": "application/json"],
            body: Data(#"[{"labels":{"alertname":"NodeDown","instance":"node-7:9100","severity":"critical"},"annotations":{"summary":"node-7 is down"},"startsAt":"2026-11-01T00:00:00Z","endsAt":"\#(ends)"}]"#.utf8))
        #expect(prometheus.status == 200)

        // statsd over UDP: six errors from api-1 in the window cross the threshold of 5.
        let bound = try await server.process.stderr.waitFor(what: "the statsd socket") { $0.contains("statsd listening on UDP") }
        let port = try #require(bound.range(of: #"port=\d+"#, options: .regularExpression).map { Int(bound[$0].dropFirst(5))! })
        try sendUDP("api.errors:3|c|#host:api-1\napi.errors:3|c|#host:api-1", port: port)
        try await server.console("CRITICAL api-1 · api_errors")

        let listed = try await server.cli(["scenarios", "list", "--json"])
        let scenarios = try #require(try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]])
        let bySource = Dictionary(grouping: scenarios, by: { $0["source"] as? String ?? "" })
        #expect(bySource["generic"]?.count == 1)
        #expect(Set(bySource["sensu"]?.compactMap { $0["host"] as? String } ?? []) == ["sensu-centos", "client-01"])
        #expect(bySource["alertmanager"]?.first?["host"] as? String == "db1")
        #expect(bySource["grafana"]?.count == 2)
        #expect(bySource["pagerduty"]?.first?["host"] as? String == "prod-datapipe03.example.com")
        #expect(bySource["prometheus"]?.first?["host"] as? String == "node-7")
        #expect(bySource["statsd"]?.first?["host"] as? String == "api-1")
    }
}
