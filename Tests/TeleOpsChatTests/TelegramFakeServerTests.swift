import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// The fake Bot API server answers as the reference says the real one does: these tests pin
/// the behaviour the transport tests rely on.
@Suite struct TelegramFakeServerTests {
    static let group: Int64 = -1_001_234_567_890
    let client = CurlHTTPClient(connectTimeout: .seconds(2), totalTimeout: .seconds(10))

    func call(
        _ fake: FakeTelegramServer, _ method: String, _ json: String = "{}", token: String? = nil,
        contentType: String = "application/json"
    ) async throws -> HTTPResponse {
        try await client.send(
            method: "POST", url: "\(fake.apiURL)/bot\(token ?? fake.token)/\(method)", headers: ["Content-Type": contentType],
            body: Data(json.utf8))
    }

    static func withFake(strict: Bool = false, _ body: (FakeTelegramServer) async throws -> Void) async throws {
        var options = FakeTelegramServer.Options()
        options.conflictInterval = .milliseconds(50)
        options.strictEntities = strict
        try await FakeTelegramServer.with(options: options) { fake in
            fake.addChat(.supergroup(id: group, title: "oncall"))
            try await body(fake)
        }
    }

    // MARK: Envelope

    @Test func errorsUseTheBotAPIEnvelopeWithTheStatusAsErrorCode() async throws {
        try await Self.withFake { fake in
            let cases: [(String, Int, String)] = [
                ("/nothing", 404, #"{"ok":false,"error_code":404,"description":"Not Found"}"#),
                ("/bot123:wrong/getMe", 401, #"{"ok":false,"error_code":401,"description":"Unauthorized: invalid token specified"}"#),
                ("/bot\(fake.token)/noSuchMethod", 404, #"{"ok":false,"error_code":404,"description":"Not Found: method not found"}"#),
            ]
            for (path, status, body) in cases {
                let response = try await client.send(method: "POST", url: fake.apiURL + path, headers: [:], body: Data("{}".utf8))
                #expect(response.status == status)
                #expect(response.text == body)
            }
            let unknown = try await call(fake, "sendMessage", #"{"chat_id":-100777,"text":"x"}"#)
            #expect(unknown.status == 400)
            #expect(unknown.text == #"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#)
        }
    }

    @Test func methodNamesAreCaseInsensitiveAndFormAndQueryParametersWork() async throws {
        try await Self.withFake { fake in
            let me = try await client.send(method: "GET", url: "\(fake.apiURL)/bot\(fake.token)/GETME", headers: [:], body: nil)
            #expect(me.status == 200)
            #expect(me.text.hasPrefix(#"{"ok":true,"result":{"id":7000000001,"is_bot":true"#))

            let markup = #"{"inline_keyboard":[[{"text":"Ack","callback_data":"ack"}]]}"#
            let form = "chat_id=\(Self.group)&text=%3Cb%3Edisk%3C%2Fb%3E+full&parse_mode=HTML&reply_markup="
                + markup.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let sent = try await call(fake, "SendMessage", form, contentType: "application/x-www-form-urlencoded")
            #expect(sent.status == 200)
            let message = try #require(fake.botMessages(in: Self.group).last)
            #expect(message.text == "disk full")
            #expect(message.buttons == [ChatButton(label: "Ack", command: "ack")])
            #expect(fake.requests.all.map(\.method) == ["getme", "sendmessage"])
        }
    }

    // MARK: sendMessage

    @Test(arguments: [
        ("a < b", #"Bad Request: can't parse entities: Unsupported start tag "" at byte offset 2"#),
        ("<p>x</p>", #"Bad Request: can't parse entities: Unsupported start tag "p" at byte offset 0"#),
        ("<b>x", #"Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b""#),
        ("x</b>", "Bad Request: can't parse entities: Unexpected end tag at byte offset 1"),
        ("<b>x</i>", #"Bad Request: can't parse entities: Unmatched end tag at byte offset 4, expected "</b>", found "</i>""#),
        ("<span>x</span>", #"Bad Request: can't parse entities: Tag "span" must have class "tg-spoiler" at byte offset 0"#),
        ("AT&T", "Bad Request: can't parse entities: Unsupported HTML entity at byte offset 2"),
        ("", "Bad Request: message text is empty"),
        ("<b> </b>", "Bad Request: message text is empty"),
        ("x{4097}", "Bad Request: message is too long"),
        ("&lt;{4097}", "Bad Request: message is too long"),
    ])
    func htmlIsParsedAsTelegramDoes(text: String, error: String) async throws {
        // `piece{n}`: the piece n times (long texts stay readable in the test log).
        var text = text
        if text.hasSuffix("}"), let brace = text.lastIndex(of: "{"), let count = Int(text[text.index(after: brace)...].dropLast()) {
            text = String(repeating: String(text[..<brace]), count: count)
        }
        try await Self.withFake(strict: true) { fake in
            let body = try JSONEncoder().encode(["chat_id": String(Self.group), "text": text, "parse_mode": "HTML"])
            let response = try await call(fake, "sendMessage", String(decoding: body, as: UTF8.self))
            #expect(response.status == 400)
            #expect(response.json?["description"] as? String == error)
        }
    }

    @Test(arguments: [
        ("<b>bold</b> <i>it</i> <a href=\"https://example.com\">link</a> <code>x&lt;y</code>", "bold it link x<y"),
        ("&lt;&gt;&amp;&quot;&laquo;&#33;&#x41;&#12345678;", "<>&\"&laquo;!A&#12345678;"),
        ("<i>a</> <pre><code class=\"language-swift\">let x</code></pre>", "a let x"),
        ("AT&T &lt", "AT&T <"),
        ("<span class=\"tg-spoiler\">s</span><tg-spoiler>t</tg-spoiler><blockquote>q</blockquote>", "stq"),
    ])
    func visibleTextFollowsTDLib(html: String, visible: String) throws {
        #expect(try FakeTelegramHTML.visibleText(html) == visible)
    }

    @Test func repliesButtonsAndThreadsAreChecked() async throws {
        try await Self.withFake { fake in
            let long = String(repeating: "x", count: 65)
            let tooLong = try await call(
                fake, "sendMessage", #"{"chat_id":\#(Self.group),"text":"x","reply_markup":{"inline_keyboard":[[{"text":"Run","callback_data":"\#(long)"}]]}}"#)
            #expect(tooLong.json?["description"] as? String == "Bad Request: BUTTON_DATA_INVALID")

            let orphan = try await call(fake, "sendMessage", #"{"chat_id":\#(Self.group),"text":"x","reply_parameters":{"message_id":999}}"#)
            #expect(orphan.json?["description"] as? String == "Bad Request: message to be replied not found")
            let allowed = try await call(
                fake, "sendMessage", #"{"chat_id":\#(Self.group),"text":"x","reply_parameters":{"message_id":999,"allow_sending_without_reply":true}}"#)
            #expect(allowed.status == 200)

            let reply = try await call(fake, "sendMessage", #"{"chat_id":\#(Self.group),"text":"y","reply_to_message_id":1}"#)
            #expect(reply.status == 200)
            #expect(fake.botMessages(in: Self.group).last?.replyTo == 1)
        }
    }

    @Test func editsReportNotModifiedAndMissingMessagesExactly() async throws {
        try await Self.withFake { fake in
            _ = try await call(fake, "sendMessage", #"{"chat_id":\#(Self.group),"text":"one","reply_markup":{"inline_keyboard":[[{"text":"Ack","callback_data":"ack"}]]}}"#)
            let same = try await call(
                fake, "editMessageText", #"{"chat_id":\#(Self.group),"message_id":1,"text":"one","reply_markup":{"inline_keyboard":[[{"text":"Ack","callback_data":"ack"}]]}}"#)
            #expect(same.text == #"{"ok":false,"error_code":400,"description":"Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"}"#)
            let removed = try await call(fake, "editMessageText", #"{"chat_id":\#(Self.group),"message_id":1,"text":"one"}"#)
            #expect(removed.status == 200)
            #expect(fake.message(1, in: Self.group)?.keyboard == [])
            let missing = try await call(fake, "editMessageText", #"{"chat_id":\#(Self.group),"message_id":42,"text":"two"}"#)
            #expect(missing.json?["description"] as? String == "Bad Request: message to edit not found")
        }
    }

    @Test func aCallbackQueryIsAnsweredOnce() async throws {
        try await Self.withFake { fake in
            _ = try await call(fake, "sendMessage", #"{"chat_id":\#(Self.group),"text":"alert","reply_markup":{"inline_keyboard":[[{"text":"Ack","callback_data":"ack"}]]}}"#)
            let id = try fake.userPresses(chat: Self.group, messageID: 1, data: "ack", from: TelegramHarness.ana)
            let first = try await call(fake, "answerCallbackQuery", #"{"callback_query_id":"\#(id)"}"#)
            #expect(first.text == #"{"ok":true,"result":true}"#)
            let second = try await call(fake, "answerCallbackQuery", #"{"callback_query_id":"\#(id)"}"#)
            #expect(second.json?["description"] as? String == "Bad Request: query is too old and response timeout expired or query ID is invalid")
            #expect(throws: FakeTelegramMisuse.self) { try fake.userPresses(chat: Self.group, messageID: 1, data: "nope", from: TelegramHarness.ana) }
        }
    }

    @Test func anUpgradedGroupAnswersWithTheNewChatID() async throws {
        try await Self.withFake { fake in
            fake.addChat(.group(id: -4_000_000_001, title: "old"))
            fake.migrate(chat: -4_000_000_001, to: -1_001_234_567_890)
            let response = try await call(fake, "sendMessage", #"{"chat_id":-4000000001,"text":"x"}"#)
            #expect(response.text == #"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}"#)
        }
    }

    // MARK: Failures and flood control

    @Test func aRateLimitCarriesRetryAfterInBodyAndHeader() async throws {
        try await Self.withFake { fake in
            fake.failNext(.rateLimited(retryAfterSeconds: 5))
            let limited = try await call(fake, "sendMessage", #"{"chat_id":\#(Self.group),"text":"x"}"#)
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") == "5")
            #expect(limited.text == #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#)
            #expect(fake.botMessages(in: Self.group).isEmpty)
        }
    }

    @Test func floodControlAllowsABurstThenAsksToWait() async throws {
        try await Self.withFake { fake in
            // Telegram's burst of 3, refilled slowly enough that a loaded machine cannot refill it mid-test.
            fake.setFloodControl(FakeTelegramFloodControl(chatBurst: 3, chatPerSecond: 0.01))
            var statuses: [Int] = []
            for index in 0..<5 {
                statuses.append(try await call(fake, "sendMessage", #"{"chat_id":\#(Self.group),"text":"m\#(index)"}"#).status)
            }
            #expect(statuses.prefix(3) == [200, 200, 200])
            #expect(statuses.last == 429)
            let limited = try #require(fake.requests(method: "sendMessage").last)
            #expect(limited.errorDescription?.hasPrefix("Too Many Requests: retry after ") == true)
            let sent = fake.botMessages(in: Self.group)
            #expect(sent.count == statuses.filter { $0 == 200 }.count)
            #expect(zip(sent, sent.dropFirst()).allSatisfy { $0.arrival <= $1.arrival })
        }
    }

    // MARK: Updates

    @Test func aSecondPollerEndsTheFirstWith409() async throws {
        try await Self.withFake { fake in
            async let first = call(fake, "getUpdates", #"{"timeout":5}"#)
            _ = try await fake.longPollsStarted.waitFor(what: "the first poll to wait") { _ in true }
            let second = Task { try await call(fake, "getUpdates", #"{"timeout":1}"#) }
            let older = try await first
            #expect(older.status == 409)
            #expect(older.text == #"{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}"#)
            #expect(try await second.value.status == 200)
        }
    }

    @Test func longPollingWaitsConfirmsAndHonoursOffsetAndLimit() async throws {
        try await Self.withFake { fake in
            let clock = ContinuousClock()
            let start = clock.now
            let empty = try await call(fake, "getUpdates", #"{"timeout":1}"#)
            #expect(empty.text == #"{"ok":true,"result":[]}"#)
            #expect(clock.now - start >= .milliseconds(900))

            for text in ["a", "b", "c"] { try fake.userTypes(chat: Self.group, from: TelegramHarness.ana, text: text) }
            let limited = try await call(fake, "getUpdates", #"{"limit":2}"#)
            let ids = (limited.json?["result"] as? [[String: Any]])?.compactMap { $0["update_id"] as? Int } ?? []
            #expect(ids.count == 2)
            let confirmed = try await call(fake, "getUpdates", #"{"offset":\#(ids[1] + 1)}"#)
            #expect((confirmed.json?["result"] as? [[String: Any]])?.count == 1)
            #expect(fake.pendingUpdateCount == 1)
            let last = try await call(fake, "getUpdates", #"{"offset":-1}"#)
            #expect((last.json?["result"] as? [[String: Any]])?.count == 1)

            // A poll waiting for updates returns as soon as one arrives: well within its 30 s
            // timeout (measured from the update, so a loaded machine's slow start does not count).
            let polls = fake.longPollsStarted.count
            async let waiting = call(fake, "getUpdates", #"{"offset":\#(ids[1] + 2),"timeout":30}"#)
            _ = try await fake.longPollsStarted.waitFor(what: "the poll to wait", from: polls) { _ in true }
            let typed = clock.now
            try fake.userTypes(chat: Self.group, from: TelegramHarness.ana, text: "d")
            let woken = try await waiting
            #expect(clock.now - typed < .seconds(10))
            #expect(((woken.json?["result"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["text"] as? String == "d")
        }
    }

    @Test func getUpdatesIsRefusedWhileAWebhookIsSet() async throws {
        try await Self.withFake { fake in
            let set = try await call(fake, "setWebhook", #"{"url":"https://teleops.example.com/v1/chat/telegram","secret_token":"abc"}"#)
            #expect(set.text == #"{"ok":true,"result":true,"description":"Webhook was set"}"#)
            let refused = try await call(fake, "getUpdates")
            #expect(refused.text == #"{"ok":false,"error_code":409,"description":"Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}"#)
            let info = try await call(fake, "getWebhookInfo")
            #expect((info.json?["result"] as? [String: Any])?["url"] as? String == "https://teleops.example.com/v1/chat/telegram")
            let badSecret = try await call(fake, "setWebhook", #"{"url":"https://teleops.example.com/x","secret_token":"no spaces"}"#)
            #expect(badSecret.json?["description"] as? String == "Bad Request: secret token contains unallowed characters")
            _ = try await call(fake, "deleteWebhook")
            #expect(try await call(fake, "getUpdates").status == 200)
        }
    }
}

extension HTTPResponse {
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
}
