import Foundation
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
import Testing

/// `POST /v2/enqueue` answers as PagerDuty's Events API v2 does, so any tool that can page
/// PagerDuty can page TeleOps.
@Suite struct PagerDutyRouteTests {
    static let routingKey = "e93facc04764012d7bfb002500d5d1a6"

    func event(_ action: String, dedupKey: String? = "srv01/mysql") -> String {
        let dedup = dedupKey.map { #","dedup_key":"\#($0)""# } ?? ""
        let payload = action == "trigger"
            ? #","payload":{"summary":"DISK at 99%","source":"db-1","severity":"critical","component":"mysql"}"# : ""
        return #"{"routing_key":"\#(Self.routingKey)","event_action":"\#(action)"\#(dedup)\#(payload)}"#
    }

    @Test func triggerAcknowledgeResolveWithPagerDutyAnswers() async throws {
        let store = MemoryScenarioStore()
        try await IntakeServer.with(store: store) { server in
            let trigger = try await server.post("/v2/enqueue", event("trigger"))
            #expect(trigger.status == 202)
            #expect(trigger.json?["status"] as? String == "success")
            #expect(trigger.json?["message"] as? String == "Event processed")
            #expect(trigger.json?["dedup_key"] as? String == "srv01/mysql")
            #expect(try await server.post("/v2/enqueue", event("acknowledge")).status == 202)
            #expect(try await server.post("/v1/alerts/pagerduty", event("resolve")).status == 202)
            let scenario = try #require(try await store.scenarios(ScenarioQuery()).first)
            #expect(scenario.host == "db-1")
            #expect(scenario.status == .resolved)
            #expect(scenario.acknowledgedBy == "pagerduty")
            #expect(try await store.events(of: scenario.id).map(\.kind) == [.alertFired, .acknowledged, .alertResolved])
        }
    }

    @Test func aRetriedTriggerWithoutDedupKeyGetsTheSameKeyAndChangesNothing() async throws {
        let store = MemoryScenarioStore()
        try await IntakeServer.with(store: store) { server in
            let first = try await server.post("/v2/enqueue", event("trigger", dedupKey: nil))
            let retry = try await server.post("/v2/enqueue", event("trigger", dedupKey: nil))
            #expect(first.status == 202 && retry.status == 202)
            let key = try #require(first.json?["dedup_key"] as? String)
            #expect(retry.json?["dedup_key"] as? String == key)
            #expect(store.journaledAlerts().count == 1)
            #expect(try await server.post("/v2/enqueue", event("resolve", dedupKey: key)).status == 202)
            #expect(try await store.scenarios(ScenarioQuery()).first?.status == .resolved)
        }
    }

    @Test func errorsUsePagerDutysShape() async throws {
        try await IntakeServer.with { server in
            let response = try await server.post("/v2/enqueue", event("acknowledge", dedupKey: nil))
            #expect(response.status == 400)
            #expect(response.json?["status"] as? String == "invalid event")
            #expect(response.json?["message"] as? String == "Event object is invalid")
            let errors = try #require(response.json?["errors"] as? [String])
            #expect(errors.count == 1 && errors[0].hasPrefix("dedup_key: is required"))
        }
    }

    /// Not JSON at all is PagerDuty's "Unrecognized object", as in its OpenAPI `Error`
    /// example, with where the JSON broke after PagerDuty's own words.
    @Test(arguments: ["{not json", "", #"{"routing_key": "k", "event_action": "trigger""#])
    func unparseableBodiesGetPagerDutysUnrecognizedObject(body: String) async throws {
        let fixture = try Fixtures.data("alerts/pagerduty-error-response.json")
        let reference = try #require(try JSONSerialization.jsonObject(with: fixture) as? [String: Any])
        let referenceKeys = Set(reference.keys)
        let referenceStatus = try #require(reference["status"] as? String)
        let referenceMessage = try #require(reference["message"] as? String)
        let referenceErrors = try #require(reference["errors"] as? [String])
        try await IntakeServer.with { server in
            let response = try await server.post("/v2/enqueue", body)
            #expect(response.status == 400)
            let json = try #require(response.json)
            #expect(Set(json.keys) == referenceKeys)
            #expect(json["status"] as? String == referenceStatus)
            #expect(json["message"] as? String == referenceMessage)
            let errors = try #require(json["errors"] as? [String])
            #expect(errors.first == referenceErrors.first)
            #expect(errors.count == 2 && errors[1].hasPrefix("the body is"), "\(errors)")
        }
    }

    @Test func anEventOverPagerDutysLimitIs413() async throws {
        // Under the server's limit (1 MiB by default), over PagerDuty's 512 KB.
        let details = String(repeating: "x", count: PagerDutyAlertDecoder.maxBodyBytes)
        let body = event("trigger").replacingOccurrences(of: #""component":"mysql""#, with: #""component":"mysql","custom_details":{"d":"\#(details)"}"#)
        #expect(body.utf8.count > PagerDutyAlertDecoder.maxBodyBytes && body.utf8.count < HTTPSettings().maxBodyBytes)
        try await IntakeServer.with { server in
            let response = try await server.post("/v2/enqueue", body)
            #expect(response.status == 413)
            #expect(response.json?["status"] as? String == "payload too large")
            let errors = try #require(response.json?["errors"] as? [String])
            #expect(errors == ["the event is larger than PagerDuty's limit of 512 KB (524288 bytes)"])
            #expect(try await server.post("/v2/enqueue", event("trigger")).status == 202)
        }
    }

    @Test func onlyConfiguredRoutingKeysArePaged() async throws {
        var settings = HTTPSettings()
        settings.sources["pagerduty"]?.routingKeys = [Self.routingKey]
        try await IntakeServer.with(settings) { server in
            let wrong = try await server.post("/v2/enqueue", event("trigger").replacingOccurrences(of: Self.routingKey, with: "0123456789abcdef0123456789abcdef"))
            #expect(wrong.status == 401)
            #expect((wrong.json?["errors"] as? [String])?.first?.hasPrefix("routing_key:") == true)
            #expect(!wrong.text.contains("0123456789abcdef"), "the key is not echoed")
            #expect(try await server.post("/v2/enqueue", event("trigger")).status == 202)
        }
    }

    @Test func rateLimitIsAThrottleEvent() async throws {
        var settings = HTTPSettings()
        settings.sources["pagerduty"]?.rateLimit = RateLimit(perSecond: 0.1, burst: 1)
        try await IntakeServer.with(settings) { server in
            #expect(try await server.post("/v2/enqueue", event("trigger")).status == 202)
            let limited = try await server.post("/v2/enqueue", event("trigger"))
            #expect(limited.status == 429)
            #expect(limited.json?["status"] as? String == "throttle event")
            #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        }
    }

    @Test func eventsWithAWrongRoutingKeyDoNotSpendTheRateLimit() async throws {
        var settings = HTTPSettings()
        settings.sources["pagerduty"]?.routingKeys = [Self.routingKey]
        // A burst of 1, then one token per 100 s: nothing refills during the test.
        settings.sources["pagerduty"]?.rateLimit = RateLimit(perSecond: 0.01, burst: 1)
        try await IntakeServer.with(settings) { server in
            let guessed = event("trigger").replacingOccurrences(of: Self.routingKey, with: "0123456789abcdef0123456789abcdef")
            var statuses: [Int] = []
            for body in [guessed, guessed, guessed, event("trigger"), event("trigger")] {
                statuses.append(try await server.post("/v2/enqueue", body).status)
            }
            #expect(statuses == [401, 401, 401, 202, 429])
        }
    }
}
