import Foundation
import Logging
import ServiceLifecycle

/// Applies the retention policy in the background: at start, then every `interval`, the store
/// removes what the policy does not keep, `batch` scenarios per short transaction, so intake
/// waits at most for one batch. With a policy that keeps everything it does nothing.
public struct RetentionService: Service {
    public struct Settings: Sendable, Equatable {
        public var policy: RetentionPolicy
        public var interval: Duration
        public var batch: Int

        public init(policy: RetentionPolicy = RetentionPolicy(), interval: Duration = .seconds(3600), batch: Int = 100) {
            self.policy = policy
            self.interval = interval
            self.batch = batch
        }
    }

    let store: any ScenarioStore
    let settings: Settings
    let logger: Logger

    public init(store: any ScenarioStore, settings: Settings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        guard !settings.policy.keepsEverything else {
            // Nothing to do, but a service that returns early would stop the whole group.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await pruneOnce(now: Date())
                try? await Task.sleep(for: settings.interval)
            }
        }
    }

    /// One pass; returns how many scenarios were removed (0 when it failed, which is logged).
    @discardableResult
    public func pruneOnce(now: Date) async -> Int {
        do {
            let removed = try await store.prune(settings.policy, now: now, batch: settings.batch)
            if removed > 0 { logger.info("retention removed old resolved scenarios", metadata: ["removed": "\(removed)"]) }
            return removed
        } catch {
            logger.error("retention failed; will try again", metadata: ["error": "\(error)"])
            return 0
        }
    }
}
