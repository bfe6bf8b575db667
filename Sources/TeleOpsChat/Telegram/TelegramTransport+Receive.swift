import Foundation
import Logging
import ServiceLifecycle
import TeleOpsCore

extension TelegramTransport {
    /// Receives until graceful shutdown: long polling, or registering the webhook (the HTTP
    /// server then hands deliveries to `webhook`).
    public func run() async throws {
        switch settings.receive {
        case .polling(let timeout):
            await cancelWhenGracefulShutdown { await self.poll(timeout: timeout) }
        case .webhook(let url, let secret):
            await cancelWhenGracefulShutdown { await self.registerWebhook(url: url, secret: secret) }
            try? await gracefulShutdown()
        }
    }

    // MARK: Long polling

    /// The `getUpdates` loop. Each batch is stored in the inbox together with the next offset,
    /// in one call, before the next `getUpdates` confirms it to Telegram; only then is it
    /// delivered on `incoming`.
    func poll(timeout: Duration) async {
        guard var offset = await loadOffset() else { return }
        var streak = PollStreak()
        logger.info("receiving from Telegram by long polling", metadata: ["offset": "\(offset.map(String.init) ?? "none")"])
        while !Task.isCancelled {
            let request = GetUpdatesRequest(
                offset: offset, timeout: Int(timeout.components.seconds), allowedUpdates: telegramAllowedUpdates)
            let result = await call("getUpdates", request, as: TelegramUpdateBatch.self, polling: true)
            if Task.isCancelled { return }
            switch result {
            case .success(let batch):
                if streak.kind != nil {
                    logger.info("getUpdates works again", metadata: ["failed_attempts": "\(streak.attempt)"])
                    streak = PollStreak()
                }
                guard let maxUpdateID = batch.maxUpdateID else {
                    if timeout == .zero { try? await Task.sleep(for: .seconds(1)) }  // short polling: do not spin
                    continue
                }
                let next = maxUpdateID + 1
                do {
                    _ = try await accept(batch.updates, cursor: ChatCursor(name: TelegramSettings.offsetCursor, value: String(next)))
                    offset = next
                } catch {
                    // Not confirmed to Telegram: the same updates come back on the next call.
                    let delay = trouble(.store, &streak, "received Telegram updates could not be stored; they stay unconfirmed at Telegram and will be fetched again", level: .error, error: "\(error)")
                    try? await Task.sleep(for: delay)
                }
            case .failure(let error):
                try? await Task.sleep(for: pollFailed(error, &streak))
            }
        }
    }

    /// The stored offset; nil inside when none was ever stored; nil outside when cancelled.
    private func loadOffset() async -> Int64?? {
        var attempt = 0
        while !Task.isCancelled {
            do {
                guard let value = try await inbox.cursor(named: TelegramSettings.offsetCursor) else { return .some(nil) }
                guard let offset = Int64(value) else {
                    logger.warning("the stored Telegram offset is not a number; polling from Telegram's earliest unconfirmed update",
                                   metadata: ["offset": "\(value)"])
                    return .some(nil)
                }
                return .some(offset)
            } catch {
                attempt += 1
                if attempt == 1 {
                    logger.error("cannot read the Telegram offset from the inbox; not polling until it can be read (polling without it could replay messages)",
                                 metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: settings.pollBackoff.delay(attempt: attempt))
            }
        }
        return nil
    }

    /// How long to wait after a failed `getUpdates`, logging once per streak of the same kind.
    private func pollFailed(_ error: TelegramCallError, _ streak: inout PollStreak) -> Duration {
        switch error {
        case .api(409, let description, _, _):
            return trouble(
                .conflict, &streak,
                "Telegram refused getUpdates with 409 Conflict: another process is polling with this bot token, or a webhook is set for it. "
                    + "Stop the other TeleOps instance (or any other program using this token); if a webhook is set and not wanted, remove it "
                    + "with deleteWebhook (curl -X POST \(settings.apiURL)/bot<token>/deleteWebhook). Retrying with backoff",
                level: .error, error: description)
        case .api(401, let description, _, _):
            return trouble(
                .refused, &streak,
                "the bot token was refused by Telegram; check the token (\(TelegramSettings.tokenEnvironmentVariable) or the token file) against @BotFather, "
                    + "a revoked token must be replaced. Retrying every \(settings.unauthorizedDelay)",
                level: .error, error: description)
        case .api(429, let description, let retryAfter, _):
            let delay = trouble(.transient, &streak, "Telegram flood control on getUpdates; waiting as asked", level: .warning, error: description)
            return max(delay, .seconds(retryAfter ?? 0))
        case .api(let status, let description, _, _) where (400..<500).contains(status):
            return trouble(
                .refused, &streak,
                "Telegram refused getUpdates (HTTP \(status)); check the API URL \(settings.apiURL) and the token's format. Retrying every \(settings.unauthorizedDelay)",
                level: .error, error: description)
        case .api(let status, let description, _, _):
            return trouble(.transient, &streak, "Telegram failed getUpdates (HTTP \(status)); retrying with backoff", level: .warning, error: description)
        case .timedOut(let detail), .network(let detail), .unreadable(let detail):
            return trouble(.transient, &streak, "getUpdates did not get through to Telegram; retrying with backoff", level: .warning, error: redact(detail))
        }
    }

    /// Counts the attempt, logs when a new kind of trouble starts, and returns the wait.
    private func trouble(
        _ kind: PollStreak.Kind, _ streak: inout PollStreak, _ message: String, level: Logger.Level, error: String
    ) -> Duration {
        if streak.kind != kind {
            streak = PollStreak(kind: kind, attempt: 0)
            logger.log(level: level, "\(message)", metadata: ["error": "\(redact(error))"])
        }
        streak.attempt += 1
        switch kind {
        case .conflict: return settings.conflictBackoff.ceiling(attempt: streak.attempt)
        case .refused: return settings.unauthorizedDelay
        case .transient, .store: return settings.pollBackoff.delay(attempt: streak.attempt)
        }
    }

    // MARK: Updates

    /// Answers the button presses at once (so the user's spinner stops; a failure there stops
    /// nothing), stores the messages with `cursor` in one inbox call, and delivers the ones
    /// not stored before.
    func accept(_ updates: [TelegramUpdate], cursor: ChatCursor?) async throws -> [IncomingMessage] {
        var messages: [IncomingMessage] = []
        for update in updates {
            if let message = incomingMessage(from: update) {
                messages.append(message)
            } else if let unreadable = update.unreadable {
                logger.warning("skipped a Telegram update that could not be read", metadata: ["update_id": "\(update.updateID)", "error": "\(unreadable)"])
            } else {
                logger.debug("skipped a Telegram update", metadata: ["update_id": "\(update.updateID)"])
            }
        }
        let callbackIDs = updates.compactMap { $0.callbackQuery?.id }
        let stored: Result<[IncomingMessage], any Error> = await withTaskGroup(of: Void.self) { group in
            for id in callbackIDs { group.addTask { await self.answerCallbackQuery(id) } }
            do {
                return .success(try await inbox.receive(messages, cursor: cursor))
            } catch {
                return .failure(error)
            }
        }
        let fresh = try stored.get()
        for message in fresh { continuation.yield(message) }
        return fresh
    }

    /// What a person did, or nil for what TeleOps ignores: bots (itself included), edits,
    /// channel posts, messages without text, presses without data.
    func incomingMessage(from update: TelegramUpdate) -> IncomingMessage? {
        let deliveryID = "update:\(update.updateID)"
        if let message = update.message {
            guard let from = message.from, !from.isBot, let text = message.text else { return nil }
            var replyTo = message.replyToMessage.map { ref(chat: $0.chat.id, message: $0.messageID) }
            // In a forum, every message in a topic "replies" to the topic's first message.
            if message.isTopicMessage == true, message.replyToMessage?.messageID == message.messageThreadID { replyTo = nil }
            return IncomingMessage(
                ref: ref(chat: message.chat.id, message: message.messageID), userID: String(from.id),
                displayName: from.username ?? from.firstName, text: text, replyTo: replyTo, kind: .text, deliveryID: deliveryID)
        }
        if let query = update.callbackQuery {
            guard !query.from.isBot, let data = query.data, let message = query.message else { return nil }
            let under = ref(chat: message.chat.id, message: message.messageID)
            return IncomingMessage(
                ref: under, userID: String(query.from.id), displayName: query.from.username ?? query.from.firstName,
                text: data, replyTo: under, kind: .button, deliveryID: deliveryID)
        }
        return nil
    }

    private func ref(chat: Int64, message: Int64) -> MessageRef {
        MessageRef(transport: name, chat: String(chat), messageID: String(message))
    }

    /// Stops the progress indicator on the user's button. Failures are logged, nothing more:
    /// the press itself is delivered either way.
    func answerCallbackQuery(_ id: String) async {
        if case .failure(let error) = await call("answerCallbackQuery", AnswerCallbackQueryRequest(callbackQueryID: id), as: IgnoredResult.self) {
            logger.debug("answerCallbackQuery failed", metadata: ["error": "\(failure(error, method: "answerCallbackQuery").message)"])
        }
    }
}

/// Consecutive failures of one kind, so each kind of trouble is logged once, not every attempt.
struct PollStreak {
    enum Kind {
        /// 409: another poller or a webhook.
        case conflict
        /// 401/403/404: the token or URL is wrong; waiting long is all that helps.
        case refused
        /// Network, timeout, 5xx, 429.
        case transient
        /// The inbox could not store a batch.
        case store
    }

    var kind: Kind?
    var attempt = 0
}
