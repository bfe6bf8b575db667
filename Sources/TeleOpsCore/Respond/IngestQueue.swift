import Logging
import ServiceLifecycle
import Synchronization

/// Why intake did not take alerts right now; the client should retry after `retryAfter`.
public struct IngestUnavailable: Error, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// More alerts are waiting for the store than `IngestQueue.Settings.maxPendingAlerts`.
        case overloaded
        /// The controller is shutting down.
        case stopping
    }

    public var reason: Reason
    public var retryAfter: Duration

    public var description: String {
        switch reason {
        case .overloaded: "intake is overloaded (too many alerts waiting for the store); nothing was accepted, retry shortly"
        case .stopping: "the controller is shutting down; nothing was accepted, retry shortly"
        }
    }
}

/// Intake with group commit: the bounded queue between the HTTP routes and the store.
///
/// Requests wait here while one writer commits whatever has gathered since its last commit
/// in a single transaction (`ScenarioStore.ingest(batches:)`), so concurrent requests share
/// one sync to disk, and each request is still all-or-nothing on its own. `accept` returns
/// only after the commit: a 202 built from its answer means the alerts are on disk.
///
/// The queue is bounded by alerts waiting (`maxPendingAlerts`): past it, `accept` throws
/// `IngestUnavailable.overloaded` at once, and the HTTP layer answers 503 with `Retry-After`,
/// so overload turns into retries at the sender instead of memory growth here.
///
/// ```swift
/// let intake = IngestQueue(store: store, composer: composer, doorbell: doorbell, logger: logger)
/// // in a ServiceGroup before the HTTP service, then from a route:
/// let outcomes = try await intake.accept(alerts)
/// ```
public final class IngestQueue: AlertSink, Service {
    public struct Settings: Sendable, Equatable {
        /// Alerts accepted by routes but not yet committed, past which new requests are refused.
        public var maxPendingAlerts: Int = 20_000
        /// Alerts per transaction: a large backlog is written in several commits so that no
        /// single transaction holds the write lock for long.
        public var maxAlertsPerCommit: Int = 5_000
        /// What overloaded clients are told to wait.
        public var retryAfter: Duration = .seconds(1)

        public init() {}
    }

    private struct Waiting {
        var alerts: [Alert]
        var continuation: CheckedContinuation<[IngestOutcome], any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var pendingAlerts = 0
        var stopping = false
    }

    public let store: any ScenarioStore
    public let composer: NotificationComposer
    public let settings: Settings
    private let doorbell: Doorbell
    private let work = Doorbell()
    private let state = Mutex(State())
    private let logger: Logger

    public init(
        store: any ScenarioStore, composer: NotificationComposer, doorbell: Doorbell, settings: Settings = Settings(),
        logger: Logger
    ) {
        self.store = store
        self.composer = composer
        self.doorbell = doorbell
        self.settings = settings
        self.logger = logger
    }

    /// Alerts waiting for the store right now.
    public var pendingAlerts: Int { state.withLock { $0.pendingAlerts } }

    public func accept(_ alerts: [Alert]) async throws -> [IngestOutcome] {
        guard !alerts.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let refusal = state.withLock { state -> IngestUnavailable? in
                if state.stopping { return IngestUnavailable(reason: .stopping, retryAfter: settings.retryAfter) }
                // One request larger than the whole queue is still taken when the queue is empty.
                if state.pendingAlerts > 0, state.pendingAlerts + alerts.count > settings.maxPendingAlerts {
                    return IngestUnavailable(reason: .overloaded, retryAfter: settings.retryAfter)
                }
                state.waiting.append(Waiting(alerts: alerts, continuation: continuation))
                state.pendingAlerts += alerts.count
                return nil
            }
            if let refusal {
                continuation.resume(throwing: refusal)
            } else {
                work.ring()
            }
        }
    }

    /// The writer: commits what has gathered, again and again, until graceful shutdown; then
    /// refuses new requests and commits what is still waiting before it returns.
    ///
    /// A commit in progress is never cancelled: requests already queued are either committed
    /// and answered, or answered with the store's error.
    public func run() async throws {
        let shutdown = Mutex(false)
        await withGracefulShutdownHandler {
            while !Task.isCancelled, !shutdown.withLock({ $0 }) {
                if await self.commitWaiting() == 0 {
                    await self.work.wait(timeout: .seconds(1))
                }
            }
        } onGracefulShutdown: {
            shutdown.withLock { $0 = true }
            self.work.ring()
        }
        state.withLock { $0.stopping = true }
        while await commitWaiting() > 0 {}
    }

    /// Takes requests from the head of the queue, up to `maxAlertsPerCommit` alerts (at least
    /// one request), commits them together and answers each. Returns how many requests it took.
    private func commitWaiting() async -> Int {
        let taken = state.withLock { state -> [Waiting] in
            var count = 0
            var alerts = 0
            for request in state.waiting {
                if count > 0, alerts + request.alerts.count > settings.maxAlertsPerCommit { break }
                count += 1
                alerts += request.alerts.count
            }
            let taken = Array(state.waiting.prefix(count))
            state.waiting.removeFirst(count)
            return taken
        }
        guard !taken.isEmpty else { return 0 }
        let composer = self.composer
        do {
            let results = try await store.ingest(batches: taken.map(\.alerts)) { alert, outcome, scenario in
                composer.drafts(for: alert, outcome: outcome, scenario: scenario)
            }
            release(taken)
            doorbell.ring()
            for (request, result) in zip(taken, results) {
                request.continuation.resume(with: result)
            }
        } catch {
            logger.error("alerts could not be committed", metadata: ["requests": "\(taken.count)", "error": "\(error)"])
            release(taken)
            for request in taken {
                request.continuation.resume(throwing: error)
            }
        }
        return taken.count
    }

    private func release(_ requests: [Waiting]) {
        let count = requests.reduce(0) { $0 + $1.alerts.count }
        state.withLock { $0.pendingAlerts -= count }
    }
}
