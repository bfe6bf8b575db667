import Foundation
import Logging
import ServiceLifecycle
import TeleOpsCore

/// Slack as a chat transport: posts and edits through the Web API (`chat.postMessage`,
/// `chat.update`, one call each), and receives what people type, the buttons they press and
/// their slash commands over Socket Mode or the Events API over HTTP (`settings.receiveMode`).
///
/// Everything received is stored in the inbox before Slack is acknowledged (the Socket Mode
/// envelope ack, or the HTTP 200), then delivered on `incoming`. The bot's own messages and
/// other bots' are never delivered. A reply inside a thread is delivered with the thread's
/// parent as `ref` and `replyTo`, so TeleOps answers in that thread.
///
/// At start, `run()` asks `auth.test` who the bot is. If Slack refuses the token
/// (`invalid_auth`, `token_revoked`, …) `run()` throws: a wrong token will not fix itself, and
/// failing the start says so at once. Network and server errors are retried with backoff.
///
/// ```swift
/// let slack = SlackTransport(settings: settings, inbox: store, logger: logger)
/// let ref = try await slack.post(ChatMessage(text: "#1 CRITICAL web-1 disk", buttons: [ChatButton(label: "Ack", command: "ack")]))
/// try await slack.edit(ref, text: "#1 acknowledged", buttons: [])
/// ```
public final class SlackTransport: ChatTransport, Service {
    public static let transportName = "slack"

    public let name = SlackTransport.transportName
    public let settings: SlackSettings
    public let limits: ChatLimits
    public var incoming: AsyncStream<IncomingMessage> { receiver.incoming }
    /// The configured channel ID.
    public var defaultChat: String { settings.channel }

    let api: SlackAPI
    let receiver: SlackReceiver
    let logger: Logger

    /// - Parameter client: its timeouts are `settings.connectTimeout` and `requestTimeout`
    ///   unless a client is passed.
    public init(settings: SlackSettings, inbox: any ChatInbox, client: CurlHTTPClient? = nil, logger: Logger) {
        self.settings = settings
        self.limits = settings.limits
        let client = client ?? CurlHTTPClient(connectTimeout: settings.connectTimeout, totalTimeout: settings.requestTimeout)
        self.api = SlackAPI(baseURL: settings.apiURL, client: client)
        var logger = logger
        logger[metadataKey: "transport"] = "slack"
        self.logger = logger
        self.receiver = SlackReceiver(inbox: inbox, logger: logger)
    }

    /// The routes Slack calls in `.eventsAPI` mode (none in Socket Mode, where everything
    /// arrives over the socket): events, interactivity and slash commands.
    public var webhooks: [any ChatWebhook] {
        guard settings.receiveMode == .eventsAPI, let secret = settings.signingSecret else { return [] }
        let signature = SlackSignature(secret: secret)
        return [
            SlackWebhook(path: SlackSettings.eventsPath, kind: .events, receiver: receiver, signature: signature),
            SlackWebhook(path: SlackSettings.interactivityPath, kind: .interactivity, receiver: receiver, signature: signature),
            SlackWebhook(path: SlackSettings.commandsPath, kind: .commands, receiver: receiver, signature: signature),
        ]
    }

    /// The bot's own user id, once `auth.test` answered.
    public var botUserID: String? { receiver.identity?.userID }

    /// Returns once the transport receives: `auth.test` answered and, in Socket Mode, Slack
    /// said `hello` on a connection. Returns early when the calling task is cancelled.
    public func waitUntilReceiving() async {
        await receiver.receiving.wait()
    }

    // MARK: Service

    /// Learns the bot's identity, then receives until graceful shutdown: over Socket Mode,
    /// or (Events API) by waiting while the HTTP server calls `webhooks`.
    public func run() async throws {
        defer { receiver.finish() }
        try await cancelWhenGracefulShutdown {
            guard try await self.authenticate() else { return }
            switch self.settings.receiveMode {
            case .socketMode:
                try await self.runSocketMode()
            case .eventsAPI:
                self.receiver.receiving.open()
                try? await gracefulShutdown()
            }
        }
    }

    /// `auth.test` until it answers; false when cancelled first. Throws when Slack refuses the token.
    private func authenticate() async throws -> Bool {
        var attempt = 0
        while !Task.isCancelled {
            do throws(ChatFailure) {
                let answer = try await api.call("auth.test", token: settings.botToken, body: [:])
                guard let userID = answer["user_id"]?.stringValue else {
                    throw ChatFailure(reason: .serverError, message: "auth.test: the answer has no user_id")
                }
                let identity = SlackIdentity(userID: userID, botID: answer["bot_id"]?.stringValue)
                receiver.identity = identity
                logger.info("signed in to Slack", metadata: [
                    "user_id": "\(userID)", "bot_id": "\(identity.botID ?? "none")", "team": "\(answer["team"]?.stringValue ?? "?")",
                ])
                return true
            } catch {
                if !error.isRetryable {
                    logger.error("Slack refused the bot token; the Slack transport cannot start", metadata: ["error": "\(error.message)"])
                    throw SlackTransportError(message: "Slack refused the bot token at start: \(error.message)")
                }
                attempt += 1
                let delay = error.retryAfter ?? settings.reconnectBackoff.delay(attempt: attempt)
                logger.warning("Slack auth.test failed; trying again", metadata: [
                    "error": "\(error.message)", "attempt": "\(attempt)", "retry_in": "\(delay)",
                ])
                do { try await Task.sleep(for: delay) } catch { return false }
            }
        }
        return false
    }

    // MARK: ChatTransport

    public func post(_ message: ChatMessage) async throws(ChatFailure) -> MessageRef {
        try checkLength(message.text)
        let channel = message.chat ?? settings.channel
        var threadTS: String?
        if let replyTo = message.replyTo, replyTo.transport == name, replyTo.chat == channel,
           SlackEvents.isTimestamp(replyTo.messageID)
        {
            threadTS = replyTo.messageID
        }
        let body = SlackBlocks.body(channel: channel, text: message.text, buttons: message.buttons, threadTS: threadTS, isEdit: false)
        let answer = try await api.call("chat.postMessage", token: settings.botToken, body: body)
        guard let ts = answer["ts"]?.stringValue else {
            throw ChatFailure(reason: .serverError, message: "chat.postMessage: the answer has no ts")
        }
        return MessageRef(transport: name, chat: answer["channel"]?.stringValue ?? channel, messageID: ts)
    }

    public func edit(_ ref: MessageRef, text: String, buttons: [ChatButton]) async throws(ChatFailure) {
        guard ref.transport == name else {
            throw ChatFailure(reason: .clientError, message: "chat.update: \(ref.transport) message \(ref.messageID) is not a Slack message")
        }
        try checkLength(text)
        guard case .object(var body) = SlackBlocks.body(channel: ref.chat, text: text, buttons: buttons, threadTS: nil, isEdit: true) else {
            return
        }
        body["ts"] = .string(ref.messageID)
        _ = try await api.call("chat.update", token: settings.botToken, body: .object(body))
    }

    private func checkLength(_ text: String) throws(ChatFailure) {
        try limits.checkLength(text, platform: "the Slack")
    }
}

/// Why the Slack transport stopped; the message says what to do.
public struct SlackTransportError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
