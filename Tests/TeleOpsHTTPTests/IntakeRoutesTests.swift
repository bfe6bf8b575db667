import Foundation
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
import Testing

@Suite struct IntakeRoutesTests {
    @Test func acceptedAlertIsInTheStoreBeforeTheAnswer() async throws {
        let store = MemoryScenarioStore()
        try await IntakeServer.with(store: store) { server in
            let response = try await server.post("/v1/alerts/generic", diskAlert)
            #expect(response.status == 202)
            #expect(response.json?["accepted"] as? Int == 1)
            #expect(store.journaledAlerts().count == 1)
        }
    }

    @Test(arguments: [
        ("text/plain", 415, "Content-Type"),
        ("application/x-www-form-urlencoded", 415, "Content-Type"),
        ("application/json; charset=utf-8", 202, nil),
        ("application/vnd.api+json", 202, nil),
    ] as [(String, Int, String?)])
    func contentTypeMustBeJSON(type: String, status: Int, field: String?) async throws {
        try await IntakeServer.with { server in
            let response = try await server.post("/v1/alerts/generic", diskAlert, contentType: type)
            #expect(response.status == status)
            #expect(response.json?["field"] as? String == field)
        }
    }

    @Test func invalidUTF8IsNamedWithItsOffset() async throws {
        try await IntakeServer.with { server in
            var body = Data(#"{"host":"web-"#.utf8)
            body.append(0xE9)  // Latin-1 é
            body.append(contentsOf: Data(#"","check":"c","severity":"info","summary":"s","status":"firing"}"#.utf8))
            let response = try await server.post("/v1/alerts/generic", body)
            #expect(response.status == 400)
            let error = try #require(response.json?["error"] as? String)
            #expect(error.contains("UTF-8"))
            #expect(error.contains("offset 13"))
        }
    }

    @Test func unknownSourceAndOversizedBody() async throws {
        var settings = HTTPSettings()
        settings.maxBodyBytes = 2048
        try await IntakeServer.with(settings) { server in
            let unknown = try await server.post("/v1/alerts/nagios", diskAlert)
            #expect(unknown.status == 404)
            #expect((unknown.json?["error"] as? String)?.contains("generic") == true)
            let big = try await server.post("/v1/alerts/generic", String(repeating: " ", count: 4096) + diskAlert)
            #expect(big.status == 413)
        }
    }

    @Test func bearerTokenIsRequiredWhenConfigured() async throws {
        var settings = HTTPSettings()
        settings.sources["generic"]?.tokens = ["old-token", "new-token"]
        let store = MemoryScenarioStore()
        try await IntakeServer.with(settings, store: store) { server in
            let missing = try await server.post("/v1/alerts/generic", diskAlert)
            #expect(missing.status == 401)
            #expect(missing.header("WWW-Authenticate") == "Bearer")
            #expect(missing.json?["field"] as? String == "Authorization")
            let wrong = try await server.post("/v1/alerts/generic", diskAlert, headers: ["Authorization": "Bearer new-tokeN"])
            #expect(wrong.status == 401)
            let prefix = try await server.post("/v1/alerts/generic", diskAlert, headers: ["Authorization": "Bearer new-toke"])
            #expect(prefix.status == 401)
            #expect(store.journaledAlerts().isEmpty)
            for token in ["old-token", "new-token"] {
                let ok = try await server.post("/v1/alerts/generic", diskAlert, headers: ["Authorization": "Bearer \(token)"])
                #expect(ok.status == 202)
            }
        }
    }

    @Test func genericBodyCanBeSignedWithHMAC() async throws {
        var settings = HTTPSettings()
        settings.sources["generic"]?.hmacSecrets = ["hush"]
        try await IntakeServer.with(settings) { server in
            let body = Data(diskAlert.utf8)
            let good = RequestAuthenticator.signature(secret: "hush", body: body)
            let ok = try await server.post("/v1/alerts/generic", body, headers: ["X-TeleOps-Signature": good])
            #expect(ok.status == 202)
            let tampered = try await server.post(
                "/v1/alerts/generic", Data(diskAlert.replacingOccurrences(of: "95", with: "96").utf8),
                headers: ["X-TeleOps-Signature": good])
            #expect(tampered.status == 401)
            let unsigned = try await server.post("/v1/alerts/generic", body)
            #expect(unsigned.status == 401)
            #expect(unsigned.json?["field"] as? String == "X-TeleOps-Signature")
        }
    }

    @Test func hmacMatchesRFC4231() {
        // RFC 4231 test case 2.
        let mac = RequestAuthenticator.hmacSHA256(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8))
        #expect(mac.map { String(format: "%02x", $0) }.joined() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        var settings = HTTPSettings()
        // A burst of 2, then one token per 100 s: a loaded machine cannot refill it mid-test.
        settings.sources["generic"]?.rateLimit = RateLimit(perSecond: 0.01, burst: 2)
        try await IntakeServer.with(settings) { server in
            #expect(try await server.post("/v1/alerts/generic", diskAlert).status == 202)
            #expect(try await server.post("/v1/alerts/generic", diskAlert).status == 202)
            let limited = try await server.post("/v1/alerts/generic", diskAlert)
            #expect(limited.status == 429)
            let retryAfter = try #require(limited.header("Retry-After").flatMap(Int.init))
            #expect((50...100).contains(retryAfter), "one token refills in 100 s: \(retryAfter)")
        }
    }

    @Test func requestsThatFailAuthenticationDoNotSpendTheSourcesRateLimit() async throws {
        var settings = HTTPSettings()
        settings.sources["generic"]?.tokens = ["the-real-token"]
        settings.sources["generic"]?.hmacSecrets = ["the-real-secret"]
        // A burst of 2, then one token per 100 s: nothing refills during the test.
        settings.sources["generic"]?.rateLimit = RateLimit(perSecond: 0.01, burst: 2)
        let store = MemoryScenarioStore()
        try await IntakeServer.with(settings, store: store) { server in
            let body = Data(diskAlert.utf8)
            let signature = RequestAuthenticator.signature(secret: "the-real-secret", body: body)
            // More refused requests than the burst: a wrong token, none, a wrong signature.
            for headers in [
                ["Authorization": "Bearer guessed-token", "X-TeleOps-Signature": signature],
                ["X-TeleOps-Signature": signature],
                ["Authorization": "Bearer the-real-token", "X-TeleOps-Signature": "sha256=" + String(repeating: "0", count: 64)],
                ["Authorization": "Bearer the-real-token"],
            ] {
                let refused = try await server.post("/v1/alerts/generic", body, headers: headers)
                #expect(refused.status == 401)
            }
            #expect(store.journaledAlerts().isEmpty)
            // The real sender still has its whole burst, and no more.
            let authorized = ["Authorization": "Bearer the-real-token", "X-TeleOps-Signature": signature]
            var statuses: [Int] = []
            for _ in 0..<3 {
                statuses.append(try await server.post("/v1/alerts/generic", body, headers: authorized).status)
            }
            #expect(statuses == [202, 202, 429])
        }
    }
}
