import Foundation
import Logging
import ServiceLifecycle
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// What the Slack harnesses share: the fake, the transport and its inbox, and the fake's
/// answers in `PlatformMessage` terms.
protocol SlackHarness: ChatPlatformHarness {
    var fake: FakeSlackServer { get }
    var slack: SlackTransport { get }
    var inbox: MemoryChatInbox { get }
}

extension SlackHarness {
    var transport: any ChatTransport { slack }
    var chat: String { FakeSlackServer.defaultChannel }

    func botMessages() async -> [PlatformMessage] {
        fake.messages(in: chat).filter(\.isFromApp).map { message in
            PlatformMessage(
                id: message.ts, text: message.shownText, replyTo: message.threadTS,
                buttons: message.buttons.map { ChatButton(label: $0.label, command: $0.value) }, edits: message.edits)
        }
    }

    @discardableResult
    func userTypes(_ text: String, userID: String, replyTo: String?) async throws -> String {
        try await fake.userTypes(channel: chat, user: userID, text: text, threadTS: replyTo)
    }

    func userPresses(command: String, on messageID: String, userID: String) async throws {
        try await fake.userPresses(channel: chat, messageTS: messageID, command: command, user: userID)
    }

    func otherBotPosts(_ text: String) async throws {
        try await fake.otherBotPosts(channel: chat, text: text)
    }

    func failNext(_ failure: PlatformFailure, count: Int) async {
        switch failure {
        case .rateLimited(let seconds): fake.failNext(.rateLimited(retryAfterSeconds: seconds), count: count)
        case .serverError: fake.failNext(.serverError(status: 502), count: count)
        case .rejected(let code): fake.failNext(.error(code), count: count)
        }
    }

    /// Runs the transport as a service while `body` runs, once it receives; stops it after.
    func running(_ body: () async throws -> Void) async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: slack)], logger: Logger(label: "slack-harness")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await withDeadline(.seconds(10), what: "the Slack transport to receive") { await slack.waitUntilReceiving() }
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

/// Slack over the Events API: the fake POSTs signed requests to the transport's webhooks,
/// mounted on a loopback HTTP server.
final class SlackEventsHarness: SlackHarness {
    static let secret = "test-signing-secret"

    let fake: FakeSlackServer
    let slack: SlackTransport
    let inbox = MemoryChatInbox()
    let log = LogCapture()

    private init(fake: FakeSlackServer, change: (inout SlackSettings) -> Void) {
        self.fake = fake
        var settings = SlackSettings.forFake(fake, mode: .eventsAPI, signingSecret: Self.secret)
        change(&settings)
        slack = SlackTransport(settings: settings, inbox: inbox, logger: log.logger)
    }

    static func with(
        options: FakeSlackOptions = FakeSlackOptions(), change: (inout SlackSettings) -> Void = { _ in },
        _ body: (SlackEventsHarness) async throws -> Void
    ) async throws {
        try await withFakeSlack(options: options) { fake in
            try await body(SlackEventsHarness(fake: fake, change: change))
        }
    }

    func whileReceiving(_ body: () async throws -> Void) async throws {
        try await ChatWebhookServer.with(slack.webhooks) { base in
            fake.deliverEvents(to: base + SlackSettings.eventsPath, signingSecret: Self.secret)
            try await running(body)
        }
    }
}

/// Slack over Socket Mode: the transport connects to the fake's WebSocket side.
final class SlackSocketHarness: SlackHarness {
    let fake: FakeSlackServer
    let slack: SlackTransport
    let inbox = MemoryChatInbox()
    let log = LogCapture()

    private init(fake: FakeSlackServer, change: (inout SlackSettings) -> Void) {
        self.fake = fake
        var settings = SlackSettings.forFake(fake, mode: .socketMode)
        change(&settings)
        slack = SlackTransport(settings: settings, inbox: inbox, logger: log.logger)
    }

    static func with(
        options: FakeSlackOptions = FakeSlackOptions(), change: (inout SlackSettings) -> Void = { _ in },
        _ body: (SlackSocketHarness) async throws -> Void
    ) async throws {
        try await withFakeSlack(options: options) { fake in
            try await body(SlackSocketHarness(fake: fake, change: change))
        }
    }

    func whileReceiving(_ body: () async throws -> Void) async throws {
        try await running {
            // The transport can see hello before the fake has counted the connection as open.
            _ = try await fake.socketEvents.waitFor(what: "the fake to count the connection") {
                if case .connected = $0 { true } else { false }
            }
            try await body()
        }
    }
}
