import Foundation
import Logging
import TeleOpsCore

/// How a transport has been doing, for failover.
struct TransportHealth: Sendable {
    var consecutiveFailures = 0
    var outOfServiceUntil: ContinuousClock.Instant?
    var lastFailure = ""
}

/// What became of one platform call after retries.
enum CallOutcome<Value: Sendable>: Sendable {
    case done(Value)
    /// Failed for good; the reason is in the outbox.
    case gaveUp
    /// The transport is out of service or refused this message, and a failover transport can take it.
    case failover(reason: String)
    /// The service is stopping; the message stays queued.
    case stopping
}

extension OutboxSender {
    /// Sends one message (all its parts), edits its scenario's announcements for an update,
    /// or edits the message of its key when one was posted already. Returns when it is sent,
    /// given up, or the service is stopping (then it stays queued for the next start).
    func deliver(_ message: OutboxMessage) async {
        let draft = message.draft
        var attempts = message.attempts
        if draft.purpose == .update {
            guard let scenarioID = draft.scenarioID else { return }
            await edit((try? await store.announcements(of: scenarioID)) ?? [], to: message, attempts: &attempts)
            return
        }
        if let key = draft.key, let posted = try? await store.messages(keyed: key), !posted.isEmpty {
            await edit(posted, to: message, attempts: &attempts)
            return
        }
        var route = await route(for: draft)
        var note: String?
        if isOutOfService(route.transport), let secondary = failoverTarget(for: route.transport) {
            note = failoverNote(from: route.transport, to: secondary)
            route = await reroute(draft, to: secondary)
        }
        // The chat it goes to now: the route is asked again at delivery, and may be the secondary's.
        var pacer = chatPacer(transport: route.transport, chat: route.chat)
        var refs: [MessageRef] = []
        var parts = split(draft, for: route.transport, note: note)
        var index = 0
        while index < parts.count {
            guard let transport = transports[route.transport] else { return }
            let chatMessage = ChatMessage(
                chat: route.chat, text: parts[index], replyTo: route.replyTo,
                buttons: index == parts.count - 1 ? draft.buttons : [], topic: route.topic)
            let outcome = await call(transport, pacer: pacer, message: message, attempts: &attempts) { () async throws(ChatFailure) -> MessageRef in
                try await transport.post(chatMessage)
            }
            switch outcome {
            case .done(let ref):
                refs.append(ref)
                index += 1
            case .gaveUp, .stopping:
                return
            case .failover(let reason):
                guard let secondary = failoverTarget(for: route.transport) else { return }
                logger.warning("sending on the failover transport", metadata: [
                    "outbox": "\(message.id)", "from": "\(route.transport)", "to": "\(secondary)", "reason": "\(reason)"])
                note = failoverNote(from: route.transport, to: secondary, reason: reason)
                route = await reroute(draft, to: secondary)
                pacer = chatPacer(transport: route.transport, chat: route.chat)
                parts = Array(parts[..<index]) + split(
                    OutboxDraft(scenarioID: draft.scenarioID, purpose: draft.purpose, text: parts[index...].joined(separator: "\n")),
                    for: secondary, note: note)
            }
        }
        do {
            try await markSent(message.id, as: refs)
        } catch {
            logger.error("sent, but could not mark it sent; it may be sent again after a restart",
                         metadata: ["outbox": "\(message.id)", "error": "\(error)"])
        }
    }

    /// Edits `refs` (a scenario's announcements, or the messages of a key), wherever they were
    /// posted, to the draft's text and buttons. Each edit waits for the limits of the chat its
    /// message is in, as a post there would, and its 429 holds that chat back.
    ///
    /// An edit on a transport out of service is owed (`owe(_:_:)`) and the message stays
    /// unsent until it is made; an edit the platform refuses (the message was deleted, or can
    /// no longer be edited) is final, as a retry would meet the same refusal.
    private func edit(_ refs: [MessageRef], to message: OutboxMessage, attempts: inout Int) async {
        let draft = message.draft
        for ref in refs {
            guard let transport = transports[ref.transport] else { continue }
            if isOutOfService(ref.transport), failoverTarget(for: ref.transport) != nil {
                logger.notice("message not edited yet: its transport is out of service; edited when it is back",
                              metadata: ["outbox": "\(message.id)", "transport": "\(ref.transport)"])
                await owe(ref, message)
                continue
            }
            // One edit of a message at a time, never back to an older state (an owed edit made
            // as its transport comes back can meet a newer one from the lane).
            guard await editOrder.begin(ref, state: message.id) else {
                await settleOwed(ref, upTo: message.id)
                continue
            }
            let text = ChatText.trim(draft.text, limit: transport.limits.maxMessageLength, pointer: pointer(draft))
            let pacer = chatPacer(transport: ref.transport, chat: ref.chat)
            let outcome = await call(transport, pacer: pacer, message: message, attempts: &attempts) { () async throws(ChatFailure) -> Void in
                try await transport.edit(ref, text: text, buttons: draft.buttons)
            }
            if case .done = outcome {
                editOrder.end(ref, made: true, state: message.id)
            } else {
                editOrder.end(ref, made: false, state: message.id)
            }
            switch outcome {
            case .done, .gaveUp:
                await settleOwed(ref, upTo: message.id)
            case .failover where isOutOfService(ref.transport):
                // The transport went out of service during this edit.
                await owe(ref, message)
            case .failover:
                // Refused (a client error): final, and so is any older state owed to the message.
                await settleOwed(ref, upTo: message.id)
            case .stopping:
                return
            }
        }
        await settleIfOwingNothing(message)
    }

    // MARK: Owed edits

    /// Records that `ref` is still to be edited to `message`'s state, unless a newer state is
    /// owed already. The older state it replaces is no longer owed: its row is settled.
    private func owe(_ ref: MessageRef, _ message: OutboxMessage) async {
        let (added, replaced) = owedEdits.withLock { owed -> (Bool, OutboxMessage?) in
            if let current = owed[ref], current.id >= message.id { return (false, nil) }
            defer { owed[ref] = message }
            return (true, owed[ref])
        }
        if let replaced { await settleIfOwingNothing(replaced) }
        // `run` waits until the transport may be tried again, rather than a whole idle check.
        if added { doorbell.ring() }
    }

    /// `ref` shows the state of outbox row `id` or a newer one (or can no longer be edited):
    /// an edit owed to it from an older row is dropped, and that row settled if it owes nothing else.
    private func settleOwed(_ ref: MessageRef, upTo id: Int64) async {
        let dropped = owedEdits.withLock { owed -> OutboxMessage? in
            guard let current = owed[ref], current.id <= id else { return nil }
            owed[ref] = nil
            return current
        }
        if let dropped, dropped.id != id { await settleIfOwingNothing(dropped) }
    }

    /// Marks `message` sent unless some message is still owed an edit to its state.
    private func settleIfOwingNothing(_ message: OutboxMessage) async {
        guard !owedEdits.withLock({ $0.values.contains { $0.id == message.id } }) else { return }
        do {
            try await markSent(message.id, as: [])
        } catch {
            logger.error("edited, but could not mark it sent; it may be edited again after a restart",
                         metadata: ["outbox": "\(message.id)", "error": "\(error)"])
        }
    }

    /// Transports owed edits that are in service again (or may be tried again) and that no task
    /// is catching up yet; they are now marked as being caught up.
    func transportsToCatchUp() -> [String] {
        let owing = Set(owedEdits.withLock { $0.keys.map(\.transport) })
        let ready = owing.filter { !isOutOfService($0) }
        guard !ready.isEmpty else { return [] }
        return catchingUp.withLock { running in
            let start = ready.subtracting(running)
            running.formUnion(start)
            return start.sorted()
        }
    }

    /// How long until a transport owed edits may be tried again; nil when none is waiting.
    func untilOwedEditsCanGo() -> Duration? {
        let owing = Set(owedEdits.withLock { $0.keys.map(\.transport) })
        guard !owing.isEmpty else { return nil }
        let now = ContinuousClock.now
        let until = health.withLock { health in owing.compactMap { health[$0]?.outOfServiceUntil }.filter { $0 > now }.min() }
        // A little past the instant, so that the transport is no longer out of service then.
        return until.map { $0 - now + .milliseconds(5) }
    }

    /// Makes the edits owed to `transport`, one message at a time, newest state each, until none
    /// is left or the transport is out of service again (they stay owed; a later call resumes).
    /// The first is also the call that tries a transport whose `retryPrimaryAfter` has passed.
    func catchUp(_ transport: String) async {
        defer {
            catchingUp.withLock { _ = $0.remove(transport) }
            // Owed edits that came in meanwhile are seen by the next turn of `run`.
            doorbell.ring()
        }
        while !Task.isCancelled, !isOutOfService(transport) {
            guard let (ref, message) = owedEdits.withLock({ $0.first { $0.key.transport == transport }.map { ($0.key, $0.value) } })
            else { return }
            logger.notice("making an edit owed while the transport was out of service",
                          metadata: ["outbox": "\(message.id)", "transport": "\(transport)"])
            var attempts = message.attempts
            await edit([ref], to: message, attempts: &attempts)
            // Still owed by the same row: out of service again, or stopping.
            if owedEdits.withLock({ $0[ref]?.id == message.id }) { return }
        }
    }

    /// Marks a message sent even when the sender is stopping: it went out (or was settled), and
    /// a mark cancelled with the sender (a SQLite store refuses work for a cancelled task) would
    /// send it again after the restart. A task of its own does not inherit the cancellation.
    func markSent(_ outboxID: Int64, as refs: [MessageRef]) async throws {
        let store = self.store
        try await Task { try await store.markSent(outboxID: outboxID, as: refs) }.value
    }

    /// One platform call with pacing and retries (see the type's documentation); `pacer` is
    /// the limits of the chat the call goes to.
    private func call<Value: Sendable>(
        _ transport: any ChatTransport, pacer: RatePacer, message: OutboxMessage, attempts: inout Int,
        _ operation: () async throws(ChatFailure) -> Value
    ) async -> CallOutcome<Value> {
        var failures = 0
        while !Task.isCancelled {
            if isOutOfService(transport.name), failoverTarget(for: transport.name) != nil {
                return .failover(reason: health.withLock { $0[transport.name]?.lastFailure ?? "out of service" })
            }
            do {
                try await pacer.acquire()
                try await globalPacers[transport.name]?.acquire()
            } catch {
                return .stopping
            }
            let failure: ChatFailure
            do {
                let value = try await operation()
                recordSuccess(transport.name)
                return .done(value)
            } catch {
                failure = error
            }
            attempts += 1
            failures += 1
            if failure.reason == .rateLimited {
                pacer.drain()
                globalPacers[transport.name]?.drain()
            } else if failure.isTransportFailure {
                recordFailure(transport.name, failure)
            }
            let canFailover = failoverTarget(for: transport.name) != nil
            let tooOld = Date().timeIntervalSince(message.createdAt) > settings.giveUpAfter.secondsValue
            let giveUp = (!failure.isRetryable && !canFailover) || tooOld
            logger.warning(
                giveUp ? "gave up sending a chat message" : "chat message not sent yet",
                metadata: ["outbox": "\(message.id)", "transport": "\(transport.name)", "attempt": "\(attempts)",
                           "reason": "\(failure.reason.rawValue)", "error": "\(failure.message)"])
            try? await store.markFailed(outboxID: message.id, reason: "\(transport.name) \(failure)", giveUp: giveUp)
            if giveUp { return .gaveUp }
            if canFailover, !failure.isRetryable || isOutOfService(transport.name) {
                return .failover(reason: failure.description)
            }
            do {
                try await Task.sleep(for: failure.retryAfter ?? settings.backoff.delay(attempt: failures))
            } catch {
                return .stopping
            }
        }
        return .stopping
    }

    // MARK: Splitting and failover

    private func split(_ draft: OutboxDraft, for transportName: String, note: String?) -> [String] {
        let limit = transports[transportName]?.limits.maxMessageLength ?? 4096
        let text = note.map { $0 + "\n" + draft.text } ?? draft.text
        if draft.purpose == .announcement || draft.key != nil { return [ChatText.trim(text, limit: limit, pointer: pointer(draft))] }
        return ChatText.split(text, limit: limit, maxParts: settings.maxParts, pointer: pointer(draft))
    }

    private func pointer(_ draft: OutboxDraft) -> String {
        draft.scenarioID.map { "cut here; the full text is in the scenario log: teleops scenarios show \($0)" }
            ?? "cut here; the message was too long for chat"
    }

    /// The transport that takes over from `name`, if the policy names one and it is in service.
    func failoverTarget(for name: String) -> String? {
        guard let policy = settings.failover, policy.primary == name, transports[policy.secondary] != nil,
            !isOutOfService(policy.secondary)
        else { return nil }
        return policy.secondary
    }

    func isOutOfService(_ name: String) -> Bool {
        health.withLock { health in
            health[name]?.outOfServiceUntil.map { ContinuousClock.now < $0 } ?? false
        }
    }

    private func reroute(_ draft: OutboxDraft, to secondary: String) async -> Route {
        let thread = await draft.scenarioID.asyncMap { await announcement(of: $0, preferring: secondary) } ?? nil
        guard let thread else {
            var elsewhere = draft
            elsewhere.chat = nil  // a chat of the primary means nothing on the secondary
            return routed(elsewhere, on: secondary)
        }
        return Route(transport: secondary, chat: thread.chat, replyTo: thread)
    }

    /// The note in front of a message moved to the secondary: `reason` is what this message met,
    /// else what took the primary out of service (a client error is not kept as that).
    private func failoverNote(from primary: String, to secondary: String, reason: String? = nil) -> String {
        let reason = reason ?? health.withLock { $0[primary]?.lastFailure ?? "" }
        return "⚠️ Sent on \(secondary) because \(primary) is failing" + (reason.isEmpty ? "." : " (\(reason)).")
    }

    private func recordSuccess(_ name: String) {
        let recovered = health.withLock { health -> Bool in
            let wasOut = health[name]?.outOfServiceUntil != nil
            health[name] = TransportHealth()
            return wasOut
        }
        if recovered {
            logger.notice("chat transport is back in service", metadata: ["transport": "\(name)"])
            // Its owed edits are made by the next turn of `run`.
            if owedEdits.withLock({ $0.keys.contains { $0.transport == name } }) { doorbell.ring() }
        }
    }

    private func recordFailure(_ name: String, _ failure: ChatFailure) {
        guard let policy = settings.failover, policy.primary == name else { return }
        let tookOut = health.withLock { health -> Bool in
            var entry = health[name] ?? TransportHealth()
            entry.consecutiveFailures += 1
            entry.lastFailure = failure.description
            let outNow = entry.outOfServiceUntil.map { ContinuousClock.now < $0 } ?? false
            var took = false
            if entry.consecutiveFailures >= policy.afterFailures, !outNow {
                entry.outOfServiceUntil = ContinuousClock.now + policy.retryPrimaryAfter
                took = true
            }
            health[name] = entry
            return took
        }
        if tookOut {
            logger.warning("chat transport keeps failing; sending on the failover transport", metadata: [
                "transport": "\(name)", "failover": "\(policy.secondary)", "failures": "\(policy.afterFailures)",
                "retry_in": "\(policy.retryPrimaryAfter)", "reason": "\(failure)"])
        }
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async -> T) async -> T? {
        guard let value = self else { return nil }
        return await transform(value)
    }
}
