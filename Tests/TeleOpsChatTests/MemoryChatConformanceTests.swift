import Testing
import TeleOpsCore
import TeleOpsTesting

@Suite struct MemoryChatConformanceTests {
    @Test(arguments: ChatTransportConformance.cases.map(\.name))
    func conformance(_ name: String) async throws {
        try await ChatTransportConformance.run(name, on: MemoryChatHarness())
    }

    /// The suite catches a transport that shows something other than what was posted.
    @Test func aTransportThatMangledTextFails() async throws {
        let harness = MangledHarness()
        await #expect(throws: ConformanceFailure.self) {
            try await ChatTransportConformance.run("text is shown exactly as written", on: harness)
        }
    }
}

/// A memory platform that, like an unescaped HTML parse, loses what looks like a tag.
private struct MangledHarness: ChatPlatformHarness {
    let base = MemoryChatHarness()
    var transport: any ChatTransport { base.transport }
    var chat: String { base.chat }
    func whileReceiving(_ body: () async throws -> Void) async throws { try await body() }
    func botMessages() async -> [PlatformMessage] {
        await base.botMessages().map { message in
            var message = message
            message.text = message.text.replacingOccurrences(of: "<b>", with: "").replacingOccurrences(of: "</b>", with: "")
            return message
        }
    }
    func userTypes(_ text: String, userID: String, replyTo: String?) async throws -> String {
        try await base.userTypes(text, userID: userID, replyTo: replyTo)
    }
    func userPresses(command: String, on messageID: String, userID: String) async throws {
        try await base.userPresses(command: command, on: messageID, userID: userID)
    }
    func otherBotPosts(_ text: String) async throws {}
    func failNext(_ failure: PlatformFailure, count: Int) async { await base.failNext(failure, count: count) }
}
