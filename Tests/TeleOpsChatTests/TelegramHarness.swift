import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// The fake Telegram server with a `TelegramTransport` pointed at it and a memory inbox, for
/// one test. The default chat is a supergroup; short poll timeouts and backoffs keep tests fast.
struct TelegramHarness: ChatPlatformHarness {
    static let chatID: Int64 = -1_001_234_567_890
    static let ana = FakeTelegramUser(id: 1_111_111, firstName: "Ana", username: "ana")

    let fake: FakeTelegramServer
    let telegram: TelegramTransport
    let inbox: MemoryChatInbox
    let logs: LogCapture
    let settings: TelegramSettings

    var transport: any ChatTransport { telegram }
    var chat: String { String(Self.chatID) }

    static var fakeOptions: FakeTelegramServer.Options {
        var options = FakeTelegramServer.Options()
        options.conflictInterval = .milliseconds(100)
        options.webhookRetryDelay = .milliseconds(100)
        options.strictEntities = true
        return options
    }

    /// Settings for a transport talking to `fake`, with test timings.
    static func testSettings(for fake: FakeTelegramServer, chat: Int64 = chatID) -> TelegramSettings {
        TelegramSettings(
            token: fake.token, chat: String(chat), apiURL: fake.apiURL, receive: .polling(timeout: .seconds(2)),
            connectTimeout: .seconds(2), requestTimeout: .seconds(5),
            pollBackoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(500)),
            conflictBackoff: Backoff(initial: .milliseconds(100), maximum: .milliseconds(400)),
            unauthorizedDelay: .milliseconds(500))
    }

    static func with(
        options: FakeTelegramServer.Options = fakeOptions, chats: [FakeTelegramChat] = [.supergroup(id: chatID, title: "oncall")],
        configure: @Sendable (FakeTelegramServer, inout TelegramSettings) throws -> Void = { _, _ in },
        _ body: (TelegramHarness) async throws -> Void
    ) async throws {
        try await FakeTelegramServer.with(options: options) { fake in
            chats.forEach(fake.addChat)
            var settings = testSettings(for: fake, chat: chats.first?.id ?? chatID)
            try configure(fake, &settings)
            try settings.validate()
            let logs = LogCapture()
            let inbox = MemoryChatInbox()
            let telegram = TelegramTransport(settings: settings, inbox: inbox, logger: logs.logger)
            try await body(TelegramHarness(fake: fake, telegram: telegram, inbox: inbox, logs: logs, settings: settings))
            #expect(!logs.lines.all.contains { $0.contains(fake.token) }, "the bot token appeared in a log line")
        }
    }

    /// Another transport on the same fake and inbox (a restarted controller).
    func restarted() -> TelegramTransport {
        TelegramTransport(settings: settings, inbox: inbox, logger: logs.logger)
    }

    func whileReceiving(_ body: () async throws -> Void) async throws {
        try await Self.running(telegram, body)
    }

    /// Runs `service` in a service group while `body` runs, then shuts it down gracefully.
    static func running(_ service: any Service, _ body: () async throws -> Void) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: service)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result = await Result(catching: { try await body() })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            try result.get()
        }
    }

    // MARK: ChatPlatformHarness

    func botMessages() async -> [PlatformMessage] {
        fake.botMessages(in: Self.chatID).map { message in
            PlatformMessage(
                id: String(message.id), text: message.text, replyTo: message.replyTo.map(String.init), buttons: message.buttons,
                edits: message.edits)
        }
    }

    @discardableResult
    func userTypes(_ text: String, userID: String, replyTo: String?) async throws -> String {
        let message = try fake.userTypes(chat: Self.chatID, from: Self.user(userID), text: text, replyTo: replyTo.flatMap { Int64($0) })
        return String(message.id)
    }

    func userPresses(command: String, on messageID: String, userID: String) async throws {
        guard let id = Int64(messageID) else { throw FakeTelegramMisuse(description: "'\(messageID)' is not a Telegram message id") }
        try fake.userPresses(chat: Self.chatID, messageID: id, data: command, from: Self.user(userID))
    }

    func otherBotPosts(_ text: String) async throws {
        try fake.otherBotPosts(chat: Self.chatID, text: text)
    }

    func failNext(_ failure: PlatformFailure, count: Int) async {
        fake.failNext(failure, count: count)
    }

    /// Telegram user ids are numbers: a numeric `userID` is used as is, any other gets a stable number.
    static func user(_ userID: String) -> FakeTelegramUser {
        let id = Int64(userID) ?? Int64(userID.unicodeScalars.reduce(UInt32(2_166_136_261)) { ($0 ^ $1.value) &* 16_777_619 }) + 1_000_000
        return FakeTelegramUser(id: id, firstName: userID, username: userID)
    }
}

/// Collects what arrives on a transport's `incoming` while `body` runs.
func withIncoming(_ transport: any ChatTransport, _ body: (Collector<IncomingMessage>) async throws -> Void) async throws {
    let incoming = Collector<IncomingMessage>()
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            for await message in transport.incoming { incoming.append(message) }
        }
        let result = await Result(catching: { try await body(incoming) })
        tasks.cancelAll()
        try result.get()
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
