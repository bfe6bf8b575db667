import Foundation
import TeleOpsCore

// Updates: the queue, getUpdates long polling with its conflicts, and webhook delivery.
extension FakeTelegramServer {
    static let conflictOtherPoll = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    static let conflictWebhookActive =
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    static let conflictSetWebhook = "Conflict: terminated by setWebhook request"
    /// Left out of an empty `allowed_updates` (the Bot API default).
    static let notByDefault: Set<String> = ["chat_member", "message_reaction", "message_reaction_count"]

    /// The number of updates not confirmed yet.
    public var pendingUpdateCount: Int { state.withLock { $0.updates.count } }

    /// The webhook URL, nil when updates are fetched with getUpdates.
    public var webhookURL: String? { state.withLock { $0.webhook?.url } }

    /// Queues an update of `kind` unless `allowed_updates` leaves it out; returns its `update_id`.
    @discardableResult
    func enqueue(_ kind: String, _ members: [(String, FakeJSON)], in state: inout FakeTelegramState) -> Int64 {
        state.lastUpdateID += 1
        let allowed = state.allowedUpdates.map { $0.contains(kind) } ?? !Self.notByDefault.contains(kind)
        if allowed {
            state.updates.append(FakeTelegramState.PendingUpdate(id: state.lastUpdateID, kind: kind, payload: .object(members)))
        }
        return state.lastUpdateID
    }

    /// A new update is there: the waiting long poll returns, the webhook sender wakes up.
    func wakeReceivers() {
        let waiting = state.withLock { state -> CheckedContinuation<FakeTelegramState.PollEnd, Never>? in
            guard let active = state.activePoll, !state.updates.isEmpty else { return nil }
            return Self.end(poll: active, .updatesAvailable, in: &state)
        }
        waiting?.resume(returning: .updatesAvailable)
        webhookDoorbell.ring()
    }

    /// Ends a poll with `end`; returns its continuation to resume (with `end`) outside the lock.
    static func end(
        poll id: Int, _ end: FakeTelegramState.PollEnd, in state: inout FakeTelegramState
    ) -> CheckedContinuation<FakeTelegramState.PollEnd, Never>? {
        guard var poll = state.polls[id], poll.end == nil else { return nil }
        if state.activePoll == id { state.activePoll = nil }
        poll.end = end
        let continuation = poll.continuation
        poll.continuation = nil
        state.polls[id] = poll
        return continuation
    }

    // MARK: getUpdates

    func getUpdates(_ params: FakeTelegramParams) async throws(FakeTelegramError) -> FakeReply {
        let offset = try params.int("offset") ?? 0
        let limit = Int(min(max(try params.int("limit") ?? 100, 1), 100))
        let timeout = min(max(try params.int("timeout") ?? 0, 0), 50)
        let allowed = try Self.allowedUpdates(params)

        enum Start {
            case conflict(String), now([FakeJSON]), wait(Int)
        }
        let (start, terminated) = state.withLock { state -> (Start, CheckedContinuation<FakeTelegramState.PollEnd, Never>?) in
            if state.webhook != nil { return (.conflict(Self.conflictWebhookActive), nil) }
            if let allowed { state.allowedUpdates = allowed.isEmpty ? nil : allowed }
            if offset > 0 {
                state.updates.removeAll { $0.id < offset }
            } else if offset < 0, state.updates.count > Int(-offset) {
                state.updates.removeFirst(state.updates.count - Int(-offset))
            }
            // The older request, if any, is answered with a 409.
            let terminated = state.activePoll.flatMap { Self.end(poll: $0, .conflict(Self.conflictOtherPoll), in: &state) }
            let available = state.updates.prefix(limit).map(\.json)
            if !available.isEmpty || timeout == 0 || state.stopping { return (.now(available), terminated) }
            state.lastPollID += 1
            state.polls[state.lastPollID] = FakeTelegramState.Poll()
            state.activePoll = state.lastPollID
            return (.wait(state.lastPollID), terminated)
        }
        terminated?.resume(returning: .conflict(Self.conflictOtherPoll))

        switch start {
        case .conflict(let description):
            return .error(await conflict(description))
        case .now(let updates):
            return .ok(.array(updates))
        case .wait(let id):
            longPollsStarted.append(id)
            let end = await withTaskGroup(of: Void.self) { group -> FakeTelegramState.PollEnd in
                group.addTask {
                    try? await Task.sleep(for: .seconds(timeout))
                    self.finishPoll(id, .timedOut)
                }
                let end = await self.waitForPoll(id)
                group.cancelAll()
                return end
            }
            let updates = state.withLock { state in
                state.polls[id] = nil
                if state.activePoll == id { state.activePoll = nil }
                return state.updates.prefix(limit).map(\.json)
            }
            if case .conflict(let description) = end { return .error(await conflict(description)) }
            return .ok(.array(updates))
        }
    }

    private func finishPoll(_ id: Int, _ end: FakeTelegramState.PollEnd) {
        state.withLock { Self.end(poll: id, end, in: &$0) }?.resume(returning: end)
    }

    private func waitForPoll(_ id: Int) async -> FakeTelegramState.PollEnd {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> FakeTelegramState.PollEnd? in
                guard var poll = state.polls[id] else { return .shutdown }
                if let end = poll.end { return end }
                poll.continuation = continuation
                state.polls[id] = poll
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// A 409, at once if none went out in the last `conflictInterval`, else when that has passed.
    private func conflict(_ description: String) async -> FakeTelegramError {
        let now = ContinuousClock.now
        let wait = state.withLock { state -> Duration in
            if let next = state.nextConflictAnswer, now < next { return next - now }
            state.nextConflictAnswer = now + options.conflictInterval
            return .zero
        }
        if wait > .zero { try? await Task.sleep(for: wait) }
        return FakeTelegramError(code: 409, description: description)
    }

    private static func allowedUpdates(_ params: FakeTelegramParams) throws(FakeTelegramError) -> Set<String>? {
        guard let value = try params.structured("allowed_updates") else { return nil }
        guard case .array(let items) = value else { throw .badRequest("can't parse allowed updates: array expected") }
        return Set(items.compactMap(\.stringValue))
    }

    // MARK: Webhooks

    func setWebhook(_ params: FakeTelegramParams) throws(FakeTelegramError) -> FakeReply {
        let url = params.string("url") ?? ""
        if url.isEmpty { return deleteWebhook(params) }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), let host = parsed.host, !host.isEmpty else {
            throw .badRequest("bad webhook: invalid webhook URL specified")
        }
        // Telegram calls HTTPS only; the fake also calls plain HTTP on loopback, where the tests listen.
        guard scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost"].contains(host)) else {
            throw .badRequest("bad webhook: An HTTPS URL must be provided for webhook")
        }
        let secret = params.string("secret_token").flatMap { $0.isEmpty ? nil : $0 }
        if let secret {
            if secret.count > 256 { throw .badRequest("secret token is too long") }
            let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
            if !secret.allSatisfy({ allowed.contains($0) }) { throw .badRequest("secret token contains unallowed characters") }
        }
        let allowed = try Self.allowedUpdates(params)
        let maxConnections = Int(try params.int("max_connections") ?? 40)
        let drop = params.bool("drop_pending_updates")
        let (unchanged, terminated) = state.withLock { state -> (Bool, CheckedContinuation<FakeTelegramState.PollEnd, Never>?) in
            let unchanged = state.webhook?.url == url && state.webhook?.secret == secret
            if let allowed { state.allowedUpdates = allowed.isEmpty ? nil : allowed }
            if drop { state.updates = [] }
            if !unchanged { state.webhook = FakeTelegramState.Webhook(url: url, secret: secret, maxConnections: min(max(maxConnections, 1), 100)) }
            let terminated = state.activePoll.flatMap { Self.end(poll: $0, .conflict(Self.conflictSetWebhook), in: &state) }
            return (unchanged, terminated)
        }
        terminated?.resume(returning: .conflict(Self.conflictSetWebhook))
        webhookDoorbell.ring()
        return .ok(.bool(true), description: unchanged ? "Webhook is already set" : "Webhook was set")
    }

    func deleteWebhook(_ params: FakeTelegramParams) -> FakeReply {
        let drop = params.bool("drop_pending_updates")
        let existed = state.withLock { state -> Bool in
            if drop { state.updates = [] }
            defer { state.webhook = nil }
            return state.webhook != nil
        }
        return .ok(.bool(true), description: existed ? "Webhook was deleted" : "Webhook is already deleted")
    }

    func webhookInfo() -> FakeJSON {
        state.withLock { state in
            var members: [(String, FakeJSON)] = [
                ("url", .string(state.webhook?.url ?? "")), ("has_custom_certificate", .bool(false)),
                ("pending_update_count", .int(Int64(state.updates.count))),
            ]
            if let hook = state.webhook {
                if let date = hook.lastErrorDate { members.append(("last_error_date", .int(date))) }
                if let message = hook.lastErrorMessage { members.append(("last_error_message", .string(message))) }
                members.append(("max_connections", .int(Int64(hook.maxConnections))))
                members.append(("ip_address", .string("127.0.0.1")))
            }
            if let allowed = state.allowedUpdates { members.append(("allowed_updates", .array(allowed.sorted().map(FakeJSON.string)))) }
            return .object(members)
        }
    }

    /// POSTs queued updates to the webhook one at a time, oldest first; an update stays queued
    /// (and is sent again after `webhookRetryDelay`) until the webhook answers 2xx.
    func deliverWebhooks() async {
        while !Task.isCancelled {
            let next = state.withLock { state -> (url: String, secret: String?, update: FakeTelegramState.PendingUpdate)? in
                guard !state.stopping, let hook = state.webhook, let first = state.updates.first else { return nil }
                return (hook.url, hook.secret, first)
            }
            guard let next else {
                await webhookDoorbell.wait(timeout: .seconds(1))
                continue
            }
            var headers = ["Content-Type": "application/json"]
            if let secret = next.secret { headers["X-Telegram-Bot-Api-Secret-Token"] = secret }
            var status: Int?
            var failure: String?
            switch await LoopbackHTTP.post(
                url: next.url, headers: headers, body: Array(next.update.json.text.utf8), deadline: options.webhookTimeout)
            {
            case .success(let answer): status = answer.status
            case .failure(let error): failure = "\(error)"
            }
            let delivered = status.map { (200..<300).contains($0) } ?? false
            if delivered { state.withLock { $0.updates.removeAll { $0.id == next.update.id } } }
            webhookDeliveries.append(FakeTelegramWebhookDelivery(updateID: next.update.id, status: status, error: failure, date: .now))
            if !delivered {
                state.withLock { state in
                    state.webhook?.lastErrorDate = Self.unixNow()
                    state.webhook?.lastErrorMessage = status.map { "Wrong response from the webhook: \($0)" } ?? failure
                }
                try? await Task.sleep(for: options.webhookRetryDelay)
            }
        }
    }
}
