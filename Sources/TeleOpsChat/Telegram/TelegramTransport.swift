import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TeleOpsCore

/// Telegram through the Bot API: posts and edits with `sendMessage`/`editMessageText` (HTML,
/// escaped by construction, so text shows exactly as written), buttons as an inline keyboard,
/// and what people type or press from `getUpdates` long polling or a webhook.
///
/// One call per post or edit; failures are only classified (the outbox retries, paces and
/// splits). The exception is a group upgraded to a supergroup: the answer names the new chat,
/// so the post is sent there at once and later posts follow. Received updates are stored in
/// the inbox, with the next `getUpdates` offset, before Telegram is told they arrived, so a
/// restart neither replays nor skips them.
///
/// ```swift
/// let telegram = TelegramTransport(settings: TelegramSettings(token: token, chat: "-1001234567890"),
///                                  inbox: store, logger: logger)
/// let ref = try await telegram.post(ChatMessage(text: "#1 CRITICAL web-1 disk", buttons: [ChatButton(label: "Ack", command: "ack")]))
/// // run `telegram` in the ServiceGroup to receive; replies arrive on `telegram.incoming`
/// ```
public final class TelegramTransport: ChatTransport, Service {
    public static let transportName = "telegram"

    public let name = TelegramTransport.transportName
    public let limits = ChatLimits(
        maxMessageLength: TelegramSettings.maxMessageLength,
        perChat: [TelegramSettings.perChatRate], perGroupChat: [TelegramSettings.perGroupRate], groupChatPrefix: "-",
        global: [TelegramSettings.globalRate])
    /// The configured chat, or the supergroup it was upgraded to.
    public var defaultChat: String { chats.withLock { $0.canonical($0.target(settings.chat)) } }
    public let incoming: AsyncStream<IncomingMessage>
    public let settings: TelegramSettings

    let inbox: any ChatInbox
    let client: CurlHTTPClient
    /// For `getUpdates`: its total timeout covers the long poll plus a normal request.
    let pollClient: CurlHTTPClient
    let logger: Logger
    let continuation: AsyncStream<IncomingMessage>.Continuation
    let chats = Mutex(ChatDirectory())
    private let apiBase: String

    /// - Parameters:
    ///   - settings: validated settings (`TelegramSettings.validate()`).
    ///   - inbox: where received messages and the `getUpdates` offset are stored (the scenario store).
    ///   - client: for sends and edits; nil builds one from the settings' timeouts.
    public init(settings: TelegramSettings, inbox: any ChatInbox, client: CurlHTTPClient? = nil, logger: Logger) {
        self.settings = settings
        self.inbox = inbox
        self.client = client ?? CurlHTTPClient(connectTimeout: settings.connectTimeout, totalTimeout: settings.requestTimeout)
        var pollTimeout = Duration.zero
        if case .polling(let timeout) = settings.receive { pollTimeout = timeout }
        self.pollClient = CurlHTTPClient(
            connectTimeout: settings.connectTimeout, totalTimeout: pollTimeout + settings.requestTimeout)
        var logger = logger
        logger[metadataKey: "transport"] = "telegram"
        self.logger = logger
        var base = settings.apiURL
        while base.hasSuffix("/") { base.removeLast() }
        self.apiBase = base
        (incoming, continuation) = AsyncStream.makeStream(of: IncomingMessage.self)
    }

    // MARK: Posting

    public func post(_ message: ChatMessage) async throws(ChatFailure) -> MessageRef {
        try check(text: message.text)
        let buttons = sendable(message.buttons)
        let requested = message.chat ?? settings.chat
        let toDefaultChat = message.chat == nil || message.chat == settings.chat
        var followedMigration = false
        while true {
            let (target, replyID) = chats.withLock { chats -> (String, Int64?) in
                let target = chats.target(requested)
                guard let replyTo = message.replyTo, replyTo.transport == name,
                      chats.canonical(replyTo.chat) == chats.canonical(target)
                else { return (target, nil) }
                return (target, Int64(replyTo.messageID))
            }
            var request = SendMessageRequest(chatID: TelegramChatID(target), text: TelegramText.html(message.text))
            // The message's own topic (a route's), else the configured one for a post in the
            // configured chat. A reply without one stays in the topic of the message it answers,
            // as Telegram places it, which may be a route's topic in the configured chat.
            request.messageThreadID = message.topic.flatMap { Int($0) } ?? (toDefaultChat && replyID == nil ? settings.topic : nil)
            request.replyParameters = replyID.map { ReplyParameters(messageID: $0) }
            if !buttons.isEmpty { request.replyMarkup = InlineKeyboardMarkup(buttons) }

            switch await call("sendMessage", request, as: TelegramMessageHeader.self) {
            case .success(let sent):
                if target.hasPrefix("@") {
                    chats.withLock { $0.usernames[target.lowercased()] = String(sent.chat.id) }
                }
                return MessageRef(transport: name, chat: String(sent.chat.id), messageID: String(sent.messageID))
            case .failure(.api(400, _, _, let newChat?)) where !followedMigration:
                followedMigration = true
                recordMigration(from: target, to: String(newChat))
            case .failure(let error):
                throw failure(error, method: "sendMessage")
            }
        }
    }

    public func edit(_ ref: MessageRef, text: String, buttons: [ChatButton]) async throws(ChatFailure) {
        guard ref.transport == name, let messageID = Int64(ref.messageID) else {
            throw ChatFailure(
                reason: .clientError,
                message: "cannot edit \(ref.transport) message \(ref.messageID) in \(ref.chat): it is not a message the Telegram transport posted")
        }
        try check(text: text)
        let request = EditMessageTextRequest(
            chatID: TelegramChatID(ref.chat), messageID: messageID, text: TelegramText.html(text),
            replyMarkup: InlineKeyboardMarkup(sendable(buttons)))
        switch await call("editMessageText", request, as: IgnoredResult.self) {
        case .success:
            return
        case .failure(.api(400, let description, _, _)) where description.contains("message is not modified"):
            return  // the message already reads this way
        case .failure(.api(400, let description, _, let newChat?)):
            recordMigration(from: ref.chat, to: String(newChat))
            // Message ids are not kept across the upgrade, so the old message cannot be found in the new chat.
            throw ChatFailure(
                reason: .clientError,
                message: "Telegram refused editMessageText: \(description); message \(ref.messageID) stays as it was in the old group \(ref.chat), now supergroup \(newChat)")
        case .failure(let error):
            throw failure(error, method: "editMessageText")
        }
    }

    /// Text Telegram would refuse anyway, refused without a call: over-long or empty.
    private func check(text: String) throws(ChatFailure) {
        try limits.checkLength(text, platform: "Telegram's")
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ChatFailure(reason: .clientError, message: "text is empty; Telegram refuses empty messages")
        }
    }

    /// The buttons Telegram would take. One it would refuse (a command that does not fit
    /// `callback_data`, an empty label) is left out with a warning rather than the message
    /// failing: an alert must not be lost for a button, and the command can still be typed.
    /// A command is never cut: a cut command is another command.
    private func sendable(_ buttons: [ChatButton]) -> [ChatButton] {
        buttons.filter { button in
            let bytes = button.command.utf8.count
            let problem: String? =
                if !(1...TelegramSettings.maxCallbackDataBytes).contains(bytes) {
                    "its command is \(bytes) bytes, but Telegram's callback_data holds 1-\(TelegramSettings.maxCallbackDataBytes) bytes"
                } else if button.label.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    "its label is empty"
                } else {
                    nil
                }
            guard let problem else { return true }
            logger.warning(
                "button left out of a Telegram message: \(problem); the message is sent without it",
                metadata: ["label": "\(button.label)", "command": "\(button.command)"])
            return false
        }
    }

    /// Later posts to `old` go to `new`; the operator is told once to update the configuration.
    func recordMigration(from old: String, to new: String) {
        let isNew = chats.withLock { chats -> Bool in
            let key = chats.canonical(old)
            guard chats.migrated[key] != new else { return false }
            chats.migrated[key] = new
            return true
        }
        guard isNew else { return }
        let configured = chats.withLock { $0.canonical(settings.chat) } == chats.withLock { $0.canonical(old) }
        let advice = configured ? ". Update the configured Telegram chat id to \(new): the old id only works until TeleOps restarts" : ""
        logger.notice(
            "Telegram upgraded group \(old) to supergroup \(new); TeleOps now posts there\(advice)",
            metadata: ["old_chat": "\(old)", "new_chat": "\(new)"])
    }

    func failure(_ error: TelegramCallError, method: String) -> ChatFailure {
        var failure = error.chatFailure(method: method, timeout: settings.requestTimeout)
        failure.message = redact(failure.message)
        return failure
    }

    // MARK: Calls

    /// One Bot API call: POST JSON to `/bot<token>/<method>`. Errors never carry the URL.
    func call<Result: Decodable>(
        _ method: String, _ body: some Encodable, as type: Result.Type, polling: Bool = false
    ) async -> Swift.Result<Result, TelegramCallError> {
        let data: Data
        do {
            data = try JSONEncoder().encode(body)
        } catch {
            return .failure(.unreadable("the request could not be encoded: \(error)"))
        }
        let url = "\(apiBase)/bot\(settings.token)/\(method)"
        let headers = ["Content-Type": "application/json"]
        do {
            let response = polling
                ? try await sendCancellable(url: url, headers: headers, body: data)
                : try await client.send(method: "POST", url: url, headers: headers, body: data)
            return TelegramCallError.check(response, as: type)
        } catch let error as HTTPClientError {
            let detail = redact(error.message)
            return .failure(error.timedOut ? .timedOut(detail) : .network("\(detail) (\(apiBase))"))
        } catch is CancellationError {
            return .failure(.network("cancelled"))
        } catch {
            return .failure(.network(redact("\(error)")))
        }
    }

    /// `pollClient.send`, except that it returns at once when the task is cancelled (graceful
    /// shutdown during a long poll): the request's own thread then ends within the client's
    /// timeout and its answer is dropped. Dropping it loses nothing: updates count as received
    /// only when the next `getUpdates` offset confirms them.
    private func sendCancellable(url: String, headers: [String: String], body: Data) async throws -> HTTPResponse {
        let slot = ContinuationSlot<HTTPResponse>()
        let client = pollClient
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard slot.install(continuation) else { return }
                let thread = Thread {
                    slot.resume(with: Result { try client.perform(method: "POST", url: url, headers: headers, body: body) })
                }
                thread.name = "teleops-telegram-poll"
                thread.start()
            }
        } onCancel: {
            slot.resume(with: .failure(CancellationError()))
        }
    }

    /// The token out of any text that might carry it (a URL in a library's error message).
    func redact(_ text: String) -> String {
        settings.token.isEmpty ? text : text.replacingOccurrences(of: settings.token, with: "<redacted>")
    }
}

/// Chats as TeleOps learnt them while posting.
struct ChatDirectory {
    /// Group id → the supergroup it was upgraded to.
    var migrated: [String: String] = [:]
    /// `@channelname` (lower-cased) → numeric chat id, as Telegram answered a post there.
    var usernames: [String: String] = [:]

    func canonical(_ chat: String) -> String {
        chat.hasPrefix("@") ? usernames[chat.lowercased()] ?? chat : chat
    }

    /// Where a post for `chat` goes now, following upgrades.
    func target(_ chat: String) -> String {
        var current = canonical(chat)
        for _ in 0..<8 {
            guard let next = migrated[current] else { break }
            current = next
        }
        return current == canonical(chat) ? chat : current
    }
}

/// A continuation resumed exactly once: by the request's thread or by cancellation, whichever
/// comes first.
private final class ContinuationSlot<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var done = false
    }

    private let state = Mutex(State())

    /// False (and the continuation already resumed with `CancellationError`) when cancelled first.
    func install(_ continuation: CheckedContinuation<Value, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            if state.done { return true }
            state.continuation = continuation
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    func resume(with result: Result<Value, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            state.done = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }
}
