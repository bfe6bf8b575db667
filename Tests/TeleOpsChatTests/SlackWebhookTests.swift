import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// The Events API routes, called directly with signed requests (and over HTTP by the fake).
@Suite struct SlackWebhookTests {
    static let secret = "test-signing-secret"

    private func transport(inbox: MemoryChatInbox = MemoryChatInbox(), log: LogCapture = LogCapture()) -> SlackTransport {
        SlackTransport(
            settings: SlackSettings(botToken: "xoxb-1", signingSecret: Self.secret, channel: "C111", receiveMode: .eventsAPI),
            inbox: inbox, logger: log.logger)
    }

    private func webhook(_ slack: SlackTransport, _ path: String) throws -> any ChatWebhook {
        try #require(slack.webhooks.first { $0.path == path })
    }

    /// The SDK sample's event_callback. Its authorizations name U333 as the bot but its text
    /// mentions U111; U111 is made the bot here, as in a real delivery.
    private var messageBody: String {
        let payload = try! JSONParser.parse(Data(SlackSamples.socketModeMessage.utf8))["payload"]!
        return payload.compactJSON.replacingOccurrences(of: "U333", with: "U111")
    }

    @Test func routesAreMountedOnlyForTheEventsAPI() {
        #expect(transport().webhooks.map(\.path) == ["/v1/chat/slack/events", "/v1/chat/slack/interactivity", "/v1/chat/slack/commands"])
        let socket = SlackTransport(
            settings: SlackSettings(botToken: "xoxb-1", appToken: "xapp-1", channel: "C1"), inbox: MemoryChatInbox(),
            logger: LogCapture().logger)
        #expect(socket.webhooks.isEmpty)
    }

    @Test func urlVerificationAnswersTheChallenge() async throws {
        let response = try await webhook(transport(), SlackSettings.eventsPath).handle(slackRequest(SlackSamples.urlVerification, secret: Self.secret))
        #expect(response.status == 200)
        #expect(response.json?["challenge"] == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    }

    @Test func badSignaturesAreRefusedNamingTheHeader() async throws {
        let events = try webhook(transport(), SlackSettings.eventsPath)
        let good = slackRequest(SlackSamples.urlVerification, secret: Self.secret)
        var tampered = good
        tampered.body += Array(" ".utf8)
        var missing = good
        missing.headers["x-slack-signature"] = nil
        let wrongSecret = slackRequest(SlackSamples.urlVerification, secret: "other")
        for (request, header) in [(tampered, "X-Slack-Signature"), (missing, "X-Slack-Signature"), (wrongSecret, "X-Slack-Signature")] {
            let response = await events.handle(request)
            #expect(response.status == 401)
            #expect(response.json?["error"] == "invalid_signature")
            #expect(response.json?["message"]?.stringValue?.contains(header) == true)
        }
        var noTimestamp = good
        noTimestamp.headers["x-slack-request-timestamp"] = nil
        let response = await events.handle(noTimestamp)
        #expect(response.status == 401)
        #expect(response.json?["message"]?.stringValue?.contains("X-Slack-Request-Timestamp") == true)
    }

    @Test(arguments: [-301, 301, 86_400]) func staleTimestampsAreRefused(_ offset: Int) async throws {
        let request = slackRequest(SlackSamples.urlVerification, secret: Self.secret, at: Int(Date().timeIntervalSince1970) - offset)
        let response = try await webhook(transport(), SlackSettings.eventsPath).handle(request)
        #expect(response.status == 401)
        #expect(response.json?["error"] == "stale_timestamp")
        #expect(response.json?["message"]?.stringValue?.contains("5 minutes") == true)
    }

    @Test(arguments: [("{not json", "not JSON"), ("[1]", "array"), (#"{"kind":"x"}"#, "\"type\""),
                      (#"{"type":"url_verification"}"#, "challenge")])
    func badBodiesAre400SayingWhy(_ body: String, _ expected: String) async throws {
        let response = try await webhook(transport(), SlackSettings.eventsPath).handle(slackRequest(body, secret: Self.secret))
        #expect(response.status == 400)
        #expect(response.json?["message"]?.stringValue?.contains(expected) == true, "\(response.text)")
    }

    @Test func aRetriedEventIsDeliveredOnce() async throws {
        let inbox = MemoryChatInbox()
        let slack = transport(inbox: inbox)
        let events = try webhook(slack, SlackSettings.eventsPath)
        try await collectingIncoming(slack) { received in
            let first = await events.handle(slackRequest(messageBody, secret: Self.secret))
            let retry = await events.handle(slackRequest(
                messageBody, secret: Self.secret, extraHeaders: ["X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"]))
            #expect(first.status == 200)
            #expect(retry.status == 200)
            let message = try await received.waitFor(what: "the message") { _ in true }
            #expect(message.text == "Hi here!")
            #expect(message.inboxID == 1, "stored before it was delivered")
            // A later, different event passes; had the retry been delivered it would come first.
            let later = messageBody.replacingOccurrences(of: "Ev111", with: "Ev112").replacingOccurrences(of: "Hi here!", with: "second")
            _ = await events.handle(slackRequest(later, secret: Self.secret))
            _ = try await received.waitFor(what: "the second message") { $0.text == "second" }
            #expect(received.all.map(\.text) == ["Hi here!", "second"])
        }
        #expect(inbox.stored.all.count == 2)
    }

    @Test func aStoreFailureIs500SoSlackRetries() async throws {
        let inbox = MemoryChatInbox()
        let slack = transport(inbox: inbox)
        let events = try webhook(slack, SlackSettings.eventsPath)
        inbox.failNextReceives(1)
        let failed = await events.handle(slackRequest(messageBody, secret: Self.secret))
        #expect(failed.status == 500)
        let retried = await events.handle(slackRequest(messageBody, secret: Self.secret, extraHeaders: ["X-Slack-Retry-Num": "1"]))
        #expect(retried.status == 200)
        #expect(inbox.stored.all.map(\.text) == ["Hi here!"])
    }

    @Test func appRateLimitedIsAWarning() async throws {
        let log = LogCapture()
        let response = try await webhook(transport(log: log), SlackSettings.eventsPath).handle(slackRequest(SlackSamples.appRateLimited, secret: Self.secret))
        #expect(response.status == 200)
        #expect(log.lines.all.contains { $0.hasPrefix("warning") && $0.contains("app_rate_limited") })
    }

    @Test func interactivityBlockActionsIsAButtonPress() async throws {
        let inbox = MemoryChatInbox()
        let slack = transport(inbox: inbox)
        let payload = try JSONParser.parse(Data(SlackSamples.blockActionsEnvelope.utf8))["payload"]!.compactJSON
        let body = "payload=" + payload.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let response = try await webhook(slack, SlackSettings.interactivityPath).handle(slackRequest(body, secret: Self.secret))
        #expect(response.status == 200)
        let press = try #require(inbox.stored.all.first)
        #expect(press.kind == .button)
        #expect(press.text == "click_me_123")
        #expect(press.replyTo == MessageRef(transport: "slack", chat: "C123ABC456", messageID: "1548261231.000200"))

        let notForm = try await webhook(slack, SlackSettings.interactivityPath).handle(slackRequest(payload, secret: Self.secret))
        #expect(notForm.status == 400)
        #expect(notForm.json?["message"]?.stringValue?.contains("payload=") == true)
    }

    @Test func slashCommandsOverHTTP() async throws {
        let inbox = MemoryChatInbox()
        let slack = transport(inbox: inbox)
        let commands = try webhook(slack, SlackSettings.commandsPath)
        // The documented vector's body, signed anew (its own timestamp is years old).
        let response = await commands.handle(slackRequest(SlackSamples.slashCommandForm, secret: Self.secret))
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        let command = try #require(inbox.stored.all.first)
        #expect(command.userID == "U2CERLKJA")
        #expect(command.ref.chat == "G8PSS9T3V")
        #expect(command.text == "")
        let typed = SlackSamples.slashCommandForm.replacingOccurrences(of: "text=&", with: "text=ack+%233&")
            .replacingOccurrences(of: "trigger_id=398738663015", with: "trigger_id=398738663016")
        _ = await commands.handle(slackRequest(typed, secret: Self.secret))
        #expect(inbox.stored.all.last?.text == "ack #3")
    }

    @Test func theDocumentedRequestIsRefusedAsStale() async throws {
        // Signed correctly, but in 2018: a replay.
        let request = ChatWebhookRequest(
            headers: ["x-slack-request-timestamp": "1531420618",
                      "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"],
            body: Array(SlackSamples.slashCommandForm.utf8))
        let slack = SlackTransport(
            settings: SlackSettings(botToken: "xoxb-1", signingSecret: "8f742231b10e8888abcd99yyyzzz85a5", channel: "C1", receiveMode: .eventsAPI),
            inbox: MemoryChatInbox(), logger: LogCapture().logger)
        let response = try await webhook(slack, SlackSettings.commandsPath).handle(request)
        #expect(response.status == 401)
        #expect(response.json?["error"] == "stale_timestamp")
    }
}
