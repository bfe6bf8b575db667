import Foundation
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
import Testing

/// `POST /v1/alerts/statsd` takes statsd lines into the same engine as UDP packets: all or
/// nothing, answering with the number of samples read.
@Suite struct StatsdRouteTests {
    static let rule = StatsdRule(
        name: "api_latency", metric: "api.latency", aggregation: .last, window: .seconds(60), comparison: .greater,
        threshold: 500, severity: .critical)

    @Test(arguments: ["application/json", "application/x-www-form-urlencoded"])
    func aBodyThatIsNotTextIs415(type: String) async throws {
        let engine = StatsdEngine(rules: [Self.rule])
        try await IntakeServer.with(metrics: engine) { server in
            let response = try await server.post("/v1/alerts/statsd", "api.latency:812|ms", contentType: type)
            #expect(response.status == 415)
            #expect(response.json?["field"] as? String == "Content-Type")
            #expect((response.json?["error"] as? String)?.contains("text/plain") == true)
        }
        #expect(engine.stats.recordedSamples == 0)
    }

    @Test func acceptedLinesAreCountedAndRecorded() async throws {
        let engine = StatsdEngine(rules: [Self.rule])
        try await IntakeServer.with(metrics: engine) { server in
            let body = "api.latency:812|ms|#host:web-1\ngorets:1|c|@0.1\r\n\napi.latency:640|ms|#host:web-2\n"
            let response = try await server.post("/v1/alerts/statsd", body, contentType: "text/plain; charset=utf-8")
            #expect(response.status == 202, "\(response.text)")
            #expect(response.json?.keys.sorted() == ["accepted_samples"])
            #expect(response.json?["accepted_samples"] as? Int == 3, "every sample read, those no rule is about too")
            let other = try await server.post("/v1/alerts/statsd", "api.latency:1|ms", contentType: "application/octet-stream")
            #expect(other.status == 202, "\(other.text)")
            #expect(other.json?["accepted_samples"] as? Int == 1)
        }
        #expect(engine.stats.recordedSamples == 3)
        #expect(engine.stats.ignoredSamples == 1)
        #expect(engine.evaluate(at: Date()).map(\.host).sorted() == ["web-1", "web-2"])
    }

    @Test func aBadLineRejectsTheBodyNamingTheLine() async throws {
        let engine = StatsdEngine(rules: [Self.rule])
        try await IntakeServer.with(metrics: engine) { server in
            let body = "api.latency:812|ms|#host:web-1\ngorets:1|c\napi.latency:x|ms\n"
            let response = try await server.post("/v1/alerts/statsd", body, contentType: "text/plain")
            #expect(response.status == 400)
            #expect(response.json?["field"] as? String == "line 3")
            let error = try #require(response.json?["error"] as? String)
            #expect(error.hasPrefix("line 3: "), "\(error)")
            #expect(error.contains("'api.latency:x|ms'"), "\(error)")
            let empty = try await server.post("/v1/alerts/statsd", "\n\n", contentType: "text/plain")
            #expect(empty.status == 400)
            #expect((empty.json?["error"] as? String)?.contains("no statsd lines") == true)
        }
        #expect(engine.stats.recordedSamples == 0, "all or nothing")
        #expect(engine.stats.parseErrors == 1)
        #expect(engine.evaluate(at: Date()).isEmpty)
    }

    @Test func withoutAnEngineTheSourceIsUnknown() async throws {
        try await IntakeServer.with { server in
            let response = try await server.post("/v1/alerts/statsd", "api.latency:1|ms", contentType: "text/plain")
            #expect(response.status == 404)
        }
    }
}
