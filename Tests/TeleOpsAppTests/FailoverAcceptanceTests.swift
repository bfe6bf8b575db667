import Foundation
import Testing
import TeleOpsTesting

/// Black-box: Telegram primary, Slack secondary, both fakes over real HTTP. Telegram keeps
/// failing, so the alert goes out on Slack with a note, and an ack there settles it.
@Suite(.serialized) struct FailoverAcceptanceTests {
    /// The configuration: Telegram primary, failing over to Slack after two failures.
    static func yaml(_ telegram: FakeTelegramServer, _ slack: FakeSlackServer, retryPrimaryAfter: String) throws -> String {
        try TelegramAcceptanceTests.yaml(telegram)
            .replacingOccurrences(of: "engineers:", with: """
                  primary: telegram
                  failover: {to: slack, after_failures: 2, retry_primary_after: \(retryPrimaryAfter)}
                  slack:
                    channel: \(FakeSlackServer.defaultChannel)
                    api_url: \(slack.apiURL)
                    bot_token_file: \(try SlackAcceptanceTests.secretFile("bot.token", FakeSlackServer.botToken))
                    app_token_file: \(try SlackAcceptanceTests.secretFile("app.token", FakeSlackServer.appToken))
                engineers:
                """)
            .replacingOccurrences(of: "    roles: [responder]", with: "    slack: \(SlackAcceptanceTests.ana)\n    roles: [responder]")
    }

    /// Announced on Telegram; Telegram then fails the announcement's edit until it is out of
    /// service, while the engineer acknowledges on Slack. Once Telegram is back, its
    /// announcement says who acknowledged it and no longer offers Ack.
    @Test func anAckDuringTheFailoverEditsTheTelegramAnnouncementOnceTelegramIsBack() async throws {
        let slack = try await FakeSlackServer.start()
        do {
            try await TelegramAcceptanceTests.withFake { telegram in
                let server = try await TeleOpsServer(extraYAML: try Self.yaml(telegram, slack, retryPrimaryAfter: "3s"))
                defer { server.stop() }
                #expect(try await server.post(TelegramAcceptanceTests.disk).status == 202)
                let announced = try await telegram.waitForMessage(containing: "#1 CRITICAL web-1 · disk_usage", timeout: .seconds(30))
                #expect(announced.buttons.contains { $0.command == "#1 ack" })

                // Two failures take Telegram out of service (the edit is owed); it works again after.
                telegram.failNext(.serverError, count: 2)
                try await slack.userTypes(user: SlackAcceptanceTests.ana, text: "#1 ack")
                _ = try await slack.waitForMessage(containing: "#1 acknowledged by ana", timeout: .seconds(20))
                let edited = try await telegram.waitForMessage(containing: "Acknowledged by ana", timeout: .seconds(30))
                #expect(edited.id == announced.id, "the announcement itself was edited")
                #expect(!edited.buttons.contains { $0.command == "#1 ack" }, "no Ack button once acknowledged")
                // The fake records a call once it is answered, after the message changed.
                try await telegram.waitForRequest(method: "editmessagetext") { $0.status == 200 }
                let statuses = telegram.requests(method: "editmessagetext").map(\.status)
                #expect(statuses.filter { $0 >= 500 }.count == 2 && statuses.last == 200,
                        "failed twice, then made once Telegram was back: \(statuses)")
            }
        } catch {
            await slack.stop()
            throw error
        }
        await slack.stop()
    }

    @Test func aFailingTelegramFailsOverToSlack() async throws {
        let slack = try await FakeSlackServer.start()
        do {
            try await TelegramAcceptanceTests.withFake { telegram in
                telegram.failNext(.serverError, count: 100_000)
                let yaml = try Self.yaml(telegram, slack, retryPrimaryAfter: "5m")
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
