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

    /// Runs `body` with a fake Slack, stopped afterwards whether `body` throws or not.
    static func withFake(_ body: (FakeSlackServer) async throws -> Void) async throws {
        let fake = try await FakeSlackServer.start()
        do {
            try await body(fake)
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    /// The bot's messages in the channel whose shown text contains `needle`, oldest first.
    static func botMessages(_ fake: FakeSlackServer, containing needle: String) -> [FakeSlackMessage] {
        fake.messages().filter { $0.isFromApp && $0.shownText.contains(needle) }
    }

    /// Waits until the fake has answered `count` chat.postMessage calls with `status`. The fake
    /// logs a call once it has decided its answer, after the message is in the channel.
    static func waitForPosts(_ fake: FakeSlackServer, status: Int, count: Int, timeout: Duration = .seconds(30)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while fake.requests(method: "chat.postMessage").filter({ $0.status == status }).count < count {
            guard clock.now < deadline else {
                throw TestSetupError("fewer than \(count) chat.postMessage answered \(status) after \(timeout): "
                    + "\(fake.requests(method: "chat.postMessage").map(\.status))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Slack refuses the first posts with HTTP 429 and `Retry-After: 2`: the announcements
    /// wait it out each time and all arrive, each once, in order. (2 s, not 1: after a 429 the
    /// outbox's own pacing of one post a second would wait about 1 s even without the header.)
    @Test(arguments: ["socket_mode", "events_api"]) func a429StormDelaysButLosesNothing(receive: String) async throws {
        try await Self.withFake { fake in
            let server = try await TeleOpsServer(extraYAML: try Self.yaml(fake, receive: receive))
            defer { server.stop() }
            if receive == "events_api" {
                fake.deliverEvents(to: "\(server.baseURL)/v1/chat/slack/events", signingSecret: Self.signingSecret)
            }
            let refused = 3
            fake.failNext(.rateLimited(retryAfterSeconds: 2), count: refused)
            for index in 1...3 {
                let alert = #"{"host":"web-\#(index)","check":"disk","severity":"warning","status":"firing","summary":"storm \#(index)"}"#
                #expect(try await server.post(Data(alert.utf8)).status == 202)
            }
            for index in 1...3 {
                _ = try await fake.waitForMessage(containing: "storm \(index)", timeout: .seconds(30))
                try await server.waitForEvent("notified", of: index, timeout: .seconds(30))
            }
            try await Self.waitForPosts(fake, status: 200, count: 3)

            try await Self.expectAnnouncedOnceInOrder(fake, server, "storm ", count: 3)

            let posts = fake.requests(method: "chat.postMessage")
            #expect(posts.map(\.status) == Array(repeating: 429, count: refused) + [200, 200, 200], "the 429s, then the posts")
            // Each retry came after the Retry-After Slack gave, not sooner.
            for (refusal, next) in zip(posts, posts.dropFirst()) where refusal.status == 429 {
                let waited = next.arrivedAt - refusal.arrivedAt
                #expect(waited >= .seconds(2), "retried after \(waited), before Retry-After: 2")
            }
        }
    }

    /// Killed (SIGKILL) while Slack answers every post with 503, with five announcements in the
    /// outbox; restarted on the same data directory with Slack healthy, it posts all five, each
    /// once, in the order they were queued.
    @Test func killedWithMessagesInTheOutboxDeliversThemAfterRestart() async throws {
        try await Self.withFake { fake in
            let yaml = try Self.yaml(fake, receive: "socket_mode")
            fake.failNext(.serverError(status: 503), count: 100_000)
            let server = try await TeleOpsServer(extraYAML: yaml)
            let directory = server.dataDirectory
            let count = 5
            for index in 1...count {
                let alert = #"{"host":"db-\#(index)","check":"replication","severity":"critical","status":"firing","summary":"lag \#(index)"}"#
                #expect(try await server.post(Data(alert.utf8)).status == 202)
            }
            _ = try await fake.waitForRequest(method: "chat.postMessage", timeout: .seconds(20))
            server.process.signal(SIGKILL)
            _ = try await server.process.waitForExit()
            // A retry sent just before the kill may not be answered yet: let the fake answer
            // it (503) before Slack recovers, or it would be posted by a dead controller.
            var answered = fake.requests.count
            while true {
                try await Task.sleep(for: .milliseconds(500))
                if fake.requests.count == answered { break }
                answered = fake.requests.count
            }
            fake.clearFailures()
            #expect(fake.messages().isEmpty, "nothing got through before the kill")
            let refusedBeforeKill = fake.requests(method: "chat.postMessage").map(\.status)
            #expect(!refusedBeforeKill.isEmpty && refusedBeforeKill.allSatisfy { $0 == 503 }, "\(refusedBeforeKill)")

            let restarted = try await TeleOpsServer(extraYAML: yaml, dataDirectory: directory)
            defer { restarted.stop() }
            for index in 1...count {
                _ = try await fake.waitForMessage(containing: "lag \(index)", timeout: .seconds(30))
                try await restarted.waitForEvent("notified", of: index, timeout: .seconds(30))
            }
            try await Self.waitForPosts(fake, status: 200, count: count)

            try await Self.expectAnnouncedOnceInOrder(fake, restarted, "lag ", count: count)
            #expect(fake.requests(method: "chat.postMessage").filter { $0.status == 200 }.count == count, "one post each after the restart")
        }
    }

    /// Scenarios 1...count were each announced once (one message, one `notified`), their
    /// messages (the ones containing `prefix` + number) in scenario order.
    static func expectAnnouncedOnceInOrder(_ fake: FakeSlackServer, _ server: TeleOpsServer, _ prefix: String, count: Int) async throws {
        for index in 1...count {
            #expect(botMessages(fake, containing: "\(prefix)\(index)").count == 1, "\(prefix)\(index) announced once")
            #expect(try await server.eventKinds(of: index).filter { $0 == "notified" }.count == 1)
        }
        let order = botMessages(fake, containing: prefix).compactMap { message in
            (1...count).first { message.shownText.contains("\(prefix)\($0)") }
        }
        #expect(order == Array(1...count), "in the order they were queued")
    }
}
