import Foundation

/// What `StatsdEngine.seed(from:at:)` found in the store.
public struct StatsdSeed: Sendable, Equatable {
    /// Series marked firing again: one per active statsd scenario whose rule is configured.
    public var series = 0
    /// Active statsd scenarios no series could be seeded for, as `rule@host`: their rule is
    /// no longer configured (removed or renamed), or `max_series` series are held. Nothing
    /// will resolve them; an engineer has to.
    public var orphans: [String] = []

    public init(series: Int = 0, orphans: [String] = []) {
        self.series = series
        self.orphans = orphans
    }
}

extension StatsdEngine {
    /// Scenarios read per query while seeding.
    static let seedPage = 500

    /// Seeds the engine with the series that were firing before a restart: every active
    /// (open or acknowledged) scenario of source `statsd` is one, its check being the rule's
    /// name and its host the series' host (fingerprint `statsd|host|rule`). Call it at start,
    /// before the first `evaluate`, so those scenarios resolve when their values are back to
    /// normal; see "Restart" in the type's notes.
    ///
    /// ```swift
    /// let seed = try await engine.seed(from: store, at: Date())
    /// if !seed.orphans.isEmpty { logger.warning("statsd scenarios without a rule", metadata: ["scenarios": "\(seed.orphans)"]) }
    /// ```
    public func seed(from store: any ScenarioStore, at date: Date) async throws -> StatsdSeed {
        var seed = StatsdSeed()
        for status in ScenarioStatus.allCases where status.isActive {
            var beforeID: Int64?
            while true {
                let page = try await store.scenarios(ScenarioQuery(
                    status: status, source: "statsd", limit: Self.seedPage, beforeID: beforeID))
                for scenario in page {
                    if seedFiring(rule: scenario.check, host: scenario.host, at: date) {
                        seed.series += 1
                    } else {
                        seed.orphans.append("\(scenario.check)@\(scenario.host)")
                    }
                }
                guard page.count == Self.seedPage, let last = page.last else { break }
                beforeID = last.id
            }
        }
        return seed
    }
}
