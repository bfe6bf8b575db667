import Foundation
import Logging
import Synchronization
import TeleOpsCore

/// The receiving half of the Slack transport, shared by Socket Mode and the Events API:
/// payload → messages (`SlackEvents`) → the inbox (durable, de-duplicated by delivery id) →
/// `incoming`. The caller acknowledges Slack only after `receive` returned, so a message
/// Slack counts as delivered is always in the store.
final class SlackReceiver: Sendable {
    /// A payload as Slack delivers it, over either receive mode.
    enum Payload: Sendable {
        /// An Events API body (`event_callback`, `url_verification`, `app_rate_limited`).
        case events(JSONValue)
        /// An interactivity payload (`block_actions`, shortcuts, …).
        case interactive(JSONValue)
        /// A slash command's form fields.
        case slashCommand([String: String])
    }

    let inbox: any ChatInbox
    let logger: Logger
    let incoming: AsyncStream<IncomingMessage>
    private let continuation: AsyncStream<IncomingMessage>.Continuation
    private let identityState = Mutex<SlackIdentity?>(nil)
    let receiving = SlackLatch()

    init(inbox: any ChatInbox, logger: Logger) {
        self.inbox = inbox
        self.logger = logger
        (incoming, continuation) = AsyncStream.makeStream(of: IncomingMessage.self)
    }

    var identity: SlackIdentity? {
        get { identityState.withLock { $0 } }
        set { identityState.withLock { $0 = newValue } }
    }

    /// Stores what `payload` holds for TeleOps and then yields it on `incoming`; returns how
    /// many messages were new. Throws only when the inbox failed (then Slack must redeliver).
    @discardableResult
    func receive(_ payload: Payload, deliveryNote: String) async throws -> Int {
        let messages: Result<[IncomingMessage], SlackEvents.Ignored>
        switch payload {
        case .events(let body):
            switch body["type"]?.stringValue {
            case "event_callback":
                messages = SlackEvents.message(fromEventCallback: body, identity: identity).map { [$0] }
            case "app_rate_limited":
                logger.warning(
                    "Slack is dropping events for this app: more than 30,000 in an hour (app_rate_limited)",
                    metadata: ["minute_rate_limited": "\(body["minute_rate_limited"].map { $0.compactJSON } ?? "?")"])
                return 0
            case let type:
                messages = .failure(.init("Events API type \(type ?? "missing")"))
            }
        case .interactive(let body):
            messages = SlackEvents.presses(fromInteraction: body)
        case .slashCommand(let fields):
            messages = SlackEvents.message(fromSlashCommand: fields).map { [$0] }
        }
        switch messages {
        case .failure(let ignored):
            logger.debug("Slack delivery ignored", metadata: ["delivery": "\(deliveryNote)", "why": "\(ignored)"])
            return 0
        case .success(let messages):
            let stored = try await inbox.receive(messages, cursor: nil)
            if stored.count < messages.count {
                logger.debug("Slack redelivery already stored", metadata: ["delivery": "\(deliveryNote)"])
            }
            for message in stored { continuation.yield(message) }
            return stored.count
        }
    }

    func finish() { continuation.finish() }
}

/// Opens once and lets anyone wait for that (cancellation ends a wait early).
final class SlackLatch: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    var isOpen: Bool { state.withLock { $0.isOpen } }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.resume() }
    }

    func wait() async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
