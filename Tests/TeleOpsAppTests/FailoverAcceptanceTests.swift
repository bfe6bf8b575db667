import Foundation
import Testing
import TeleOpsTesting

/// Black-box: Telegram primary, Slack secondary, both fakes over real HTTP. Telegram keeps
/// failing, so the alert goes out on Slack with a note, and an ack there settles it.
@Suite(.serialized) struct FailoverAcceptanceTests {
    @Test func aFailingTelegramFailsOverToSlack() async throws {
        let slack = try await FakeSlackServer.start()
        do {
            try await TelegramAcceptanceTests.withFake { telegram in
                telegram.failNext(.serverError, count: 100_000)
                let yaml = try TelegramAcceptanceTests.yaml(telegram)
                    .replacingOccurrences(of: "engineers:", with: """
                          primary: telegram
                          failover: {to: slack, after_failures: 2, retry_primary_after: 5m}
                          slack:
                            channel: \(FakeSlackServer.defaultChannel)
                            api_url: \(slack.apiURL)
                            bot_token_file: \(try SlackAcceptanceTests.secretFile("bot.token", FakeSlackServer.botToken))
                            app_token_file: \(try SlackAcceptanceTests.secretFile("app.token", FakeSlackServer.appToken))
                        engineers:
                        """)
                    .replacingOccurrences(of: "    roles: [responder]", with: "    slack: \(SlackAcceptanceTests.ana)\n    roles: [responder]")
                let server = try await TeleOpsServer(extraYAML: yaml)
                defer { server.stop() }
                #expect(try await server.post(TelegramAcceptanceTests.disk).status == 202)
                let moved = try await slack.waitForMessage(containing: "#1 CRITICAL web-1 · disk_usage", timeout: .seconds(30))
                #expect(moved.shownText.hasPrefix("⚠️ Sent on slack because telegram is failing"), "says why: \(moved.shownText)")
                #expect(telegram.requests(method: "sendmessage").count >= 2, "telegram was tried first")

                try await slack.userPresses(messageTS: moved.ts, command: "#1 ack", user: SlackAcceptanceTests.ana)
                let answer = try await slack.waitForMessage(containing: "#1 acknowledged by ana", timeout: .seconds(20))
                #expect(answer.threadTS == moved.ts)
                let json = try await server.cli(["scenarios", "show", "1", "--json"])
                #expect(json.contains("\"acknowledged_by\" : \"ana\""))
            }
        } catch {
            await slack.stop()
            throw error
        }
        await slack.stop()
    }
}
