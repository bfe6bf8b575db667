import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// The transport conformance suite, against a real console printing into a file and reading
/// a pipe. Where a terminal is not a chat app, `ConsoleHarness.traits` says so and the cases
/// check what the console does instead.
@Suite struct ConsoleConformanceTests {
    @Test(arguments: ChatTransportConformance.cases.map(\.name))
    func conformance(_ name: String) async throws {
        try await ConsoleHarness.with { try await ChatTransportConformance.run(name, on: $0) }
    }

    /// The harness reads blocks as a reader would, whatever lines the text holds.
    @Test func theHarnessReadsBlocksWithBlankLinesAndHeaderLikeLinesInTheirText() async throws {
        try await ConsoleHarness.with { harness in
            let console = harness.console
            let text = "first\n\n(out-1)\n\n(update to out-9)\n[not: buttons]\nlast\n"
            let first = try await console.post(ChatMessage(text: text, buttons: [ChatButton(label: "Ack", command: "#1 ack")]))
            let second = try await console.post(ChatMessage(text: "[Ack: #1 ack]", replyTo: first))
            try await console.edit(first, text: "", buttons: [ChatButton(label: "Resolve", command: "#1 resolve")])
            #expect(await harness.botMessages() == [
                PlatformMessage(id: first.messageID, text: text, buttons: [ChatButton(label: "Ack", command: "#1 ack")], edits: 1,
                                updates: [PlatformMessage.Update(text: "", buttons: [ChatButton(label: "Resolve", command: "#1 resolve")])]),
                PlatformMessage(id: second.messageID, text: "[Ack: #1 ack]", replyTo: first.messageID),
            ])
        }
    }
}
