import Foundation
import Synchronization
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// The Telegram transport in webhook mode: the secret header, bad bodies, storage failures,
/// and Telegram's redeliveries over real HTTP from the fake.
@Suite struct TelegramWebhookTests {
    static let secret = "s3cret_webhook-Token"
    static let header = "x-telegram-bot-api-secret-token"

    static func update(_ id: Int, text: String = "ack") -> [UInt8] {
        Array(#"""
        {"update_id":\#(id),"message":{"message_id":1367,"from":{"id":1111111,"is_bot":false,"first_name":"Test","username":"Test"},
         "chat":{"id":-1001234567890,"title":"oncall","type":"supergroup"},"date":1441645600,"text":"\#(text)"}}
        """#.utf8)
    }

    @Test func theSecretHeaderIsCheckedAndUpdatesAreStoredOnce() async throws {
        try await TelegramHarness.with(configure: { _, settings in
            settings.receive = .webhook(url: "http://127.0.0.1:9/v1/chat/telegram", secret: Self.secret)
        }) { h in
            let webhook = h.telegram.webhook
            #expect(webhook.path == "/v1/chat/telegram")
            for headers in [[Self.header: "wrong"], [:], [Self.header: Self.secret + "x"]] {
                let answer = await webhook.handle(ChatWebhookRequest(headers: headers, body: Self.update(1)))
                #expect(answer.status == 401)
                #expect(String(decoding: answer.body, as: UTF8.self).contains("X-Telegram-Bot-Api-Secret-Token"))
            }
            let bad = await webhook.handle(ChatWebhookRequest(headers: [Self.header: Self.secret], body: Array("{\"update_id\":".utf8)))
            #expect(bad.status == 400)
            #expect(String(decoding: bad.body, as: UTF8.self).contains("not a Telegram Update"))

            for _ in 0..<2 {
                let answer = await webhook.handle(ChatWebhookRequest(headers: [Self.header: Self.secret], body: Self.update(7)))
                #expect(answer.status == 200)
                #expect(answer.body == Array("{}".utf8))
            }
            #expect(h.inbox.stored.all.map(\.deliveryID) == ["update:7"])

            h.inbox.failNextReceives(1)
            let unstored = await webhook.handle(ChatWebhookRequest(headers: [Self.header: Self.secret], body: Self.update(8)))
            #expect(unstored.status == 500)
            let retried = await webhook.handle(ChatWebhookRequest(headers: [Self.header: Self.secret], body: Self.update(8)))
            #expect(retried.status == 200)
            #expect(h.inbox.stored.all.map(\.deliveryID) == ["update:7", "update:8"])
        }
    }

    @Test func aPollingTransportTurnsWebhookCallsAway() async throws {
        try await TelegramHarness.with { h in
            let answer = await h.telegram.webhook.handle(ChatWebhookRequest(headers: [Self.header: "anything"], body: Self.update(1)))
            #expect(answer.status == 404)
            #expect(h.inbox.stored.count == 0)
        }
    }

    @Test func updatesArriveOverTheWebhookAndARedeliveryIsDeliveredOnce() async throws {
        try await FakeTelegramServer.with(options: TelegramHarness.fakeOptions) { fake in
            fake.addChat(.supergroup(id: TelegramHarness.chatID, title: "oncall"))
            let relay = WebhookRelay()
            try await ChatWebhookServer.with([relay]) { base in
                var settings = TelegramHarness.testSettings(for: fake)
                let url = base + "/v1/chat/telegram"
                settings.receive = .webhook(url: url, secret: Self.secret)
                try settings.validate()
                let inbox = MemoryChatInbox()
                let logs = LogCapture()
                let telegram = TelegramTransport(settings: settings, inbox: inbox, logger: logs.logger)
                relay.target.withLock { $0 = telegram.webhook }
                try await withIncoming(telegram) { incoming in
                    try await TelegramHarness.running(telegram) {
                        try await fake.waitForRequest(method: "setWebhook") { $0.status == 200 }
                        #expect(fake.webhookURL == url)
                        #expect(fake.requests(method: "setWebhook").last?.params["secret_token"] == .string(Self.secret))
                        #expect(fake.requests(method: "setWebhook").last?.params["allowed_updates"] == ["message", "callback_query"])

                        // The first answer is lost on the way back: Telegram delivers the update again.
                        relay.loseAnswers.withLock { $0 = 1 }
                        try fake.userTypes(chat: TelegramHarness.chatID, from: TelegramHarness.ana, text: "ack")
                        _ = try await fake.webhookDeliveries.waitFor(what: "a delivery answered 200") { $0.status == 200 }
                        #expect(fake.webhookDeliveries.all.map(\.status) == [502, 200])
                        let ack = try await incoming.waitFor(what: "the ack") { $0.text == "ack" }
                        #expect(ack.userID == String(TelegramHarness.ana.id))
                        #expect(inbox.stored.count == 1)
                        #expect(incoming.count == 1)
                        #expect(fake.pendingUpdateCount == 0)
                    }
                }
                #expect(!logs.lines.all.contains { $0.contains(fake.token) })
            }
        }
    }

    @Test func aRefusedWebhookIsReportedClearly() async throws {
        try await TelegramHarness.with(configure: { fake, settings in
            settings.receive = .webhook(url: "https://teleops.example.com:8443/v1/chat/telegram", secret: Self.secret)
            fake.failNext(.error(code: 400, description: "Bad Request: bad webhook: Failed to resolve host: Name or service not known"), methods: ["setwebhook"])
        }) { h in
            try await h.whileReceiving {
                let line = try await h.logs.lines.waitFor(what: "the refused webhook error") { $0.contains("refused the webhook") }
                #expect(line.hasPrefix("error"))
                #expect(line.contains("Failed to resolve host"))
                #expect(line.contains("https://teleops.example.com:8443/v1/chat/telegram"))
            }
            #expect(h.fake.requests(method: "setWebhook").count == 1)
        }
    }
}

/// Passes webhook calls to a target set after the server is listening (the transport's
/// settings need the URL first), and can drop answers as a broken network would.
final class WebhookRelay: ChatWebhook {
    let target = Mutex<(any ChatWebhook)?>(nil)
    /// This many answers are replaced by a 502 after the target handled the call.
    let loseAnswers = Mutex(0)
    let path = "/v1/chat/telegram"

    func handle(_ request: ChatWebhookRequest) async -> ChatWebhookResponse {
        guard let target = target.withLock({ $0 }) else { return .json(503, #"{"error":"not ready"}"#) }
        let answer = await target.handle(request)
        let lose = loseAnswers.withLock { count -> Bool in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
        return lose ? .json(502, #"{"error":"lost"}"#) : answer
    }
}
