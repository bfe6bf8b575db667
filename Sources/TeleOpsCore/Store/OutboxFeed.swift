import Synchronization

/// Outbox messages a store has just committed, handed to the outbox sender so that it does
/// not read back what was just written: reading the outbox after every commit cost about half
/// a millisecond of every chat message's latency (measured in docs/BENCHMARKS.md).
///
/// The store publishes in commit order, which is id order, right after each commit that
/// queued messages; one consumer takes them. The feed is bounded: when more than `capacity`
/// messages wait (the sender is behind, or there is none, as in the CLI), it drops them all
/// and `take` answers nil once, telling the consumer to read the store instead, where every
/// message is anyway. A consumer therefore reads the store at start, after a nil, and now and
/// then (another process may have queued messages), and uses the feed in between, skipping
/// ids it has already seen.
///
/// ```swift
/// // store, after a commit: feed.publish(queued)
/// switch feed.take(upTo: 256) {
/// case .some(let messages): enqueue(messages.filter { $0.id > lastSeen })
/// case nil: readTheStore(after: lastSeen)
/// }
/// ```
public final class OutboxFeed: Sendable {
    public let capacity: Int

    private struct State {
        var messages: [OutboxMessage] = []
        var dropped = false
    }

    private let state = Mutex(State())

    public init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
    }

    /// Messages just committed, in commit order. Called by the store only.
    public func publish(_ messages: [OutboxMessage]) {
        guard !messages.isEmpty else { return }
        state.withLock { state in
            guard !state.dropped else { return }
            if state.messages.count + messages.count > capacity {
                state.messages = []
                state.dropped = true
            } else {
                state.messages += messages
            }
        }
    }

    /// The oldest `limit` messages published and not taken yet (possibly none), or nil when
    /// some were dropped since the last call: read the store then. After a nil the feed starts
    /// again with what is committed from then on.
    public func take(upTo limit: Int) -> [OutboxMessage]? {
        state.withLock { state in
            if state.dropped {
                state.dropped = false
                return nil
            }
            let count = min(max(0, limit), state.messages.count)
            defer { state.messages.removeFirst(count) }
            return Array(state.messages.prefix(count))
        }
    }

    /// Messages waiting to be taken.
    public var count: Int { state.withLock { $0.messages.count } }
}
