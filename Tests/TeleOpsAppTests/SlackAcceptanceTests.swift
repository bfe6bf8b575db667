import Foundation
import Testing
import TeleOpsTesting

/// Black-box, with Slack as the chat: the real `teleops serve` binary against a fake Slack
/// (Web API over real HTTP), receiving over Socket Mode (a real WebSocket) or the Events API
/// (requests signed with the signing secret, to the server's own HTTP port).
@Suite(.serialized) struct SlackAcceptanceTests {
    static let ana = "U0ANA0001"
    static let mallory = "U0MALLORY"
    static let signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
    static let disk = Data(#"{"host":"web-1","check":"disk_usage","severity":"critical","status":"firing","summary":"/var is 95% full"}"#.utf8)

    /// A file only this user can read, holding `secret`.
    static func secretFile(_ name: String, _ secret: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-slack-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try secret.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return path
    }

    static func yaml(_ fake: FakeSlackServer, receive: String) throws -> String {
        let credentials = receive == "socket_mode"
            ? "app_token_file: \(try secretFile("app.token", FakeSlackServer.appToken))"
            : "signing_secret_file: \(try secretFile("signing.secret", signingSecret))"
        return """
            chat:
              slack:
                channel: \(FakeSlackServer.defaultChannel)
                api_url: \(fake.apiURL)
                receive: \(receive)
                bot_token_file: \(try secretFile("bot.token", FakeSlackServer.botToken))
                \(credentials)
            engineers:
              - name: ana
                slack: \(ana)
                roles: [responder]
            """
    }

    /// Alert → announcement with buttons; a reply in its thread runs on a worker and the result
    /// lands in the thread; a stranger is refused; the Ack button acknowledges and the
    /// announcement is edited.
    func conversation(_ fake: FakeSlackServer, _ server: TeleOpsServer) async throws {
        #expect(try await server.post(Self.disk).status == 202)
        let announcement = try await fake.waitForMessage(containing: "#1 CRITICAL web-1 · disk_usage", timeout: .seconds(20))
        #expect(announcement.buttons.map(\.value) == ["#1 ack", "#1 resolve", "#1 silence 1h", "#1 run disk"])

        try await fake.userTypes(user: Self.ana, text: "run disk", threadTS: announcement.ts)
        let result = try await fake.waitForMessage(containing: "#1 disk on web-1: exit 0", timeout: .seconds(20))
        #expect(result.threadTS == announcement.ts, "the result is in the alert's thread")

        try await fake.userTypes(user: Self.mallory, text: "run disk", threadTS: announcement.ts)
        let refusal = try await fake.waitForMessage(containing: "only engineers listed", timeout: .seconds(20))
        #expect(refusal.threadTS == announcement.ts)

        try await fake.userPresses(messageTS: announcement.ts, command: "#1 ack", user: Self.ana)
        _ = try await fake.waitForMessage(containing: "#1 acknowledged by ana", timeout: .seconds(20))
        var edited = fake.message(announcement.ts)
        for _ in 0..<100 where edited?.shownText.contains("Acknowledged by ana") != true {
            try await Task.sleep(for: .milliseconds(50))
            edited = fake.message(announcement.ts)
        }
        #expect(edited?.shownText.contains("👍 Acknowledged by ana") == true, "the announcement shows who acknowledged")
        #expect(edited?.buttons.map(\.label) == ["Resolve", "Silence 1h", "▶ disk"])

        let json = try await server.cli(["scenarios", "show", "1", "--json"])
        let detail = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let kinds = (detail["events"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds.contains("reply_refused"), "the stranger is recorded: \(kinds)")
        #expect(kinds.filter { $0 == "command_finished" }.count == 1)
        #expect(kinds.contains("acknowledged"))
    }

    @Test func overSocketMode() async throws {
        let fake = try await FakeSlackServer.start()
        let server = try await TeleOpsServer(extraYAML: try Self.yaml(fake, receive: "socket_mode"))
        defer { server.stop() }
        do {
            try await conversation(fake, server)
            #expect(fake.unackedEnvelopes.isEmpty, "every envelope was acknowledged")
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    @Test func overTheEventsAPIWithSignedRequests() async throws {
        let fake = try await FakeSlackServer.start()
        let server = try await TeleOpsServer(extraYAML: try Self.yaml(fake, receive: "events_api"))
        defer { server.stop() }
        fake.deliverEvents(to: "\(server.baseURL)/v1/chat/slack/events", signingSecret: Self.signingSecret)
        do {
            try await conversation(fake, server)
            let answered = fake.deliveries.all.compactMap(\.status)
            #expect(!answered.isEmpty && answered.allSatisfy { $0 == 200 }, "every signed request was taken: \(answered)")

            // A request signed with another secret is refused and changes nothing.
            let forged = try await server.http.send(
                method: "POST", url: "\(server.baseURL)/v1/chat/slack/events",
                headers: ["Content-Type": "application/json", "X-Slack-Request-Timestamp": "\(Int(Date().timeIntervalSince1970))",
                          "X-Slack-Signature": "v0=" + String(repeating: "0", count: 64)],
                body: Data(#"{"type":"event_callback","event_id":"Ev1","event":{"type":"message","user":"U0ANA0001","text":"resolve","channel":"C0ONCALL1","ts":"1.2"}}"#.utf8))
            #expect(forged.status == 401)
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }
}
