import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// Posting and editing against the fake Slack, over real HTTP.
@Suite struct SlackWebAPITests {
    private func transport(_ fake: FakeSlackServer, log: LogCapture = LogCapture(), change: (inout SlackSettings) -> Void = { _ in })
        -> SlackTransport
    {
        var settings = SlackSettings.forFake(fake)
        change(&settings)
        return SlackTransport(settings: settings, inbox: MemoryChatInbox(), logger: log.logger)
    }

    @Test func textIsShownAsWritten() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            let text = "<b>& 1 < 2 > 0 &amp; <@U1> <!channel> <https://x|y>"
            let ref = try await slack.post(ChatMessage(text: text))
            #expect(ref.transport == "slack")
            #expect(ref.chat == FakeSlackServer.defaultChannel)
            let message = try #require(fake.message(ref.messageID))
            #expect(message.shownText == text)
            #expect(message.text == "&lt;b&gt;&amp; 1 &lt; 2 &gt; 0 &amp;amp; &lt;@U1&gt; &lt;!channel&gt; &lt;https://x|y&gt;")
            #expect(message.blocks == nil, "no buttons, no blocks")
            let request = try #require(fake.requests.all.last)
            #expect(request.method == "chat.postMessage")
            #expect(request.arguments["unfurl_links"] == .bool(false))
        }
    }

    @Test func tsAreIncreasingAndNamedByTheRef() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            let first = try await slack.post(ChatMessage(text: "one"))
            let second = try await slack.post(ChatMessage(text: "two"))
            #expect(first.messageID == "1700000000.000100")
            #expect(Double(second.messageID)! > Double(first.messageID)!)
        }
    }

    @Test func repliesGoInTheParentsThread() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            let parent = try await slack.post(ChatMessage(text: "#1 CRITICAL web-1 disk"))
            let reply = try await slack.post(ChatMessage(text: "#1 acknowledged", replyTo: parent))
            #expect(fake.message(reply.messageID)?.threadTS == parent.messageID)
            // A ref from another transport, another channel or a slash command is not a thread.
            fake.addChannel("C0OTHER")
            for replyTo in [
                MessageRef(transport: "telegram", chat: FakeSlackServer.defaultChannel, messageID: parent.messageID),
                MessageRef(transport: "slack", chat: "C0OTHER", messageID: parent.messageID),
                MessageRef(transport: "slack", chat: FakeSlackServer.defaultChannel, messageID: "command:1.2.x"),
            ] {
                let top = try await slack.post(ChatMessage(text: "top", replyTo: replyTo))
                #expect(fake.message(top.messageID)?.threadTS == nil, "\(replyTo)")
            }
            let elsewhere = try await slack.post(ChatMessage(chat: "C0OTHER", text: "other channel"))
            #expect(elsewhere.chat == "C0OTHER")
            #expect(fake.message(elsewhere.messageID, in: "C0OTHER") != nil)
        }
    }

    @Test func buttonsAreBlockKitAndAnEditWithoutButtonsRemovesThem() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            let buttons = [ChatButton(label: "Ack", command: "ack"), ChatButton(label: "Silence 1h", command: "silence 1h")]
            let ref = try await slack.post(ChatMessage(text: "#1 CRITICAL <web-1>", buttons: buttons))
            var message = try #require(fake.message(ref.messageID))
            #expect(message.shownText == "#1 CRITICAL <web-1>")
            #expect(message.text == "#1 CRITICAL &lt;web-1&gt;", "the notification fallback")
            #expect(message.buttons.map(\.label) == ["Ack", "Silence 1h"])
            #expect(message.buttons.map(\.value) == ["ack", "silence 1h"])
            #expect(message.buttons.map(\.actionID) == ["teleops-0", "teleops-1"])

            try await slack.edit(ref, text: "#1 acknowledged by ana", buttons: [])
            message = try #require(fake.message(ref.messageID))
            #expect(message.buttons.isEmpty)
            #expect(message.blocks == nil)
            #expect(message.shownText == "#1 acknowledged by ana")
            #expect(message.edits == 1)

            try await slack.edit(ref, text: "#1 acknowledged by ana", buttons: [])
            #expect(fake.message(ref.messageID)?.edits == 2, "editing to the same content succeeds")

            try await slack.edit(ref, text: "#1 again", buttons: [ChatButton(label: "Resolve", command: "resolve")])
            #expect(fake.message(ref.messageID)?.buttons.map(\.value) == ["resolve"])
        }
    }

    @Test func longTextWithButtonsIsSplitOverSections() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            let lines = (1...80).map { "line \($0) " + String(repeating: "&", count: 40) }
            let text = String(lines.joined(separator: "\n").prefix(4000))
            let ref = try await slack.post(ChatMessage(text: text, buttons: [ChatButton(label: "Ack", command: "ack")]))
            let message = try #require(fake.message(ref.messageID))
            #expect(message.shownText == text, "every character is shown, escapes intact")
            guard case .array(let blocks)? = message.blocks else {
                Issue.record("no blocks")
                return
            }
            #expect(blocks.filter { $0["type"] == "section" }.count >= 2)
            let manyButtons = (0..<30).map { ChatButton(label: "b\($0)", command: "run b\($0)") }
            let many = try await slack.post(ChatMessage(text: "many", buttons: manyButtons))
            #expect(fake.message(many.messageID)?.buttons.count == 30, "more than 25 buttons take two actions blocks")
        }
    }

    @Test func textLongerThan4000IsAClientErrorWithoutACall() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            _ = try await slack.post(ChatMessage(text: String(repeating: "x", count: 4000)))
            let before = fake.requests.count
            let error = await #expect(throws: ChatFailure.self) {
                _ = try await slack.post(ChatMessage(text: String(repeating: "x", count: 4001)))
            }
            #expect(error?.reason == .clientError)
            #expect(error?.message.contains("4001") == true)
            let ref = try await slack.post(ChatMessage(text: "short"))
            await #expect(throws: ChatFailure.self) { try await slack.edit(ref, text: String(repeating: "é", count: 4001), buttons: []) }
            #expect(fake.requests.count == before + 1, "only the short post reached Slack")
            // UTF-16: 2000 emoji are 4000 code units.
            _ = try await slack.post(ChatMessage(text: String(repeating: "🔥", count: 2000)))
            await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: String(repeating: "🔥", count: 2001))) }
        }
    }

    @Test func http429IsRateLimitedWithRetryAfter() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            fake.failNext(.rateLimited(retryAfterSeconds: 30))
            let error = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "x")) }
            #expect(error?.reason == .rateLimited)
            #expect(error?.retryAfter == .seconds(30))
            #expect(error?.isRetryable == true)
            #expect(fake.messages().isEmpty)
            _ = try await slack.post(ChatMessage(text: "x"))
        }
    }

    @Test func floodControlAnswers429() async throws {
        // Two posts per 10 minutes: a loaded machine cannot refill the bucket between the posts.
        let options = FakeSlackOptions(floodControl: ChatRate(2, per: .seconds(600)))
        try await withFakeSlack(options: options) { fake in
            let slack = transport(fake)
            _ = try await slack.post(ChatMessage(text: "1"))
            _ = try await slack.post(ChatMessage(text: "2"))
            let error = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "3")) }
            #expect(error?.reason == .rateLimited)
            let wait = try #require(error?.retryAfter)
            #expect(wait > .seconds(250) && wait <= .seconds(300), "one token refills in 300 s: \(wait)")
        }
    }

    static let classification: [(String, ChatFailure.Reason)] = [
        ("ratelimited", .rateLimited), ("rate_limited", .rateLimited),
        ("internal_error", .serverError), ("fatal_error", .serverError), ("service_unavailable", .serverError),
        ("request_timeout", .serverError),
        ("invalid_auth", .unauthorized), ("not_authed", .unauthorized), ("channel_not_found", .clientError),
        ("not_in_channel", .clientError), ("is_archived", .clientError), ("msg_too_long", .clientError),
        ("no_text", .clientError), ("invalid_blocks", .clientError), ("missing_scope", .clientError),
        ("token_revoked", .unauthorized), ("token_expired", .unauthorized), ("account_inactive", .unauthorized),
        ("not_allowed_token_type", .unauthorized), ("cant_update_message", .clientError), ("message_not_found", .clientError),
        ("something_new", .clientError),
    ]

    @Test(arguments: classification) func okFalseIsClassifiedByItsCode(_ code: String, _ reason: ChatFailure.Reason) async throws {
        try await withFakeSlack { fake in
            let log = LogCapture()
            let slack = transport(fake, log: log)
            fake.failNext(.error(code))
            let error = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "x")) }
            #expect(error?.reason == reason)
            #expect(error?.message.contains(code) == true)
            #expect(error?.message.contains(FakeSlackServer.botToken) == false)
        }
    }

    @Test(arguments: [500, 502, 503]) func serverErrorsAreRetryable(_ status: Int) async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            let ref = try await slack.post(ChatMessage(text: "x"))
            fake.failNext(.serverError(status: status), count: 2)
            let post = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "x")) }
            #expect(post?.reason == .serverError)
            #expect(post?.message.contains("\(status)") == true)
            let edit = await #expect(throws: ChatFailure.self) { try await slack.edit(ref, text: "y", buttons: []) }
            #expect(edit?.reason == .serverError)
        }
    }

    @Test func clearedFailuresAreNotAnsweredAndTheLogKeepsEachStatus() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            fake.failNext(.rateLimited(retryAfterSeconds: 2))
            fake.failNext(.serverError(status: 503), count: 100)
            let limited = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "x")) }
            #expect(limited?.retryAfter == .seconds(2))
            await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "x")) }
            fake.clearFailures()
            _ = try await slack.post(ChatMessage(text: "x"))
            #expect(fake.requests(method: "chat.postMessage").map(\.status) == [429, 503, 200])
            #expect(fake.requests(method: "chat.postMessage").map(\.error) == ["ratelimited", nil, nil])
            let answered = try await fake.waitForRequest(method: "chat.postMessage") { $0.status == 200 }
            #expect(answered.channel == FakeSlackServer.defaultChannel)
            #expect(fake.messages().count == 1)
        }
    }

    @Test func realErrorsFromTheFakeAreClientErrors() async throws {
        try await withFakeSlack { fake in
            fake.addChannel("C0NOTIN", botIsMember: false)
            fake.addChannel("C0ARCHIVED", archived: true)
            let slack = transport(fake)
            let cases: [(String, String)] = [("C0MISSING", "channel_not_found"), ("C0NOTIN", "not_in_channel"), ("C0ARCHIVED", "is_archived")]
            for (channel, code) in cases {
                let error = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(chat: channel, text: "x")) }
                #expect(error?.reason == .clientError)
                #expect(error?.message.contains(code) == true, "\(String(describing: error))")
            }
            let empty = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "")) }
            #expect(empty?.message.contains("no_text") == true)
            let missing = MessageRef(transport: "slack", chat: FakeSlackServer.defaultChannel, messageID: "1.000001")
            let edit = await #expect(throws: ChatFailure.self) { try await slack.edit(missing, text: "x", buttons: []) }
            #expect(edit?.message.contains("message_not_found") == true)
            let person = try await fake.userTypes(user: "U0ANA", text: "hello")
            let other = MessageRef(transport: "slack", chat: FakeSlackServer.defaultChannel, messageID: person)
            let notOurs = await #expect(throws: ChatFailure.self) { try await slack.edit(other, text: "x", buttons: []) }
            #expect(notOurs?.message.contains("cant_update_message") == true)
        }
    }

    @Test func badTokensAreUnauthorizedAndNeverShown() async throws {
        try await withFakeSlack { fake in
            let log = LogCapture()
            let cases: [(String, String)] = [("xoxb-wrong-secretpart", "invalid_auth"), ("", "not_authed"), (FakeSlackServer.appToken, "not_allowed_token_type")]
            for (token, code) in cases {
                let slack = transport(fake, log: log) { $0.botToken = token }
                let error = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "x")) }
                #expect(error?.reason == .unauthorized)
                #expect(error?.message.contains(code) == true)
                if !token.isEmpty { #expect(error?.description.contains(token) == false) }
            }
            #expect(!log.lines.all.contains { $0.contains("secretpart") || $0.contains(FakeSlackServer.appToken) })
        }
    }

    @Test func aSlowAnswerIsATimeoutAndARefusedConnectionANetworkError() async throws {
        try await withFakeSlack { fake in
            fake.failNext(.slow(.seconds(3)))
            let slack = SlackTransport(
                settings: .forFake(fake), inbox: MemoryChatInbox(), client: CurlHTTPClient(connectTimeout: .seconds(1), totalTimeout: .milliseconds(300)),
                logger: LogCapture().logger)
            let slow = await #expect(throws: ChatFailure.self) { _ = try await slack.post(ChatMessage(text: "x")) }
            #expect(slow?.reason == .timeout)
        }
        let nowhere = SlackTransport(
            settings: SlackSettings(botToken: "xoxb-1", channel: "C1", receiveMode: .eventsAPI).with { $0.apiURL = "http://127.0.0.1:1/api" },
            inbox: MemoryChatInbox(), logger: LogCapture().logger)
        let refused = await #expect(throws: ChatFailure.self) { _ = try await nowhere.post(ChatMessage(text: "x")) }
        #expect(refused?.reason == .network)
    }

    @Test func everyCallCarriesTheBotTokenAsBearer() async throws {
        try await withFakeSlack { fake in
            let slack = transport(fake)
            let ref = try await slack.post(ChatMessage(text: "x"))
            try await slack.edit(ref, text: "y", buttons: [])
            #expect(fake.requests.all.map(\.method) == ["chat.postMessage", "chat.update"])
            #expect(fake.requests.all.allSatisfy { $0.status == 200 && $0.error == nil })
        }
    }
}

extension SlackSettings {
    func with(_ change: (inout SlackSettings) -> Void) -> SlackSettings {
        var copy = self
        change(&copy)
        return copy
    }
}
