import Foundation
import TeleOpsCore

/// The behaviour every `ChatTransport` must have, as named cases run against a
/// `ChatPlatformHarness` (a fake platform with the transport pointed at it). Each case gets a
/// fresh harness and throws `ConformanceFailure` naming what went wrong.
///
/// Where a platform is not a chat app (the console: a terminal), the harness says how in
/// `traits`, and the cases concerned check what the platform does instead: an edit shown anew
/// after its message, a button "pressed" by typing its command, one person typing, and a write
/// refused by the output as the one failure.
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
            let traits = harness.traits
            let person = traits.onlyPerson ?? "1001"
            let buttons = [ChatButton(label: "Ack", command: "#1 ack"), ChatButton(label: "Silence 1h", command: "#1 silence 1h"),
                           ChatButton(label: "Resolve", command: "#1 resolve"), ChatButton(label: "▶ disk", command: "#1 run disk")]
            let ref = try await post(harness, check, ChatMessage(text: "🔴 #1", buttons: buttons))
            let shown = try check.unwrap(await harness.botMessages().first { $0.id == ref.messageID }, "the message")
            try check.equal(shown.buttons, buttons, "buttons in order")
            try await harness.userPresses(command: "#1 silence 1h", on: ref.messageID, userID: person)
            let press = try await next(incoming, check, "the button press")
            try check.equal(press.text, "#1 silence 1h", "command")
            try check.equal(press.userID, person, "who pressed")
            if traits.canReplyToMessages {
                try check.equal(press.kind, .button, "kind")
                try check.equal(press.replyTo?.messageID, ref.messageID, "the message the button is under")
            } else {
                // A terminal has no buttons: the person typed the command the button showed,
                // a line like any other.
                try check.equal(press.kind, .text, "kind (typed: a terminal has no buttons)")
                try check.equal(press.replyTo, nil, "answers no message (the command's #1 names the scenario)")
            }
            try check.equal(press.ref.transport, harness.transport.name, "transport")
        },
        Case("an edit replaces text and buttons, and editing to the same content succeeds") { harness, check, _ in
            let ref = try await post(harness, check, ChatMessage(text: "open", buttons: [ChatButton(label: "Ack", command: "ack")]))
            /// The message as a reader sees it now, after `edits` edits: the message itself, or
            /// where a platform cannot edit in place, its last update (the message unchanged).
            func current(after edits: Int) async throws -> PlatformMessage.Update {
                let shown = try check.unwrap(await harness.botMessages().first { $0.id == ref.messageID }, "the message")
                if harness.traits.editsInPlace { return PlatformMessage.Update(text: shown.text, buttons: shown.buttons) }
                try check.equal(shown.text, "open", "the message as first shown (not edited in place)")
                try check.equal(shown.buttons.map(\.label), ["Ack"], "its buttons as first shown")
                try check.equal(shown.updates.count, edits, "one update shown per edit")
                return try check.unwrap(shown.updates.last, "the last update shown")
            }
            try await edit(harness, check, ref, "acknowledged by ana", [ChatButton(label: "Resolve", command: "resolve")])
            try await edit(harness, check, ref, "acknowledged by ana", [ChatButton(label: "Resolve", command: "resolve")])
            var shown = try await current(after: 2)
            try check.equal(shown.text, "acknowledged by ana", "edited text")
            try check.equal(shown.buttons.map(\.label), ["Resolve"], "edited buttons")
            try await edit(harness, check, ref, "resolved " + awkwardText, [])
            shown = try await current(after: 3)
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
            guard harness.traits.platformAnswers else {
                // Nothing answers a terminal, so there is no 429, 5xx or rejection; the one
                // failure is the output refusing the write. That post fails, as a client error
                // (it is given up, or posted elsewhere by failover) with the system's reason,
                // shows nothing, and posts succeed again once the output takes writes.
                try await harness.whileOutputRefusesWrites { systemReason in
                    let refused = try await failure(harness, check)
                    try check.equal(refused.reason, .clientError, "reason for a refused write")
                    try check.isTrue(refused.message.contains(systemReason), "the system's reason is kept: \(refused.message)")
                }
                try check.isTrue(!(await harness.botMessages().contains { $0.text.contains("will fail") }), "the refused post shows nothing")
                let again = try await post(harness, check, ChatMessage(text: "works again"))
                let shown = try check.unwrap(await harness.botMessages().first { $0.id == again.messageID }, "the post after")
                try check.equal(shown.text, "works again", "the post after")
                return
            }
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
            let traits = harness.traits
            let alert = try await post(harness, check, ChatMessage(text: "🔴 #1"))
            try await harness.otherBotPosts("I am a bot")
            let plainID = try await harness.userTypes("status", userID: traits.onlyPerson ?? "1001", replyTo: nil)
            let plain = try await next(incoming, check, "the typed message")
            try check.equal(plain.text, "status", "text (the bot's message was skipped)")
            try check.equal(plain.kind, .text, "kind")
            try check.equal(plain.userID, traits.onlyPerson ?? "1001", "sender")
            try check.equal(plain.ref.messageID, plainID, "ref")
            try check.equal(plain.replyTo, nil, "not a reply")
            let answering = traits.canReplyToMessages ? alert.messageID : nil
            _ = try await harness.userTypes("run disk " + awkwardText, userID: traits.onlyPerson ?? "1002", replyTo: answering)
            let reply = try await next(incoming, check, "the reply", after: plain)
            try check.equal(reply.text, "run disk " + awkwardText, "text exactly as typed")
            if traits.canReplyToMessages {
                try check.equal(reply.replyTo?.messageID, alert.messageID, "answers the alert")
                try check.equal(reply.replyTo?.transport, harness.transport.name, "reply transport")
            } else {
                // A terminal has no threads: a typed line answers no message (`#N` picks the scenario).
                try check.equal(reply.replyTo, nil, "answers no message")
            }
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
