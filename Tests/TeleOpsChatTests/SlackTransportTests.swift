import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// The transport end to end against the fake, in each receive mode, through the harnesses.
@Suite struct SlackTransportTests {
    enum Mode: String, CaseIterable, Sendable { case socket, events }

    private func with(_ mode: Mode, options: FakeSlackOptions = FakeSlackOptions(), _ body: (any SlackHarness) async throws -> Void) async throws {
        switch mode {
        case .socket: try await SlackSocketHarness.with(options: options) { try await body($0) }
        case .events: try await SlackEventsHarness.with(options: options) { try await body($0) }
        }
    }

    @Test(arguments: Mode.allCases) func aPersonsMessageAndAThreadReply(_ mode: Mode) async throws {
        try await with(mode) { harness in
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    let alert = try await harness.transport.post(ChatMessage(text: "#1 CRITICAL web-1 disk"))
                    let top = try await harness.userTypes("status", userID: "U0ANA", replyTo: nil)
                    let typed = try await received.waitFor(what: "the top-level message") { $0.text == "status" }
                    #expect(typed.kind == .text)
                    #expect(typed.userID == "U0ANA")
                    #expect(typed.ref == MessageRef(transport: "slack", chat: harness.chat, messageID: top))
                    #expect(typed.replyTo == nil)
                    #expect(typed.inboxID != nil, "stored in the inbox before it was delivered")

                    try await harness.userTypes("ack", userID: "U0ANA", replyTo: alert.messageID)
                    let reply = try await received.waitFor(what: "the thread reply") { $0.text == "ack" }
                    #expect(reply.ref == alert, "a reply in a thread is about the thread's parent")
                    #expect(reply.replyTo == alert)
                    #expect(reply.deliveryID?.hasPrefix("event:") == true)

                    // TeleOps answers in the parent's thread.
                    let answer = try await harness.transport.post(ChatMessage(text: "#1 acknowledged", replyTo: reply.ref))
                    #expect(await harness.botMessages().first { $0.id == answer.messageID }?.replyTo == alert.messageID)

                    // A reply to a reply: Slack still names the parent in thread_ts.
                    try await harness.userTypes("note disk is fine", userID: "U0BO", replyTo: alert.messageID)
                    let note = try await received.waitFor(what: "the note") { $0.text == "note disk is fine" }
                    #expect(note.ref == alert)
                }
            }
        }
    }

    @Test(arguments: Mode.allCases) func ownAndOtherBotsMessagesAreNotDelivered(_ mode: Mode) async throws {
        try await with(mode) { harness in
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    let posted = try await harness.transport.post(ChatMessage(text: "from TeleOps", buttons: [ChatButton(label: "Ack", command: "ack")]))
                    try await harness.transport.edit(posted, text: "edited by TeleOps", buttons: [])
                    try await harness.otherBotPosts("from another bot")
                    try await harness.userTypes("last", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the person's message") { $0.text == "last" }
                    #expect(received.all.map(\.text) == ["last"])
                }
            }
        }
    }

    @Test(arguments: Mode.allCases) func aButtonPressIsTheButtonsCommand(_ mode: Mode) async throws {
        try await with(mode) { harness in
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    let buttons = [ChatButton(label: "Ack", command: "ack"), ChatButton(label: "Silence 1h", command: "silence 1h")]
                    let alert = try await harness.transport.post(ChatMessage(text: "#2 WARNING db-1 load", buttons: buttons))
                    let shown = await harness.botMessages().first { $0.id == alert.messageID }
                    #expect(shown?.buttons == buttons)
                    try await harness.userPresses(command: "silence 1h", on: alert.messageID, userID: "U0ANA")
                    let press = try await received.waitFor(what: "the press") { $0.kind == .button }
                    #expect(press.text == "silence 1h")
                    #expect(press.ref == alert)
                    #expect(press.replyTo == alert)
                    #expect(press.userID == "U0ANA")
                    #expect(press.deliveryID?.hasPrefix("action:") == true)

                    // A button on a message in a thread is about the thread's parent.
                    let inThread = try await harness.transport.post(ChatMessage(text: "run restart?", replyTo: alert, buttons: [ChatButton(label: "Yes", command: "run restart")]))
                    try await harness.userPresses(command: "run restart", on: inThread.messageID, userID: "U0ANA")
                    let second = try await received.waitFor(what: "the second press") { $0.text == "run restart" }
                    #expect(second.ref == alert)
                }
            }
        }
    }

    @Test(arguments: Mode.allCases) func slashCommandsAreTypedText(_ mode: Mode) async throws {
        try await with(mode) { harness in
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    try await harness.fake.userRunsCommand(user: "U0ANA", text: "ack #3")
                    let command = try await received.waitFor(what: "the command") { _ in true }
                    #expect(command.text == "ack #3")
                    #expect(command.kind == .text)
                    let answer = try await harness.transport.post(ChatMessage(text: "#3 acknowledged", replyTo: command.ref))
                    #expect(harness.fake.message(answer.messageID)?.threadTS == nil, "a command is answered in the channel")
                }
            }
        }
    }

    @Test(arguments: Mode.allCases) func mentionsAndLinksAreStripped(_ mode: Mode) async throws {
        try await with(mode) { harness in
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    try await harness.fake.userTypes(user: "U0ANA", text: "run tail https://logs.example.com/x & more", mentioningBot: true)
                    let typed = try await received.waitFor(what: "the message") { _ in true }
                    #expect(typed.text == "run tail https://logs.example.com/x & more")
                }
            }
        }
    }

    @Test(arguments: Mode.allCases) func failuresAreClassified(_ mode: Mode) async throws {
        try await with(mode) { harness in
            await harness.failNext(.rateLimited(retryAfterSeconds: 7), count: 1)
            await harness.failNext(.serverError, count: 1)
            await harness.failNext(.rejected("channel_not_found"), count: 1)
            var reasons: [ChatFailure.Reason] = []
            for _ in 0..<3 {
                do throws(ChatFailure) {
                    _ = try await harness.transport.post(ChatMessage(text: "x"))
                } catch {
                    reasons.append(error.reason)
                    if error.reason == .rateLimited { #expect(error.retryAfter == .seconds(7)) }
                }
            }
            #expect(reasons == [.rateLimited, .serverError, .clientError])
            _ = try await harness.transport.post(ChatMessage(text: "fine"))
            #expect(await harness.botMessages().map(\.text) == ["fine"])
        }
    }

    @Test func authTestTellsTheTransportWhoItIs() async throws {
        try await SlackEventsHarness.with { harness in
            try await harness.whileReceiving {
                #expect(harness.slack.botUserID == FakeSlackServer.botUserID)
            }
            #expect(harness.fake.requests.all.first?.method == "auth.test")
        }
    }

    @Test func aRefusedBotTokenStopsTheTransportWithAClearError() async throws {
        try await withFakeSlack { fake in
            let log = LogCapture()
            var settings = SlackSettings.forFake(fake, mode: .eventsAPI, signingSecret: "s")
            settings.botToken = "xoxb-revoked-secretpart"
            let slack = SlackTransport(settings: settings, inbox: MemoryChatInbox(), logger: log.logger)
            let error = await #expect(throws: SlackTransportError.self) { try await slack.run() }
            #expect(error?.description.contains("invalid_auth") == true)
            #expect(log.lines.all.contains { $0.hasPrefix("error") && $0.contains("invalid_auth") })
            #expect(!log.lines.all.contains { $0.contains("secretpart") })
        }
    }

    @Test func authTestIsRetriedWhenSlackIsDown() async throws {
        try await withFakeSlack { fake in
            // auth.test does not take injected failures; an unreachable URL first, then the fake.
            let log = LogCapture()
            var settings = SlackSettings.forFake(fake, mode: .eventsAPI, signingSecret: "s")
            settings.apiURL = "http://127.0.0.1:1/api"
            let down = SlackTransport(settings: settings, inbox: MemoryChatInbox(), logger: log.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await down.run() }
                _ = try await log.lines.waitFor(what: "a second attempt", timeout: .seconds(5)) { $0.contains("attempt=2") }
                group.cancelAll()
            }
            #expect(down.botUserID == nil)
        }
    }

    @Test func eventsRetriedBySlackAfterAStoreFailureAreDeliveredOnce() async throws {
        try await SlackEventsHarness.with { harness in
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    harness.inbox.failNextReceives(1)
                    try await harness.userTypes("ack", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the message") { $0.text == "ack" }
                    _ = try await harness.fake.deliveries.waitFor(what: "the retry's answer") { $0.status == 200 }
                    let attempts = harness.fake.deliveries.all.filter { $0.url.hasSuffix("/events") && $0.status != nil }
                    #expect(attempts.map(\.status) == [500, 200])
                    #expect(attempts.map(\.retryNumber) == [0, 1])
                    try await harness.userTypes("after", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the next message") { $0.text == "after" }
                    #expect(received.all.map(\.text) == ["ack", "after"])
                }
            }
        }
    }

    @Test func anAnswerSlowerThanThreeSecondsIsRetriedAsHTTPTimeout() async throws {
        // The deadline is shortened; the inbox is slowed past it once.
        // (1 s, and a retry may itself be slow on a loaded machine: any retry answered 200 will do.)
        let options = FakeSlackOptions(responseDeadline: .seconds(1))
        try await SlackEventsHarness.with(options: options) { harness in
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    harness.inbox.delayNextReceive(.milliseconds(2500))
                    try await harness.userTypes("slow", userID: "U0ANA", replyTo: nil)
                    _ = try await harness.fake.deliveries.waitFor(what: "a retry", timeout: .seconds(30)) {
                        $0.retryNumber >= 1 && $0.status == 200
                    }
                    #expect(harness.fake.deliveries.all.first { $0.retryNumber == 0 }?.tookLonger == true)
                    try await harness.userTypes("next", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the next message") { $0.text == "next" }
                    #expect(received.all.map(\.text) == ["slow", "next"])
                }
            }
        }
    }
}
