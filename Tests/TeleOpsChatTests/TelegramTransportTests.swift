import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// The Telegram transport against the fake Bot API server, over real HTTP.
@Suite struct TelegramTransportTests {
    typealias Harness = TelegramHarness

    // MARK: Posting

    @Test func textArrivesExactlyAsWritten() async throws {
        try await Harness.with { h in
            let text = #"<b>&"' 5 > 3 &lt; &amp; &#33; <i>not italic</i>"#
            let ref = try await h.telegram.post(ChatMessage(text: text))
            #expect(ref.transport == "telegram")
            #expect(ref.chat == h.chat)
            let shown = try #require(h.fake.botMessages(in: Harness.chatID).last)
            #expect(ref.messageID == String(shown.id))
            #expect(shown.text == text)
            #expect(shown.parseMode == "HTML")
            #expect(shown.linkPreviewDisabled)
            #expect(shown.sentText == #"&lt;b&gt;&amp;"' 5 &gt; 3 &amp;lt; &amp;amp; &amp;#33; &lt;i&gt;not italic&lt;/i&gt;"#)
        }
    }

    @Test func aReplyGoesInTheThreadOfItsMessage() async throws {
        try await Harness.with(chats: [.supergroup(id: Harness.chatID, title: "oncall"), .group(id: -4_000_000_001, title: "other")]) { h in
            let alert = try await h.telegram.post(ChatMessage(text: "#1 CRITICAL web-1 disk"))
            let reply = try await h.telegram.post(ChatMessage(text: "acknowledged by ana", replyTo: alert))
            #expect(h.fake.message(Int64(reply.messageID)!, in: Harness.chatID)?.replyTo == Int64(alert.messageID))
            let request = try #require(h.fake.requests(method: "sendMessage").last)
            #expect(request.params["reply_parameters"] == ["message_id": .number(Double(alert.messageID)!), "allow_sending_without_reply": true])

            // A ref in another chat is not a thread there.
            _ = try await h.telegram.post(ChatMessage(chat: "-4000000001", text: "elsewhere", replyTo: alert))
            #expect(h.fake.requests(method: "sendMessage").last?.params["reply_parameters"] == nil)
        }
    }

    @Test func aTopicIsUsedForTheDefaultChatOnly() async throws {
        let forum = FakeTelegramChat.supergroup(id: Harness.chatID, title: "ops", forum: true)
        try await Harness.with(chats: [forum, .group(id: -4_000_000_001, title: "other")], configure: { fake, settings in
            settings.topic = Int(try fake.createTopic(in: Harness.chatID, name: "alerts"))
        }) { h in
            let topic = Int64(try #require(h.settings.topic))
            let ref = try await h.telegram.post(ChatMessage(text: "in the alerts topic"))
            let shown = try #require(h.fake.message(Int64(ref.messageID)!, in: Harness.chatID))
            #expect(shown.threadID == topic)
            #expect(h.fake.requests(method: "sendMessage").last?.params["message_thread_id"] == .number(Double(topic)))

            _ = try await h.telegram.post(ChatMessage(chat: "-4000000001", text: "not in a topic"))
            #expect(h.fake.requests(method: "sendMessage").last?.params["message_thread_id"] == nil)

            // A person typing in the topic is not replying to the topic's first message.
            try await withIncoming(h.telegram) { incoming in
                try await h.whileReceiving {
                    try h.fake.userTypes(chat: Harness.chatID, from: Harness.ana, text: "looking", topic: topic)
                    let typed = try await incoming.waitFor(what: "the message in the topic") { _ in true }
                    #expect(typed.replyTo == nil)
                }
            }
        }
    }

    @Test func buttonsAreRowsOfThreeAndAPressArrivesAsItsCommand() async throws {
        try await Harness.with { h in
            let buttons = ["ack", "silence 1h", "run restart-nginx", "escalate"].map { ChatButton(label: $0.capitalized, command: $0) }
            let ref = try await h.telegram.post(ChatMessage(text: "#1 CRITICAL web-1 disk", buttons: buttons))
            let shown = try #require(h.fake.message(Int64(ref.messageID)!, in: Harness.chatID))
            #expect(shown.keyboard.map(\.count) == [3, 1])
            #expect(shown.buttons == buttons)

            try await withIncoming(h.telegram) { incoming in
                try await h.whileReceiving {
                    let queryID = try h.fake.userPresses(chat: Harness.chatID, messageID: shown.id, data: "silence 1h", from: Harness.ana)
                    let press = try await incoming.waitFor(what: "the button press") { _ in true }
                    #expect(press.kind == .button)
                    #expect(press.text == "silence 1h")
                    #expect(press.ref == ref)
                    #expect(press.replyTo == ref)
                    #expect(press.userID == String(Harness.ana.id))
                    #expect(press.displayName == "ana")
                    #expect(press.inboxID != nil)
                    try await h.fake.waitForRequest(method: "answerCallbackQuery") { $0.status == 200 }
                    #expect(h.fake.callbackQueryAnswered(queryID) == true)
                }
            }
        }
    }

    /// A button Telegram would refuse costs that button, not the alert: the message goes out
    /// with the other buttons, and a warning names the one left out.
    @Test func aButtonTooLongForCallbackDataIsLeftOutNotCut() async throws {
        try await Harness.with { h in
            let command = "#1 run " + String(repeating: "x", count: 58)
            let fits = ChatButton(label: "Ack", command: "#1 ack")
            let tooLong = ChatButton(label: "Run", command: command)
            let ref = try await h.telegram.post(ChatMessage(text: "alert", buttons: [fits, tooLong]))
            #expect(h.fake.message(Int64(ref.messageID)!, in: Harness.chatID)?.buttons == [fits])
            let warning = try #require(h.logs.lines(containing: "button left out").first)
            #expect(warning.hasPrefix("warning") && warning.contains("65 bytes") && warning.contains("command=\(command)"))

            // An edit too: the state still changes.
            try await h.telegram.edit(ref, text: "acknowledged", buttons: [tooLong])
            let edited = try #require(h.fake.message(Int64(ref.messageID)!, in: Harness.chatID))
            #expect(edited.text == "acknowledged")
            #expect(edited.keyboard.isEmpty)

            // 64 bytes fit, whole.
            let longest = ChatButton(label: "Run", command: String(command.dropLast()))
            let full = try await h.telegram.post(ChatMessage(text: "alert", buttons: [longest]))
            #expect(h.fake.message(Int64(full.messageID)!, in: Harness.chatID)?.buttons == [longest])
        }
    }

    // MARK: Editing

    @Test func anEditReplacesTextAndButtonsAndTheSameEditSucceeds() async throws {
        try await Harness.with { h in
            let ref = try await h.telegram.post(ChatMessage(text: "#1 CRITICAL", buttons: [ChatButton(label: "Ack", command: "ack")]))
            try await h.telegram.edit(ref, text: "#1 acknowledged by ana", buttons: [])
            var shown = try #require(h.fake.message(Int64(ref.messageID)!, in: Harness.chatID))
            #expect(shown.text == "#1 acknowledged by ana")
            #expect(shown.keyboard.isEmpty)
            #expect(shown.edits == 1)
            #expect(h.fake.requests(method: "editMessageText").last?.params["reply_markup"] == ["inline_keyboard": []])

            try await h.telegram.edit(ref, text: "#1 acknowledged by ana", buttons: [])
            #expect(h.fake.requests(method: "editMessageText").last?.errorDescription?.contains("message is not modified") == true)
            shown = try #require(h.fake.message(Int64(ref.messageID)!, in: Harness.chatID))
            #expect(shown.edits == 1)

            try await h.telegram.edit(ref, text: "#1 acknowledged by ana", buttons: [ChatButton(label: "Resolve", command: "resolve")])
            #expect(h.fake.message(Int64(ref.messageID)!, in: Harness.chatID)?.buttons == [ChatButton(label: "Resolve", command: "resolve")])
        }
    }

    @Test func editingAMessageThatIsGoneIsAClientError() async throws {
        try await Harness.with { h in
            let failure = await #expect(throws: ChatFailure.self) {
                try await h.telegram.edit(MessageRef(transport: "telegram", chat: h.chat, messageID: "999"), text: "x", buttons: [])
            }
            #expect(failure?.reason == .clientError)
            #expect(failure?.message.contains("Bad Request: message to edit not found") == true)
        }
    }

    // MARK: Limits and failures

    /// "x" is one UTF-16 code unit, "😀" two: 2048 of them fill a message.
    @Test(arguments: [("x", 4096, true), ("x", 4097, false), ("😀", 2048, true), ("😀", 2049, false)])
    func lengthIsCheckedInUTF16BeforeAnyCall(unit: String, count: Int, fits: Bool) async throws {
        let text = String(repeating: unit, count: count)
        try await Harness.with { h in
            if fits {
                let ref = try await h.telegram.post(ChatMessage(text: text))
                #expect(h.fake.message(Int64(ref.messageID)!, in: Harness.chatID)?.text == text)
            } else {
                let failure = await #expect(throws: ChatFailure.self) { try await h.telegram.post(ChatMessage(text: text)) }
                #expect(failure?.reason == .clientError)
                #expect(failure?.message.contains("\(text.utf16.count) characters (UTF-16 code units)") == true)
                #expect(h.fake.requests(method: "sendMessage").isEmpty)
            }
        }
    }

    @Test func floodControlIsRateLimitedWithTelegramsWait() async throws {
        try await Harness.with { h in
            h.fake.failNext(.rateLimited(retryAfterSeconds: 7))
            let failure = await #expect(throws: ChatFailure.self) { try await h.telegram.post(ChatMessage(text: "hello")) }
            #expect(failure?.reason == .rateLimited)
            #expect(failure?.retryAfter == .seconds(7))
            #expect(failure?.message.contains("Too Many Requests: retry after 7") == true)
            _ = try await h.telegram.post(ChatMessage(text: "hello"))
        }
    }

    @Test(arguments: [
        (FakeTelegramFailure.internalError("restart"), ChatFailure.Reason.serverError, "Internal Server Error: restart"),
        (.badGateway, .serverError, "HTTP 502"),
        (.error(code: 403, description: "Forbidden: bot was kicked from the supergroup chat"), .clientError, "bot was kicked"),
        (.error(code: 400, description: "Bad Request: not enough rights to send text messages to the chat"), .clientError, "not enough rights"),
        (.error(code: 401, description: "Unauthorized"), .unauthorized, "refused the bot token"),
    ])
    func failuresAreClassifiedWithTheirReason(failure: FakeTelegramFailure, reason: ChatFailure.Reason, text: String) async throws {
        try await Harness.with { h in
            h.fake.failNext(failure)
            let thrown = await #expect(throws: ChatFailure.self) { try await h.telegram.post(ChatMessage(text: "hello")) }
            #expect(thrown?.reason == reason)
            #expect(thrown?.message.contains(text) == true, "\(thrown?.message ?? "")")
            #expect(thrown?.description.contains(h.fake.token) == false)
        }
    }

    @Test func anUnknownChatKeepsTelegramsReason() async throws {
        try await Harness.with { h in
            let failure = await #expect(throws: ChatFailure.self) { try await h.telegram.post(ChatMessage(chat: "-1009999", text: "x")) }
            #expect(failure?.reason == .clientError)
            #expect(failure?.message == "Telegram refused sendMessage: Bad Request: chat not found")
        }
    }

    @Test func aSlowAnswerIsATimeoutAndAnAbsentServerANetworkError() async throws {
        try await Harness.with { h in
            var settings = h.settings
            settings.requestTimeout = .milliseconds(300)
            let impatient = TelegramTransport(settings: settings, inbox: h.inbox, logger: h.logs.logger)
            h.fake.failNext(.slowAnswer(.seconds(1)))
            let slow = await #expect(throws: ChatFailure.self) { try await impatient.post(ChatMessage(text: "hello")) }
            #expect(slow?.reason == .timeout)
            #expect(slow?.isRetryable == true)

            settings.apiURL = "http://127.0.0.1:1"
            let nowhere = TelegramTransport(settings: settings, inbox: h.inbox, logger: h.logs.logger)
            let absent = await #expect(throws: ChatFailure.self) { try await nowhere.post(ChatMessage(text: "hello")) }
            #expect(absent?.reason == .network)
            for failure in [slow, absent].compactMap({ $0 }) {
                #expect(!failure.message.contains(h.fake.token))
                #expect(!failure.description.contains(h.fake.token))
            }
        }
    }

    @Test func anUpgradedGroupIsFollowedAndRemembered() async throws {
        let group: Int64 = -4_012_345_678, supergroup: Int64 = -1_009_876_543_210
        try await Harness.with(chats: [.group(id: group, title: "oncall")]) { h in
            h.fake.migrate(chat: group, to: supergroup)
            let ref = try await h.telegram.post(ChatMessage(text: "first after the upgrade"))
            #expect(ref.chat == String(supergroup))
            #expect(h.fake.botMessages(in: supergroup).map(\.text) == ["first after the upgrade"])
            #expect(h.fake.requests(method: "sendMessage").map { $0.params["chat_id"] } == [.number(Double(group)), .number(Double(supergroup))])
            let notice = try #require(h.logs.lines(containing: "upgraded group").first)
            #expect(notice.contains("Update the configured Telegram chat id to \(supergroup)"))

            _ = try await h.telegram.post(ChatMessage(text: "second"))
            #expect(h.fake.requests(method: "sendMessage").count == 3)
            #expect(h.fake.requests(method: "sendMessage").last?.params["chat_id"] == .number(Double(supergroup)))
            #expect(h.logs.lines(containing: "upgraded group").count == 1)
        }
    }

    // MARK: Receiving by polling

    @Test func typedMessagesArriveAndBotsEditsAndOtherUpdatesAreSkipped() async throws {
        try await Harness.with { h in
            // Queued before the transport asks for messages and button presses only.
            let typed = try h.fake.userTypes(chat: Harness.chatID, from: Harness.ana, text: "before")
            try h.fake.userEdits(chat: Harness.chatID, messageID: typed.id, text: "before, edited")
            try await withIncoming(h.telegram) { incoming in
                try await h.whileReceiving {
                    try await h.otherBotPosts("[FIRING] from another bot")
                    let alert = try await h.telegram.post(ChatMessage(text: "#2 WARNING db-1"))
                    try await h.userTypes("ack", userID: String(Harness.ana.id), replyTo: alert.messageID)
                    let ack = try await incoming.waitFor(what: "the ack") { $0.text == "ack" }
                    #expect(ack.kind == .text)
                    #expect(ack.replyTo == alert)
                    #expect(ack.userID == String(Harness.ana.id))
                    #expect(ack.deliveryID?.hasPrefix("update:") == true)
                    #expect(incoming.all.map(\.text) == ["before", "ack"])
                    // The skipped updates were passed over too: the offset is past the last one.
                    let next = try await h.inbox.cursor(named: "telegram.offset")
                    #expect(next == ack.deliveryID.map { String(Int64($0.dropFirst(7))! + 1) })
                }
            }
        }
    }

    @Test func aRestartNeitherReplaysNorSkips() async throws {
        try await Harness.with { h in
            try await withIncoming(h.telegram) { incoming in
                try await h.whileReceiving {
                    try await h.userTypes("one", userID: "1111111", replyTo: nil)
                    _ = try await incoming.waitFor(what: "one") { $0.text == "one" }
                }
            }
            // Stopped: people keep typing.
            try await h.userTypes("two", userID: "1111111", replyTo: nil)
            try await h.userTypes("three", userID: "1111111", replyTo: nil)
            let offset = try #require(try await h.inbox.cursor(named: "telegram.offset"))
            let polls = h.fake.requests(method: "getUpdates").count

            let restarted = h.restarted()
            try await withIncoming(restarted) { incoming in
                try await Harness.running(restarted) {
                    _ = try await incoming.waitFor(what: "three") { $0.text == "three" }
                    #expect(incoming.all.map(\.text) == ["two", "three"])
                }
            }
            let first = try #require(h.fake.requests(method: "getUpdates").dropFirst(polls).first)
            #expect(first.params["offset"] == .number(Double(offset)!))
            #expect(h.inbox.stored.all.map(\.text) == ["one", "two", "three"])
        }
    }

    @Test func aBatchThatCannotBeStoredIsFetchedAgain() async throws {
        try await Harness.with { h in
            h.inbox.failNextReceives(1)
            try await withIncoming(h.telegram) { incoming in
                try await h.whileReceiving {
                    try await h.userTypes("kept", userID: "1111111", replyTo: nil)
                    _ = try await incoming.waitFor(what: "the message, stored on the second try") { $0.text == "kept" }
                }
            }
            #expect(h.inbox.receiveCalls >= 2)
            #expect(h.logs.lines(containing: "could not be stored").count == 1)
        }
    }

    @Test func a409IsExplainedOnceAndPollingRecoversWhenTheOtherPollerStops() async throws {
        try await Harness.with { h in
            try await withIncoming(h.telegram) { incoming in
                try await h.whileReceiving {
                    // Another instance polls with the same token until the transport has complained.
                    let rival = CurlHTTPClient(connectTimeout: .seconds(2), totalTimeout: .seconds(5))
                    let url = "\(h.fake.apiURL)/bot\(h.fake.token)/getUpdates"
                    let complaint = try await withThrowingTaskGroup(of: String?.self) { tasks in
                        tasks.addTask {
                            while !Task.isCancelled {
                                _ = try? await rival.send(
                                    method: "POST", url: url, headers: ["Content-Type": "application/json"], body: Data(#"{"timeout":1}"#.utf8))
                            }
                            return nil
                        }
                        tasks.addTask { try await h.logs.lines.waitFor(what: "the 409 error") { $0.contains("409 Conflict") } }
                        let line = try await tasks.next()!
                        tasks.cancelAll()
                        return line
                    }
                    let line = try #require(complaint)
                    #expect(line.hasPrefix("error"))
                    #expect(line.contains("another process is polling with this bot token"))
                    #expect(line.contains("deleteWebhook"))
                    #expect(line.contains("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"))

                    try await h.userTypes("still here", userID: "1111111", replyTo: nil)
                    _ = try await incoming.waitFor(what: "a message after the rival stopped") { $0.text == "still here" }
                    #expect(h.logs.lines(containing: "409 Conflict").count == 1)
                    #expect(h.fake.requests(method: "getUpdates").filter { $0.status == 409 }.count >= 1)
                }
            }
        }
    }

    @Test func aRefusedTokenIsSaidPlainlyWithoutTheToken() async throws {
        try await Harness.with(configure: { _, settings in settings.token = "987654321:WrongTokenValue_abc" }) { h in
            try await h.whileReceiving {
                let line = try await h.logs.lines.waitFor(what: "the refused token error") { $0.contains("bot token was refused") }
                #expect(line.hasPrefix("error"))
                #expect(line.contains("Unauthorized: invalid token specified"))
            }
            #expect(!h.logs.lines.all.contains { $0.contains("987654321:WrongTokenValue_abc") })
        }
    }
}
