import Foundation
import TeleOpsChat
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
import Testing

/// Who may read the scenario log: open on loopback, tokens when configured, and nobody off
/// loopback without one, while alert intake keeps working.
@Suite struct ReviewAccessTests {
    static let token = "review-token-0123456789abcdef"

    @Test(arguments: ["127.0.0.1", "localhost", "::1", "127.0.0.53"])
    func readingIsOpenOnLoopbackWithoutATokenConfigured(host: String) async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store, host: host) { server in
            for path in ["/v1/scenarios", "/v1/scenarios/1", "/scenarios", "/scenarios/1"] {
                let response = try await server.get(path)
                #expect(response.status == 200, "\(path)")
            }
        }
    }

    @Test(arguments: ["0.0.0.0", "::", "192.0.2.10", "teleops.example.com"])
    func offLoopbackWithoutATokenReviewIsRefusedAndSaysHowToConfigureIt(host: String) async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store, host: host) { server in
            for path in ["/v1/scenarios", "/v1/scenarios/1"] {
                let response = try await server.get(path, headers: ["Authorization": "Bearer \(Self.token)"])
                #expect(response.status == 403)
                let error = try #require(response.json?["error"] as? String)
                #expect(error.contains("'\(host)', which is not a loopback address"))
                #expect(error.contains("review.tokens_file"))
            }
            for path in ["/scenarios", "/scenarios/1", "/scenarios/login"] {
                let page = try await server.get(path)
                #expect(page.status == 403)
                #expect(page.text.contains("review.tokens_file"))
                #expect(!page.text.contains("/dev/vda1") && !page.text.contains("web-1"), "nothing of the log shows")
            }
            let signIn = try await server.post("/scenarios/login", form: "token=\(Self.token)")
            #expect(signIn.status == 403)
            #expect(signIn.header("Set-Cookie") == nil)

            let alert = try await server.client.send(
                method: "POST", url: server.base + "/v1/alerts/generic", headers: ["Content-Type": "application/json"],
                body: Data(#"{"host":"web-9","check":"disk","severity":"critical","summary":"s","status":"firing"}"#.utf8))
            #expect(alert.status == 202, "intake does not depend on review access")
        }
    }

    @Test(arguments: ["127.0.0.1", "0.0.0.0"])
    func aConfiguredTokenIsRequiredWhereverTheServerListens(host: String) async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        let review = ReviewSettings(tokens: ["old-token-0123456789abcdef", Self.token])
        try await ReviewServer.with(store: store, host: host, review: review) { server in
            let missing = try await server.get("/v1/scenarios")
            #expect(missing.status == 401)
            #expect(missing.header("WWW-Authenticate") == "Bearer")
            #expect(missing.json?["field"] as? String == "Authorization")
            #expect((missing.json?["error"] as? String)?.contains("Authorization: Bearer <token>") == true)
            #expect(missing.scenarioIDs.isEmpty)
            for wrong in ["Bearer \(Self.token.dropLast())", "Bearer \(Self.token)x", "Bearer ", "Basic \(Self.token)", Self.token] {
                let response = try await server.get("/v1/scenarios/1", headers: ["Authorization": wrong])
                #expect(response.status == 401, "\(wrong)")
                #expect(response.json?["scenario"] == nil)
            }
            for token in review.tokens {
                let response = try await server.get("/v1/scenarios", headers: ["Authorization": "Bearer \(token)"])
                #expect(response.status == 200)
                #expect(response.scenarioIDs == [5, 4, 3, 2, 1])
            }
            let lowercase = try await server.get("/v1/scenarios/1", headers: ["Authorization": "bearer \(Self.token)"])
            #expect(lowercase.status == 200)
            let page = try await server.get("/scenarios/1", headers: ["Authorization": "Bearer \(Self.token)"])
            #expect(page.status == 200, "scripts may read the pages with the header too")
        }
    }

    @Test func aBrowserSignsInOnceAndCarriesAnHttpOnlyStrictCookie() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store, host: "0.0.0.0", review: ReviewSettings(tokens: [Self.token])) { server in
            let page = try await server.get("/scenarios/1?x")
            #expect(page.status == 401)
            #expect(page.text.contains(#"<form method="post" action="/scenarios/login">"#))
            #expect(page.text.contains(#"name="next" value="/scenarios/1?x""#), "back to the page asked for")
            #expect(!page.text.contains("/var is 95% full"))

            let wrong = try await server.post("/scenarios/login", form: "next=%2Fscenarios%2F1&token=not-the-token-at-all")
            #expect(wrong.status == 401)
            #expect(wrong.text.contains("That token is not accepted."))
            #expect(wrong.header("Set-Cookie") == nil)

            let signedIn = try await server.post("/scenarios/login", form: "next=%2Fscenarios%2F1&token=\(Self.token)")
            #expect(signedIn.status == 303)
            #expect(signedIn.header("Location") == "/scenarios/1")
            let setCookie = try #require(signedIn.header("Set-Cookie"))
            let attributes = Set(setCookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            #expect(attributes.isSuperset(of: ["httponly", "samesite=strict", "path=/", "max-age=43200"]), "\(setCookie)")
            #expect(!setCookie.contains(Self.token), "the cookie is derived from the token, not the token")
            let cookie = try #require(setCookie.split(separator: ";").first.map(String.init))

            let detail = try await server.get("/scenarios/1", headers: ["Cookie": cookie])
            #expect(detail.status == 200)
            #expect(detail.text.contains("/var is 95% full"))
            #expect(detail.text.contains(#"action="/scenarios/logout""#), "a signed-in page offers to sign out")
            #expect(try await server.get("/v1/scenarios", headers: ["Cookie": cookie]).status == 200)
            let forged = try await server.get("/scenarios/1", headers: ["Cookie": "teleops_review=\(String(repeating: "0", count: 64))"])
            #expect(forged.status == 401)
            #expect(forged.text.contains("no longer accepted"))

            let signedOut = try await server.post("/scenarios/logout", form: "")
            #expect(signedOut.status == 303)
            #expect(signedOut.header("Set-Cookie")?.contains("Max-Age=0") == true)
        }
    }

    @Test(arguments: [
        ("/scenarios?q=disk", "/scenarios?q=disk"),
        ("/v1/scenarios/2", "/v1/scenarios/2"),
        ("//evil.example/scenarios", "/scenarios"),
        ("https://evil.example/scenarios", "/scenarios"),
        ("/\\evil.example", "/scenarios"),
        ("/healthz", "/scenarios"),
        ("/scenarios/login", "/scenarios"),
        ("/scenariosX", "/scenarios"),
    ])
    func afterSigningInOnlyAReviewPathOfThisServerIsFollowed(next: String, location: String) async throws {
        let store = MemoryScenarioStore()
        try await ReviewServer.with(store: store, host: "0.0.0.0", review: ReviewSettings(tokens: [Self.token])) { server in
            let encoded = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? next
            let response = try await server.post("/scenarios/login", form: "token=\(Self.token)&next=\(encoded)")
            #expect(response.status == 303)
            #expect(response.header("Location") == location)
        }
    }

    @Test func theSignInFormMustBeAForm() async throws {
        let store = MemoryScenarioStore()
        try await ReviewServer.with(store: store, host: "0.0.0.0", review: ReviewSettings(tokens: [Self.token])) { server in
            let json = try await server.client.send(
                method: "POST", url: server.base + "/scenarios/login", headers: ["Content-Type": "application/json"],
                body: Data(#"{"token":"\#(Self.token)"}"#.utf8))
            #expect(json.status == 415)
            #expect(json.text.contains("application/x-www-form-urlencoded"))
            let huge = try await server.post("/scenarios/login", form: "token=" + String(repeating: "a", count: 10_000))
            #expect(huge.status == 413)
        }
    }
}
