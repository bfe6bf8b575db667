import Foundation
import Hummingbird
import Synchronization
import TeleOpsCore

/// A fake Slack for tests: a real HTTP server on 127.0.0.1 (a free port) answering the Web API
/// methods TeleOps uses as Slack does, plus Slack's side of receiving: Socket Mode envelopes
/// over a WebSocket, or signed Events API requests to TeleOps' HTTP server.
///
/// Web API (`apiURL`): `auth.test`, `chat.postMessage`, `chat.update`, `apps.connections.open`.
/// Tokens are checked (`not_authed`, `invalid_auth`, `not_allowed_token_type`), and so are
/// channels (`channel_not_found`, `not_in_channel`, `is_archived`), text (`no_text`,
/// `msg_too_long` over 40,000) and Block Kit (`invalid_blocks`). Logical errors are HTTP 200
/// `{"ok":false,"error":…}`; `failNext` injects 429s with `Retry-After`, 5xx and slow answers;
/// `FakeSlackOptions.floodControl` limits posts per channel.
///
/// What people do (`userTypes`, `userPresses`, `userRunsCommand`, `otherBotPosts`) is delivered
/// as Slack delivers it: by default as Socket Mode envelopes; after `deliverEvents(to:…)`, as
/// signed HTTP requests, retried with `X-Slack-Retry-Num` on failure. The bot's own posts come
/// back as `message` events too, as they do in Slack.
///
/// ```swift
/// let slack = try await FakeSlackServer.start()
/// defer { Task { await slack.stop() } }
/// let ts = try await slack.userTypes(user: "U0ANA", text: "ack")
/// let reply = try await slack.waitForMessage(containing: "acknowledged")
/// ```
public final class FakeSlackServer: Sendable {
    public static let defaultChannel = "C0ONCALL1"
    public static let botToken = "xoxb-10-fake-bot-token"
    public static let appToken = "xapp-1-A0FAKE-fake-app-token"
    public static let botUserID = "U0TELEOPS"
    public static let botID = "B0TELEOPS"
    public static let otherBotID = "B0OTHERBOT"
    public static let teamID = "T0FAKE"
    public static let appID = "A0FAKE"

    public let options: FakeSlackOptions
    /// Every Web API request, with when it arrived and how it was answered.
    public let requests = Collector<FakeSlackRequest>()
    /// Each post and each edit of a message, as the message stood after it.
    public let posts = Collector<FakeSlackMessage>()
    /// Every Events API delivery attempt.
    public let deliveries = Collector<FakeSlackDelivery>()
    /// The ids of acknowledged Socket Mode envelopes, in the order the acks came.
    public let acks = Collector<String>()
    /// Socket Mode connections saying hello and ending, by connection number (1, 2, …).
    public let socketEvents = Collector<FakeSlackSocketEvent>()

    struct Channel {
        var id: String
        var isMember: Bool
        var isArchived: Bool
        var messages: [FakeSlackMessage] = []
    }

    struct EventsTarget {
        var eventsURL: String
        var interactivityURL: String
        var commandsURL: String
        var signingSecret: String
    }

    struct State {
        var channels: [String: Channel] = [:]
        var clock: Int64 = 1_700_000_000_000_000
        var failures: [FakeSlackFailure] = []
        var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]
        var counter = 0
        var eventsTarget: EventsTarget?
        var envelopes: [String: FakeSlackEnvelope] = [:]
        var envelopeOrder: [String] = []
        var socket = SocketState()
        var http: SlackLoopbackServer?
        var tasks: [Task<Void, Never>] = []
    }

    let state = Mutex(State())
    let outbound: AsyncStream<PendingDelivery>
    let outboundContinuation: AsyncStream<PendingDelivery>.Continuation

    private init(options: FakeSlackOptions) {
        self.options = options
        (outbound, outboundContinuation) = AsyncStream.makeStream(of: PendingDelivery.self)
        state.withLock { state in
            for id in options.channels { state.channels[id] = Channel(id: id, isMember: true, isArchived: false) }
        }
    }

    /// Starts the Web API (and the Socket Mode server) on free loopback ports.
    public static func start(options: FakeSlackOptions = FakeSlackOptions()) async throws -> FakeSlackServer {
        let fake = FakeSlackServer(options: options)
        let router = Router()
        router.post("/api/:method") { request, context in
            await fake.answer(method: context.parameters.get("method") ?? "", request: request)
        }
        let http = try await SlackLoopbackServer.start(router: router, name: "FakeSlack")
        fake.state.withLock { $0.http = http }
        try await fake.startSocketMode()
        let delivery = Task { await fake.runEventsDelivery() }
        let redelivery = Task { await fake.runRedelivery() }
        fake.state.withLock { $0.tasks += [delivery, redelivery] }
        return fake
    }

    /// Stops the servers and the delivery loops.
    public func stop() async {
        let (http, tasks) = state.withLock { state in
            defer { state.tasks = [] }
            return (state.http, state.tasks)
        }
        outboundContinuation.finish()
        tasks.forEach { $0.cancel() }
        await stopSocketMode()
        await http?.stop()
        for task in tasks { await task.value }
    }

    public var port: Int { state.withLock { $0.http?.port ?? 0 } }
    /// The Web API base URL to configure as `SlackSettings.apiURL`.
    public var apiURL: String { "http://127.0.0.1:\(port)/api" }

    // MARK: Channels and messages

    /// Adds a channel (or changes one): whether the bot is in it, whether it is archived.
    public func addChannel(_ id: String, botIsMember: Bool = true, archived: Bool = false) {
        state.withLock { state in
            let messages = state.channels[id]?.messages ?? []
            state.channels[id] = Channel(id: id, isMember: botIsMember, isArchived: archived, messages: messages)
        }
    }

    /// Every message in `channel`, oldest first: the bot's, people's and other bots'.
    public func messages(in channel: String = FakeSlackServer.defaultChannel) -> [FakeSlackMessage] {
        state.withLock { $0.channels[channel]?.messages ?? [] }
    }

    /// The message with `ts`, as it stands now.
    public func message(_ ts: String, in channel: String = FakeSlackServer.defaultChannel) -> FakeSlackMessage? {
        messages(in: channel).first { $0.ts == ts }
    }

    /// Waits until the bot posted (or edited a message to) one whose shown text contains `needle`.
    @discardableResult
    public func waitForMessage(
        containing needle: String, in channel: String? = nil, timeout: Duration = .seconds(10)
    ) async throws -> FakeSlackMessage {
        try await posts.waitFor(what: "a Slack message containing '\(needle)'", timeout: timeout) { message in
            (channel == nil || message.channel == channel) && message.shownText.contains(needle)
        }
    }

    /// Makes the next `count` chat.postMessage / chat.update calls fail with `failure`.
    public func failNext(_ failure: FakeSlackFailure, count: Int = 1) {
        state.withLock { $0.failures += Array(repeating: failure, count: count) }
    }

    /// Forgets the failures queued by `failNext` (Slack recovers).
    public func clearFailures() {
        state.withLock { $0.failures.removeAll() }
    }

    /// The Web API calls of `method` (`chat.postMessage`, …), in the order they were answered.
    public func requests(method: String) -> [FakeSlackRequest] {
        requests.all.filter { $0.method == method }
    }

    /// Waits for a Web API call of `method`, from the `from`-th request on.
    @discardableResult
    public func waitForRequest(
        method: String, from start: Int = 0, timeout: Duration = .seconds(10),
        where matches: @escaping @Sendable (FakeSlackRequest) -> Bool = { _ in true }
    ) async throws -> FakeSlackRequest {
        try await requests.waitFor(what: "a \(method) call", from: start, timeout: timeout) { $0.method == method && matches($0) }
    }

    // MARK: What people do

    /// A person (`user`) types `text` in `channel`, in the thread of `threadTS` when given.
    /// Slack stores it escaped, with URLs as links, and `mentioningBot` puts `<@bot>` first.
    /// Returns the new message's ts.
    @discardableResult
    public func userTypes(
        channel: String = FakeSlackServer.defaultChannel, user: String, text: String, threadTS: String? = nil,
        mentioningBot: Bool = false
    ) async throws -> String {
        let wireText = (mentioningBot ? "<@\(Self.botUserID)> " : "") + FakeSlackBlocks.typed(text)
        let (message, parent) = try state.withLock { state throws(FakeSlackError) -> (FakeSlackMessage, FakeSlackMessage?) in
            guard state.channels[channel] != nil else { throw FakeSlackError(description: "no channel \(channel) in the fake") }
            let parent = threadTS.flatMap { ts in state.channels[channel]!.messages.first { $0.ts == ts } }
            let message = FakeSlackMessage(
                channel: channel, ts: state.nextTS(), threadTS: threadTS, user: user, botID: nil, text: wireText, blocks: nil, edits: 0)
            state.channels[channel]!.messages.append(message)
            return (message, parent)
        }
        await deliver(.event(messageEvent(message, parentUser: parent?.user)))
        return message.ts
    }

    /// A person presses the button whose value (the TeleOps command) is `command`, under the
    /// message `messageTS`. Throws when that message has no such button.
    public func userPresses(
        channel: String = FakeSlackServer.defaultChannel, messageTS: String, command: String, user: String
    ) async throws {
        guard let message = message(messageTS, in: channel) else {
            throw FakeSlackError(description: "no message \(messageTS) in \(channel)")
        }
        guard let button = message.buttons.first(where: { $0.value == command }) else {
            throw FakeSlackError(description: "message \(messageTS) has no button with value '\(command)' (it has \(message.buttons.map(\.value)))")
        }
        let trigger = state.withLock { $0.nextID() }
        await deliver(.interactive(blockActions(message: message, button: button, user: user, trigger: trigger)))
    }

    /// A person runs a slash command (`/teleops ack #3` is `command: "/teleops", text: "ack #3"`).
    public func userRunsCommand(
        channel: String = FakeSlackServer.defaultChannel, user: String, command: String = "/teleops", text: String
    ) async throws {
        let trigger = state.withLock { $0.nextID() }
        await deliver(.command(slashCommand(channel: channel, user: user, command: command, text: text, trigger: trigger)))
    }

    /// Another app's bot posts `text` in `channel`; Slack sends it as a `bot_message`.
    @discardableResult
    public func otherBotPosts(channel: String = FakeSlackServer.defaultChannel, text: String) async throws -> String {
        let message = try state.withLock { state throws(FakeSlackError) -> FakeSlackMessage in
            guard state.channels[channel] != nil else { throw FakeSlackError(description: "no channel \(channel) in the fake") }
            let message = FakeSlackMessage(
                channel: channel, ts: state.nextTS(), threadTS: nil, user: "U0OTHERBOT", botID: Self.otherBotID,
                text: FakeSlackBlocks.typed(text), blocks: nil, edits: 0)
            state.channels[channel]!.messages.append(message)
            return message
        }
        await deliver(.event(messageEvent(message, parentUser: nil)))
        return message.ts
    }

    /// From now on deliver what people do as signed HTTP requests (the Events API) instead of
    /// Socket Mode envelopes: events to `eventsURL`, button presses to `interactivityURL`, slash
    /// commands to `commandsURL` (by default the events URL with its last path part replaced
    /// by `interactivity` and `commands`).
    public func deliverEvents(
        to eventsURL: String, interactivityURL: String? = nil, commandsURL: String? = nil, signingSecret: String
    ) {
        let base = eventsURL.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let target = EventsTarget(
            eventsURL: eventsURL, interactivityURL: interactivityURL ?? base + "/interactivity", commandsURL: commandsURL ?? base + "/commands",
            signingSecret: signingSecret)
        state.withLock { $0.eventsTarget = target }
    }

    // MARK: Socket Mode bookkeeping

    /// Every envelope sent or waiting to be sent, oldest first.
    public var envelopes: [FakeSlackEnvelope] {
        state.withLock { state in state.envelopeOrder.compactMap { state.envelopes[$0] } }
    }

    /// Envelopes not acknowledged yet.
    public var unackedEnvelopes: [FakeSlackEnvelope] { envelopes.filter { !$0.acked } }
}

extension FakeSlackServer.State {
    /// The next message ts: microseconds since the epoch, 100 µs apart, always increasing.
    mutating func nextTS() -> String {
        clock += 100
        let seconds = clock / 1_000_000
        let micros = clock % 1_000_000
        let fraction = String(micros)
        return "\(seconds).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    mutating func nextID() -> Int {
        counter += 1
        return counter
    }
}
