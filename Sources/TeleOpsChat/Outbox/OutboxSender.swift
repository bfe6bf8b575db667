import Logging
import ServiceLifecycle
import TeleOpsCore

/// Drains the store's outbox to a chat transport, oldest first, one message at a time, so a
/// chat sees messages in the order they were queued.
///
/// Delivery is at least once: a message is marked sent after the platform accepted it, so a
/// crash between the two sends it again after restart. The transport only classifies a
/// failure (`ChatFailure`); this loop owns retries: it waits `retryAfter` when the platform
/// names one, else exponential backoff with jitter, and gives up (keeping the reason in the
/// outbox) on a client error or after `backoff.maxAttempts`.
public final class OutboxSender: Service {
    private let store: any ScenarioStore
    private let transport: any ChatTransport
    private let doorbell: Doorbell
    private let backoff: Backoff
    private let idleCheck: Duration
    private let logger: Logger

    public init(
        store: any ScenarioStore, transport: any ChatTransport, doorbell: Doorbell, backoff: Backoff = Backoff(),
        idleCheck: Duration = .seconds(1), logger: Logger
    ) {
        self.store = store
        self.transport = transport
        self.doorbell = doorbell
        self.backoff = backoff
        self.idleCheck = idleCheck
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let batch: [OutboxMessage]
                do {
                    batch = try await self.store.pendingOutbox(limit: 64)
                } catch {
                    self.logger.error("outbox could not be read", metadata: ["error": "\(error)"])
                    await self.doorbell.wait(timeout: self.idleCheck)
                    continue
                }
                if batch.isEmpty {
                    await self.doorbell.wait(timeout: self.idleCheck)
                    continue
                }
                for message in batch where !Task.isCancelled {
                    await self.deliver(message)
                }
            }
        }
    }

    /// Sends one message, retrying as the failure allows. Returns when it is sent, given up,
    /// or the service is stopping (then it stays queued for the next start).
    func deliver(_ message: OutboxMessage) async {
        let draft = message.draft
        var attempt = message.attempts
        var replyTo = draft.replyTo
        if replyTo == nil, draft.purpose == .reply { replyTo = await announcement(of: draft.scenarioID) }
        while !Task.isCancelled {
            do {
                let ref = try await transport.post(ChatMessage(chat: draft.chat, text: draft.text, replyTo: replyTo))
                do {
                    try await store.markSent(outboxID: message.id, as: ref)
                } catch {
                    logger.error("sent, but could not mark it sent; it may be sent again after a restart",
                                 metadata: ["outbox": "\(message.id)", "error": "\(error)"])
                }
                return
            } catch {
                attempt += 1
                let giveUp = !error.isRetryable || attempt >= backoff.maxAttempts
                logger.warning(
                    giveUp ? "gave up sending a chat message" : "chat message not sent yet, will retry",
                    metadata: ["outbox": "\(message.id)", "transport": "\(transport.name)", "attempt": "\(attempt)",
                               "reason": "\(error.reason.rawValue)", "error": "\(error.message)"])
                try? await store.markFailed(outboxID: message.id, reason: error.description, giveUp: giveUp)
                if giveUp { return }
                try? await Task.sleep(for: error.retryAfter ?? backoff.delay(attempt: attempt))
            }
        }
    }

    /// The scenario's announcement on this transport, so that news about a scenario (its
    /// resolve, an escalation) lands in the scenario's thread.
    private func announcement(of scenarioID: Int64?) async -> MessageRef? {
        guard let scenarioID, let events = try? await store.events(of: scenarioID) else { return nil }
        for event in events.reversed() {
            if case .notified(let ref) = event.body, ref.transport == transport.name { return ref }
        }
        return nil
    }
}
