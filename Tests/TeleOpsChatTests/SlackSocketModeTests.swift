import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// Socket Mode against the fake's WebSocket side: hello, acks, redelivery, disconnects, drops.
@Suite struct SlackSocketModeTests {
    /// Waits until every envelope the fake has sent so far is acknowledged.
    private func waitForAllAcks(_ fake: FakeSlackServer) async throws {
        for envelope in fake.envelopes {
            _ = try await fake.acks.waitFor(what: "the ack of \(envelope.type) envelope \(envelope.id)") { $0 == envelope.id }
        }
    }

    @Test func helloThenEveryEnvelopeIsAcknowledged() async throws {
        try await SlackSocketHarness.with { harness in
            let fake = harness.fake
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    _ = try await fake.socketEvents.waitFor(what: "hello") { $0 == .connected(1) }
                    let alert = try await harness.transport.post(ChatMessage(text: "#1 disk", buttons: [ChatButton(label: "Ack", command: "ack")]))
                    try await harness.transport.edit(alert, text: "#1 disk (edited)", buttons: [ChatButton(label: "Ack", command: "ack")])
                    try await harness.otherBotPosts("noise")
                    try await harness.userTypes("status", userID: "U0ANA", replyTo: nil)
                    try await harness.userPresses(command: "ack", on: alert.messageID, userID: "U0ANA")
                    try await fake.userRunsCommand(user: "U0ANA", text: "help")
                    _ = try await received.waitFor(what: "the command") { $0.text == "help" }
                    try await waitForAllAcks(fake)
                    // Own post, own edit, the other bot, the person, the press, the command.
                    #expect(fake.envelopes.count == 6)
                    #expect(fake.envelopes.allSatisfy { $0.sends == 1 && $0.acked && $0.ackPayload == nil })
                    #expect(received.all.map(\.text) == ["status", "ack", "help"])
                    #expect(received.all.map(\.kind) == [.text, .button, .text])
                }
            }
            #expect(fake.requests.all.filter { $0.method == "apps.connections.open" }.count == 1)
        }
    }

    @Test func referenceEnvelopesAreAcknowledgedWhetherUsedOrNot() async throws {
        try await SlackSocketHarness.with { harness in
            let fake = harness.fake
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    for sample in [SlackSamples.shortcutEnvelope, SlackSamples.socketModeAppMention, SlackSamples.slashCommandEnvelope] {
                        try await fake.sendRaw(sample)
                    }
                    _ = try await fake.acks.waitFor(what: "the shortcut's ack") { $0 == "57d6a792-4d35-4d0b-b6aa-3361493e1caf" }
                    _ = try await fake.acks.waitFor(what: "the mention's ack") { $0 == "cda4159a-72a5-4744-aba3-4d66eb52682b" }
                    _ = try await fake.acks.waitFor(what: "the command's ack") { $0 == "dbdd0ef3-1543-4f94-bfb4-133d0e6c1545" }
                    let command = try await received.waitFor(what: "the slash command") { _ in true }
                    #expect(command.userID == "U123ABC456")
                    #expect(received.all.count == 1, "a shortcut and an app_mention deliver nothing")
                }
            }
        }
    }

    @Test func anEnvelopeTheStoreCouldNotTakeIsNotAcknowledgedAndComesAgain() async throws {
        try await SlackSocketHarness.with(options: FakeSlackOptions(ackTimeout: .milliseconds(300))) { harness in
            let fake = harness.fake
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    harness.inbox.failNextReceives(1)
                    try await harness.userTypes("ack", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the redelivered message") { $0.text == "ack" }
                    try await waitForAllAcks(fake)
                    let envelope = try #require(fake.envelopes.last)
                    // Sent again after the ack timeout; on a busy machine the second ack can miss
                    // the 300 ms too, and the fake sends a third time. Delivered once either way.
                    #expect(envelope.sends >= 2, "sent again with retry_attempt 1 after the ack timeout")
                    try await harness.userTypes("next", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the next message") { $0.text == "next" }
                    #expect(received.all.map(\.text) == ["ack", "next"])
                }
            }
        }
    }

    @Test func aLostAckIsRedeliveredAndTakenOnce() async throws {
        // The transport acknowledges, but the fake drops the first connection before the ack
        // counts: the envelope comes again on the next connection, and the inbox takes it once.
        try await SlackSocketHarness.with(options: FakeSlackOptions(ackTimeout: .milliseconds(300))) { harness in
            let fake = harness.fake
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    harness.inbox.delayNextReceive(.milliseconds(200))
                    try await harness.userTypes("slow", userID: "U0ANA", replyTo: nil)
                    await fake.dropConnections()
                    _ = try await fake.socketEvents.waitFor(what: "the new connection") { $0 == .connected(2) }
                    try await waitForAllAcks(fake)
                    try await harness.userTypes("after", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the next message") { $0.text == "after" }
                    #expect(received.all.map(\.text) == ["slow", "after"])
                }
            }
        }
    }

    @Test(arguments: ["warning", "refresh_requested"]) func aDisconnectNoticeOpensANewConnectionFirst(_ reason: String) async throws {
        try await SlackSocketHarness.with { harness in
            let fake = harness.fake
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    await fake.sendDisconnect(reason: reason)
                    // Typed between the notice and the switch: goes to the old connection.
                    try await harness.userTypes("during", userID: "U0ANA", replyTo: nil)
                    _ = try await fake.socketEvents.waitFor(what: "the new connection") { $0 == .connected(2) }
                    _ = try await fake.socketEvents.waitFor(what: "the old connection to be closed") { $0 == .closed(1) }
                    try await harness.userTypes("after", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the message after the switch") { $0.text == "after" }
                    _ = try await received.waitFor(what: "the message during the switch") { $0.text == "during" }
                    try await waitForAllAcks(fake)
                    #expect(Set(received.all.map(\.text)) == ["during", "after"])
                    #expect(received.all.count == 2)
                    #expect(fake.socketConnections == 1)
                }
            }
            #expect(fake.requests.all.filter { $0.method == "apps.connections.open" }.count == 2)
        }
    }

    @Test func aDroppedSocketIsReconnected() async throws {
        try await SlackSocketHarness.with { harness in
            let fake = harness.fake
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    for round in 2...3 {
                        await fake.dropConnections()
                        _ = try await fake.socketEvents.waitFor(what: "connection \(round)") { $0 == .connected(round) }
                        try await harness.userTypes("round \(round)", userID: "U0ANA", replyTo: nil)
                        _ = try await received.waitFor(what: "the message of round \(round)") { $0.text == "round \(round)" }
                    }
                }
            }
        }
    }

    @Test func linkDisabledIsAnErrorSayingSocketModeWasTurnedOff() async throws {
        try await SlackSocketHarness.with { harness in
            let fake = harness.fake
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    await fake.sendDisconnect(reason: "link_disabled")
                    _ = try await harness.log.lines.waitFor(what: "the error") { $0.hasPrefix("error") && $0.contains("turned off") }
                    // linkDisabledRetry is 300 ms in these settings.
                    _ = try await fake.socketEvents.waitFor(what: "a connection after the wait") { $0 == .connected(2) }
                    try await harness.userTypes("back", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the message") { $0.text == "back" }
                }
            }
        }
    }

    @Test func aConnectionWithoutHelloIsClosedAndReplaced() async throws {
        let options = FakeSlackOptions(withholdHello: 1)
        try await SlackSocketHarness.with(options: options, change: { $0.helloTimeout = .milliseconds(300) }) { harness in
            try await collectingIncoming(harness.transport) { received in
                try await harness.whileReceiving {
                    _ = try await harness.fake.socketEvents.waitFor(what: "the silent connection to be closed") { $0 == .closed(1) }
                    #expect(harness.fake.socketEvents.all.contains(.connected(2)))
                    #expect(!harness.fake.socketEvents.all.contains(.connected(1)))
                    #expect(harness.log.lines.all.contains { $0.hasPrefix("warning") && $0.contains("no hello") })
                    try await harness.userTypes("ok", userID: "U0ANA", replyTo: nil)
                    _ = try await received.waitFor(what: "the message") { $0.text == "ok" }
                }
            }
        }
    }

    @Test func aRefusedAppTokenStopsTheTransport() async throws {
        try await withFakeSlack { fake in
            let log = LogCapture()
            var settings = SlackSettings.forFake(fake)
            settings.appToken = "xapp-1-wrong-secretpart"
            let slack = SlackTransport(settings: settings, inbox: MemoryChatInbox(), logger: log.logger)
            let error = await #expect(throws: SlackTransportError.self) { try await slack.run() }
            #expect(error?.description.contains("invalid_auth") == true)
            #expect(!log.lines.all.contains { $0.contains("secretpart") })
            // The bot token in its place is the wrong kind of token.
            settings.appToken = FakeSlackServer.botToken
            let wrongKind = SlackTransport(settings: settings, inbox: MemoryChatInbox(), logger: log.logger)
            let kind = await #expect(throws: SlackTransportError.self) { try await wrongKind.run() }
            #expect(kind?.description.contains("not_allowed_token_type") == true)
        }
    }

    @Test func nothingIsLoggedWithATokenOrTicket() async throws {
        try await SlackSocketHarness.with { harness in
            try await harness.whileReceiving {
                await harness.fake.dropConnections()
                _ = try await harness.fake.socketEvents.waitFor(what: "the new connection") { $0 == .connected(2) }
            }
            let lines = harness.log.lines.all
            #expect(!lines.isEmpty)
            #expect(!lines.contains { $0.contains(FakeSlackServer.botToken) || $0.contains(FakeSlackServer.appToken) || $0.contains("ticket=") && !$0.contains("ticket=…") })
        }
    }
}
