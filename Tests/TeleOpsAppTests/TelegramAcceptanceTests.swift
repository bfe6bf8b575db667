import Foundation
import Testing
import TeleOpsTesting

/// Black-box, with Telegram as the chat: the real `teleops serve` binary polling a fake
/// Telegram Bot API server over real HTTP, real SQLite, real workers.
@Suite(.serialized) struct TelegramAcceptanceTests {
    static let chat: Int64 = -1_001_234_567_890
    static let ana = FakeTelegramUser(id: 1_111_111, firstName: "Ana", username: "ana")
    static let mallory = FakeTelegramUser(id: 6_666_666, firstName: "Mallory", username: "mallory")
    static let disk = Data(#"{"host":"web-1","check":"disk_usage","severity":"critical","status":"firing","summary":"/var is 95% full"}"#.utf8)

    /// The configuration for a server using `fake`, with its token in a file only we can read.
    static func yaml(_ fake: FakeTelegramServer) throws -> String {
        let secrets = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-telegram-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        let tokenFile = secrets.appendingPathComponent("telegram.token").path
        try fake.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokenFile)
        return """
            chat:
              telegram:
                chat: "\(chat)"
                api_url: \(fake.apiURL)
                token_file: \(tokenFile)
                poll_timeout: 1s
            engineers:
              - name: ana
                telegram: "\(ana.id)"
                roles: [responder]
            """
    }

    static func withFake(_ body: (FakeTelegramServer) async throws -> Void) async throws {
        var options = FakeTelegramServer.Options()
        options.strictEntities = true
        try await FakeTelegramServer.with(options: options) { fake in
            fake.addChat(.supergroup(id: chat, title: "oncall"))
            try await body(fake)
        }
    }

    @Test func alertToTelegramReplyRunsOnAWorkerButtonAcksStrangerRefused() async throws {
        try await Self.withFake { fake in
            let server = try await TeleOpsServer(extraYAML: try Self.yaml(fake))
            defer { server.stop() }
            #expect(try await server.post(Self.disk).status == 202)
            let announcement = try await fake.waitForMessage(containing: "#1 CRITICAL web-1 · disk_usage", in: Self.chat, timeout: .seconds(20))
            #expect(announcement.buttons.map(\.label) == ["Ack", "Resolve", "Silence 1h", "▶ disk"])
            #expect(announcement.parseMode == "HTML")

            try fake.userTypes(chat: Self.chat, from: Self.ana, text: "run disk", replyTo: announcement.id)
            let result = try await fake.waitForMessage(containing: "#1 disk on web-1: exit 0", in: Self.chat, timeout: .seconds(20))
            #expect(result.replyTo != nil, "the result is threaded")
            #expect(result.text.contains("Filesystem"))

            try fake.userTypes(chat: Self.chat, from: Self.mallory, text: "run disk", replyTo: announcement.id)
            _ = try await fake.waitForMessage(containing: "only engineers listed", in: Self.chat, timeout: .seconds(20))

            let queryID = try fake.userPresses(chat: Self.chat, messageID: announcement.id, data: "#1 ack", from: Self.ana)
            _ = try await fake.waitForMessage(containing: "#1 acknowledged by ana", in: Self.chat, timeout: .seconds(20))
            #expect(fake.callbackQueryAnswered(queryID) == true, "the button press was answered")
            var edited = fake.message(announcement.id, in: Self.chat)
            for _ in 0..<100 where edited?.text.contains("👍 Acknowledged by ana") != true {
                try await Task.sleep(for: .milliseconds(50))
                edited = fake.message(announcement.id, in: Self.chat)
            }
            #expect(edited?.text.contains("👍 Acknowledged by ana") == true, "the announcement shows who acknowledged")
            #expect(edited?.buttons.map(\.label) == ["Resolve", "Silence 1h", "▶ disk"], "no Ack button any more")

            let json = try await server.cli(["scenarios", "show", "1", "--json"])
            let detail = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let kinds = (detail["events"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
            #expect(kinds.contains("reply_refused"), "the stranger is recorded: \(kinds)")
            #expect(kinds.filter { $0 == "command_finished" }.count == 1, "only ana's command ran")
            #expect(kinds.contains("acknowledged"))
        }
    }

    /// `chat.routes`: a database alert is announced in the forum's database topic and its
    /// command result stays there; a payments alert goes to another group; the rest to the
    /// configured topic.
    @Test func routesAnnounceInTheirTopicOrChatAndTheThreadStaysThere() async throws {
        let payments: Int64 = -1_009_999_000_001
        var options = FakeTelegramServer.Options()
        options.strictEntities = true
        try await FakeTelegramServer.with(options: options) { fake in
            fake.addChat(.supergroup(id: Self.chat, title: "oncall", forum: true))
            fake.addChat(.supergroup(id: payments, title: "payments"))
            let alertsTopic = try fake.createTopic(in: Self.chat, name: "alerts")
            let databaseTopic = try fake.createTopic(in: Self.chat, name: "database")
            let yaml = try Self.yaml(fake).replacingOccurrences(
                of: "    poll_timeout: 1s\n", with: """
                    poll_timeout: 1s
                    topic: \(alertsTopic)
                  routes:
                    - name: database
                      match: {host: "db-*"}
                      telegram: {topic: \(databaseTopic)}
                    - name: payments
                      match: {labels: {team: payments}}
                      telegram: {chat: "\(payments)"}

                """)
            let server = try await TeleOpsServer(extraYAML: yaml)
            defer { server.stop() }
            let alerts = [
                #"{"host":"db-1","check":"replication","severity":"critical","status":"firing","summary":"lag 40s"}"#,
                #"{"host":"pay-1","check":"queue","severity":"warning","status":"firing","summary":"queue deep","labels":{"team":"payments"}}"#,
                #"{"host":"web-1","check":"disk","severity":"warning","status":"firing","summary":"/var 91%"}"#,
            ]
            for alert in alerts { #expect(try await server.post(Data(alert.utf8)).status == 202) }

            let database = try await fake.waitForMessage(containing: "db-1 · replication", timeout: .seconds(20))
            #expect(database.chatID == Self.chat && database.threadID == databaseTopic, "in the database topic")
            let pay = try await fake.waitForMessage(containing: "pay-1 · queue", timeout: .seconds(20))
            #expect(pay.chatID == payments && pay.threadID == nil, "in the payments group")
            let web = try await fake.waitForMessage(containing: "web-1 · disk", timeout: .seconds(20))
            #expect(web.chatID == Self.chat && web.threadID == alertsTopic, "no route: the configured topic")

            try fake.userTypes(chat: Self.chat, from: Self.ana, text: "run disk", replyTo: database.id)
            let result = try await fake.waitForMessage(containing: "disk on db-1: exit 0", timeout: .seconds(20))
            #expect(result.chatID == Self.chat && result.threadID == databaseTopic, "the result stays in the topic")
        }
    }

    @Test func inWebhookModeTelegramCallsTheServerWithItsSecret() async throws {
        try await Self.withFake { fake in
            let reserved = try ReservedLoopbackPort()
            let port = reserved.port
            let secret = "webhook_secret-0123456789"
            let secretFile = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-hook-\(UUID().uuidString)").path
            try secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secretFile)
            defer { try? FileManager.default.removeItem(atPath: secretFile) }
            let yaml = try Self.yaml(fake).replacingOccurrences(of: "    poll_timeout: 1s", with: """
                    receive: webhook
                    webhook_url: http://127.0.0.1:\(port)/v1/chat/telegram
                    webhook_secret_file: \(secretFile)
                """)
            let server = try await TeleOpsServer(extraYAML: yaml, httpPort: port)
            reserved.release()
            defer { server.stop() }
            _ = try await fake.waitForRequest(method: "setWebhook", timeout: .seconds(20))
            #expect(try await server.post(Self.disk).status == 202)
            let announcement = try await fake.waitForMessage(containing: "#1 CRITICAL", in: Self.chat, timeout: .seconds(20))
            try fake.userTypes(chat: Self.chat, from: Self.ana, text: "status", replyTo: announcement.id)
            _ = try await fake.waitForMessage(containing: "#1 open · critical", in: Self.chat, timeout: .seconds(20))
            #expect(fake.webhookDeliveries.all.contains { $0.status == 200 }, "the update was delivered to the webhook")

            // Anyone else calling the webhook URL without the secret is refused.
            let forged = try await server.http.send(
                method: "POST", url: "http://127.0.0.1:\(port)/v1/chat/telegram", headers: ["Content-Type": "application/json"],
                body: Data(#"{"update_id":1,"message":{"message_id":9,"date":1,"chat":{"id":-1001234567890,"type":"supergroup"},"from":{"id":1111111,"is_bot":false,"first_name":"Ana"},"text":"resolve"}}"#.utf8))
            #expect(forged.status == 401)
        }
    }

    @Test func a429StormDelaysButLosesNothing() async throws {
        try await Self.withFake { fake in
            let server = try await TeleOpsServer(extraYAML: try Self.yaml(fake))
            defer { server.stop() }
            fake.failNext(.rateLimited(retryAfterSeconds: 1), count: 3)
            for index in 1...3 {
                let alert = #"{"host":"web-\#(index)","check":"disk","severity":"warning","status":"firing","summary":"storm \#(index)"}"#
                #expect(try await server.post(Data(alert.utf8)).status == 202)
            }
            for index in 1...3 {
                _ = try await fake.waitForMessage(containing: "storm \(index)", in: Self.chat, timeout: .seconds(30))
            }
            let announced = fake.botMessages(in: Self.chat).map(\.text).filter { $0.contains("storm") }
            #expect(announced.count == 3)
            // The fake logs a request once it has answered it: wait for the last answer to be logged.
            for _ in 0..<100 where fake.requests(method: "sendmessage").count < 6 { try await Task.sleep(for: .milliseconds(20)) }
            let statuses = fake.requests(method: "sendmessage").map(\.status)
            #expect(statuses.filter { $0 == 429 }.count == 3, "three 429s: \(statuses)")
            #expect(statuses.filter { $0 == 200 }.count == 3, "then three posts: \(statuses)")
        }
    }

    @Test func killedWithMessagesInTheOutboxDeliversThemAfterRestart() async throws {
        try await Self.withFake { fake in
            let yaml = try Self.yaml(fake)
            fake.failNext(.serverError, count: 100_000)
            let server = try await TeleOpsServer(extraYAML: yaml)
            let directory = server.dataDirectory
            for index in 1...5 {
                let alert = #"{"host":"db-\#(index)","check":"replication","severity":"critical","status":"firing","summary":"lag \#(index)"}"#
                #expect(try await server.post(Data(alert.utf8)).status == 202)
            }
            _ = try await fake.waitForRequest(method: "sendmessage", timeout: .seconds(20))
            server.process.signal(SIGKILL)
            _ = try await server.process.waitForExit()
            fake.clearFailures()
            #expect(fake.botMessages(in: Self.chat).isEmpty, "nothing got through before the kill")

            let restarted = try await TeleOpsServer(extraYAML: yaml, dataDirectory: directory)
            defer { restarted.stop() }
            for index in 1...5 {
                _ = try await fake.waitForMessage(containing: "lag \(index)", in: Self.chat, timeout: .seconds(30))
            }
            let announcements = fake.botMessages(in: Self.chat).filter { $0.text.contains("lag ") }
            #expect(announcements.count == 5, "each once")
            let order = announcements.sorted { $0.id < $1.id }.compactMap { message in (1...5).first { message.text.contains("lag \($0)") } }
            #expect(order == [1, 2, 3, 4, 5], "in the order they were queued")
        }
    }
}
