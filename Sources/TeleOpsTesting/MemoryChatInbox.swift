import Synchronization
import TeleOpsCore

/// A `ChatInbox` in memory, for transport tests: it keeps each delivery once (same transport
/// and `deliveryID`), numbers what it keeps, and holds cursors. Several transports in a row
/// can share one, as a restarted controller shares its store.
///
/// ```swift
/// let inbox = MemoryChatInbox()
/// let transport = TelegramTransport(settings: settings, inbox: inbox, logger: logger)
/// inbox.failNextReceives(1)   // the next store attempt throws, as a full disk would
/// ```
public final class MemoryChatInbox: ChatInbox {
    /// Thrown by `receive` while failures are queued with `failNextReceives`.
    public struct StoreFailure: Error, CustomStringConvertible {
        public var description: String { "the inbox failed on purpose" }
    }

    private struct State {
        var seen: Set<String> = []
        var cursors: [String: String] = [:]
        var lastID: Int64 = 0
        var failures = 0
        var delays: [Duration] = []
        var receiveCalls = 0
    }

    private let state = Mutex(State())
    /// Every message stored, in order, with its `inboxID`.
    public let stored = Collector<IncomingMessage>()

    public init() {}

    public func receive(_ messages: [IncomingMessage], cursor: ChatCursor?) async throws -> [IncomingMessage] {
        if let delay = state.withLock({ $0.delays.isEmpty ? nil : $0.delays.removeFirst() }) {
            try await Task.sleep(for: delay)
        }
        return try state.withLock { state in
            state.receiveCalls += 1
            if state.failures > 0 {
                state.failures -= 1
                throw StoreFailure()
            }
            var fresh: [IncomingMessage] = []
            for var message in messages {
                if let delivery = message.deliveryID {
                    guard state.seen.insert("\(message.ref.transport)\u{0}\(delivery)").inserted else { continue }
                }
                state.lastID += 1
                message.inboxID = state.lastID
                fresh.append(message)
            }
            if let cursor { state.cursors[cursor.name] = cursor.value }
            return fresh
        }.map { message in
            stored.append(message)
            return message
        }
    }

    public func cursor(named name: String) async throws -> String? {
        state.withLock { $0.cursors[name] }
    }

    /// The next `count` calls to `receive` throw `StoreFailure` and store nothing.
    public func failNextReceives(_ count: Int) {
        state.withLock { $0.failures += count }
    }

    /// The next `receive` waits this long before storing, as a slow disk would.
    public func delayNextReceive(_ delay: Duration) {
        state.withLock { $0.delays.append(delay) }
    }

    /// How many times `receive` was called (failed calls included).
    public var receiveCalls: Int { state.withLock { $0.receiveCalls } }
}
