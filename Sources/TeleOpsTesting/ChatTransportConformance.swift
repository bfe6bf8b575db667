import Foundation
import TeleOpsCore

/// The behaviour every `ChatTransport` must have, as named cases run against a
/// `ChatPlatformHarness` (a fake platform with the transport pointed at it). Each case gets a
/// fresh harness and throws `ConformanceFailure` naming what went wrong.
///
/// ```swift
/// @Test(arguments: ChatTransportConformance.cases.map(\.name))
/// func conformance(_ name: String) async throws {
///     try await TelegramHarness.with { try await ChatTransportConformance.run(name, on: $0) }
/// }
/// ```
public enum ChatTransportConformance {
    public struct Case: Sendable {
        public let name: String
        let body: @Sendable (any ChatPlatformHarness, Check, Collector<IncomingMessage>) async throws -> Void

        init(_ name: String, _ body: @escaping @Sendable (any ChatPlatformHarness, Check, Collector<IncomingMessage>) async throws -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Text with every character some platform treats as markup.
    public static let awkwardText = #"<b>bold</b> & "quotes" 5 < 6 > 4 *_[]()~`#+-=|{}.! \ <@U123> &amp; 🔥"#

    public static let cases: [Case] = [
        Case("text is shown exactly as written") { harness, check, _ in
            let ref = try await post(harness, check, ChatMessage(text: awkwardText + "\nsecond line"))
            let shown = try check.unwrap(await harness.botMessages().first { $0.id == ref.messageID }, "the posted message")
            try check.equal(shown.text, awkwardText + "\nsecond line", "text as shown")
            try check.equal(ref.transport, harness.transport.name, "ref transport")
            try check.equal(ref.chat, harness.chat, "ref chat")
        },
        Case("a reply goes in the thread of the message it answers") { harness, check, _ in
            let parent = try await post(harness, check, ChatMessage(text: "🔴 #1 CRITICAL web-1 · disk"))
            let reply = try await post(harness, check, ChatMessage(text: "df says 95%", replyTo: parent))
            let shown = try check.unwrap(await harness.botMessages().first { $0.id == reply.messageID }, "the reply")
            try check.equal(shown.replyTo, parent.messageID, "reply threads under its parent")
        },
        Case("buttons are shown and a press arrives as its command, under its message") { harness, check, incoming in
            let buttons = [ChatButton(label: "Ack", command: "#1 ack"), ChatButton(label: "Silence 1h", command: "#1 silence 1h"),
                           ChatButton(label: "Resolve", command: "#1 resolve"), ChatButton(label: "▶ disk", command: "#1 run disk")]
            let ref = try await post(harness, check, ChatMessage(text: "🔴 #1", buttons: buttons))
            let shown = try check.unwrap(await harness.botMessages().first { $0.id == ref.messageID }, "the message")
            try check.equal(shown.buttons, buttons, "buttons in order")
            try await harness.userPresses(command: "#1 silence 1h", on: ref.messageID, userID: "1001")
            let press = try await next(incoming, check, "the button press")
            try check.equal(press.kind, .button, "kind")
            try check.equal(press.text, "#1 silence 1h", "command")
            try check.equal(press.userID, "1001", "who pressed")
            try check.equal(press.replyTo?.messageID, ref.messageID, "the message the button is under")
            try check.equal(press.ref.transport, harness.transport.name, "transport")
        },
        Case("an edit replaces text and buttons, and editing to the same content succeeds") { harness, check, _ in
            let ref = try await post(harness, check, ChatMessage(text: "open", buttons: [ChatButton(label: "Ack", command: "ack")]))
            try await edit(harness, check, ref, "acknowledged by ana", [ChatButton(label: "Resolve", command: "resolve")])
            try await edit(harness, check, ref, "acknowledged by ana", [ChatButton(label: "Resolve", command: "resolve")])
            var shown = try check.unwrap(await harness.botMessages().first { $0.id == ref.messageID }, "the message")
            try check.equal(shown.text, "acknowledged by ana", "edited text")
            try check.equal(shown.buttons.map(\.label), ["Resolve"], "edited buttons")
            try await edit(harness, check, ref, "resolved " + awkwardText, [])
            shown = try check.unwrap(await harness.botMessages().first { $0.id == ref.messageID }, "the message")
            try check.equal(shown.text, "resolved " + awkwardText, "edited text as written")
            try check.equal(shown.buttons, [], "buttons removed")
        },
        Case("text at the length limit posts and one character more is a client error") { harness, check, _ in
            let limit = harness.transport.limits.maxMessageLength
            let full = String(repeating: "a", count: limit - 1) + "&"
            let ref = try await post(harness, check, ChatMessage(text: full))
            let shown = try check.unwrap(await harness.botMessages().first { $0.id == ref.messageID }, "the long message")
            try check.equal(shown.text.count, limit, "all of it shown")
            do {
                _ = try await harness.transport.post(ChatMessage(text: full + "b"))
                throw check.fail("a post over the limit", expected: "clientError", actual: "success", #fileID, #line)
            } catch let failure as ChatFailure {
                try check.equal(failure.reason, .clientError, "reason for a post over the limit")
            }
        },
        Case("failures are classified: 429 with its wait, 5xx retryable, a rejection a client error with its reason") { harness, check, _ in
            await harness.failNext(.rateLimited(retryAfterSeconds: 7), count: 1)
            let limited = try await failure(harness, check)
            try check.equal(limited.reason, .rateLimited, "429 reason")
            try check.equal(limited.retryAfter, .seconds(7), "429 retry after")
            await harness.failNext(.serverError, count: 1)
            let server = try await failure(harness, check)
            try check.equal(server.reason, .serverError, "5xx reason")
            try check.isTrue(server.isRetryable, "5xx is retryable")
            await harness.failNext(.rejected("chat_not_found"), count: 1)
            let rejected = try await failure(harness, check)
            try check.equal(rejected.reason, .clientError, "rejection reason")
            try check.isTrue(rejected.message.contains("chat_not_found"), "the platform's reason is kept: \(rejected.message)")
            _ = try await post(harness, check, ChatMessage(text: "works again"))
        },
        Case("typed messages arrive with the sender and the message they answer; bots are ignored") { harness, check, incoming in
            let alert = try await post(harness, check, ChatMessage(text: "🔴 #1"))
            try await harness.otherBotPosts("I am a bot")
            let plainID = try await harness.userTypes("status", userID: "1001", replyTo: nil)
            let plain = try await next(incoming, check, "the typed message")
            try check.equal(plain.text, "status", "text (the bot's message was skipped)")
            try check.equal(plain.kind, .text, "kind")
            try check.equal(plain.userID, "1001", "sender")
            try check.equal(plain.ref.messageID, plainID, "ref")
            try check.equal(plain.replyTo, nil, "not a reply")
            _ = try await harness.userTypes("run disk " + awkwardText, userID: "1002", replyTo: alert.messageID)
            let reply = try await next(incoming, check, "the reply", after: plain)
            try check.equal(reply.text, "run disk " + awkwardText, "text exactly as typed")
            try check.equal(reply.replyTo?.messageID, alert.messageID, "answers the alert")
            try check.equal(reply.replyTo?.transport, harness.transport.name, "reply transport")
            try check.isTrue(reply.deliveryID == nil || reply.deliveryID != plain.deliveryID, "delivery ids differ")
        },
    ]

    /// Runs the case called `name` against `harness` (fresh for this case), reading its
    /// transport's incoming messages while it runs.
    public static func run(_ name: String, on harness: any ChatPlatformHarness) async throws {
        guard let found = cases.first(where: { $0.name == name }) else {
            throw ConformanceFailure(
                caseName: name, what: "case name", expected: "one of \(cases.map(\.name))", actual: name, location: "")
        }
        let incoming = Collector<IncomingMessage>()
        let check = Check(caseName: name)
        try await harness.whileReceiving {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await message in harness.transport.incoming { incoming.append(message) }
                }
                defer { group.cancelAll() }
                try await found.body(harness, check, incoming)
            }
        }
    }

    private static func post(_ harness: any ChatPlatformHarness, _ check: Check, _ message: ChatMessage) async throws -> MessageRef {
        do {
            return try await harness.transport.post(message)
        } catch {
            throw check.fail("posting '\(message.text.prefix(40))'", expected: "success", actual: "\(error)", #fileID, #line)
        }
    }

    private static func edit(
        _ harness: any ChatPlatformHarness, _ check: Check, _ ref: MessageRef, _ text: String, _ buttons: [ChatButton]
    ) async throws {
        do {
            try await harness.transport.edit(ref, text: text, buttons: buttons)
        } catch {
            throw check.fail("editing to '\(text.prefix(40))'", expected: "success", actual: "\(error)", #fileID, #line)
        }
    }

    private static func failure(_ harness: any ChatPlatformHarness, _ check: Check) async throws -> ChatFailure {
        do {
            _ = try await harness.transport.post(ChatMessage(text: "will fail"))
        } catch {
            return error
        }
        throw check.fail("a post the platform fails", expected: "a ChatFailure", actual: "success", #fileID, #line)
    }

    private static func next(
        _ incoming: Collector<IncomingMessage>, _ check: Check, _ what: String, after previous: IncomingMessage? = nil
    ) async throws -> IncomingMessage {
        let start = previous.map { previous in (incoming.all.firstIndex { $0 == previous } ?? -1) + 1 } ?? 0
        do {
            return try await incoming.waitFor(what: what, from: start, timeout: .seconds(10)) { _ in true }
        } catch {
            throw check.fail(what, expected: "a message on incoming within 10 s", actual: "none", #fileID, #line)
        }
    }
}
