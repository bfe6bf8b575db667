import Foundation
import Testing
import TeleOpsCore

/// A restart loses the engine's memory; the store's active statsd scenarios put the firing
/// series back, so they still resolve.
@Suite struct StatsdEngineRestartTests {
    typealias T = StatsdEngineTests

    /// A store with the scenario a first engine opened for `api_latency` on web-1 (value 812).
    static func storeWithFiringScenario(_ rule: StatsdRule = T.rule()) async throws -> MemoryScenarioStore {
        let store = MemoryScenarioStore()
        let before = StatsdEngine(rules: [rule])
        let fired = T.step(before, "api.latency:812|ms|#host:web-1", at: 0)
        #expect(fired.map(\.status) == [.firing])
        let outcomes = try await store.ingest(fired) { _, _, _ in [] }
        #expect(outcomes.map(\.disposition) == [.opened])
        return store
    }

    @Test func aSeriesFiringBeforeARestartResolvesWhenItsValueIsBackToNormal() async throws {
        let store = try await Self.storeWithFiringScenario()
        let engine = StatsdEngine(rules: [T.rule()])
        #expect(try await engine.seed(from: store, at: T.at(100)) == StatsdSeed(series: 1))

        #expect(T.step(engine, "api.latency:120|ms|#host:web-1,env:prod", at: 110).isEmpty, "not a full window since the restart")
        let resolved = T.step(engine, "api.latency:100|ms|#host:web-1,env:prod", at: 160)
        #expect(resolved.map(\.status) == [.resolved])
        let alert = try #require(resolved.first)
        #expect(alert.fingerprint == "statsd|web-1|api_latency")
        #expect(alert.labels["env"] == "prod", "a seeded series takes the tags of its first sample")
        #expect(try await store.ingest(resolved) { _, _, _ in [] }.map(\.disposition) == [.resolved])
        #expect(try await store.scenarios(ScenarioQuery(source: "statsd")).map(\.status) == [.resolved])
    }

    @Test func aSeededSeriesStillBreachingDoesNotFireAgain() async throws {
        let store = try await Self.storeWithFiringScenario()
        let engine = StatsdEngine(rules: [T.rule()])
        _ = try await engine.seed(from: store, at: T.at(100))
        for second in stride(from: 100.0, through: 400, by: 10) {
            #expect(T.step(engine, "api.latency:900|ms|#host:web-1", at: second).isEmpty)
        }
        #expect(T.step(engine, "api.latency:100|ms|#host:web-1", at: 410).map(\.status) == [.resolved])
    }

    @Test func acknowledgedScenariosAreSeededToo() async throws {
        let store = try await Self.storeWithFiringScenario()
        let scenario = try #require(try await store.scenarios(ScenarioQuery()).first)
        var ack = Alert(source: "statsd", host: "web-1", check: "api_latency", severity: .critical, status: .acknowledged, summary: "on it")
        ack.fingerprint = scenario.fingerprint
        _ = try await store.ingest([ack]) { _, _, _ in [] }
        #expect(try await store.scenario(id: scenario.id)?.status == .acknowledged)
        let engine = StatsdEngine(rules: [T.rule()])
        #expect(try await engine.seed(from: store, at: T.at(100)).series == 1)
        #expect(T.step(engine, "api.latency:100|ms|#host:web-1", at: 160).map(\.status) == [.resolved])
    }

    /// No sample at all since the restart: as for any firing series without data, nothing is
    /// known about the value, so it stays firing (the host may be down with its metrics).
    @Test func aSeededSeriesWithoutDataStaysFiring() async throws {
        let store = try await Self.storeWithFiringScenario()
        let engine = StatsdEngine(rules: [T.rule()])
        _ = try await engine.seed(from: store, at: T.at(100))
        for second in [100.0, 160, 600, 86_400] {
            #expect(engine.evaluate(at: T.at(second)).isEmpty)
        }
        #expect(engine.stats.series == 1)
    }

    /// A `count` over the part of the window since the restart would look like a recovery.
    @Test func aSeededCountWaitsForAFullWindowBeforeResolving() async throws {
        let rule = T.rule(.count, .greater, 3, window: .seconds(60))
        let store = MemoryScenarioStore()
        let before = StatsdEngine(rules: [rule])
        _ = try await store.ingest(T.step(before, "api.latency:1|ms\napi.latency:1|ms\napi.latency:1|ms\napi.latency:1|ms", at: 0)) { _, _, _ in [] }
        let engine = StatsdEngine(rules: [rule])
        #expect(try await engine.seed(from: store, at: T.at(100)).series == 1)
        #expect(T.step(engine, "", at: 110).isEmpty)
        #expect(T.step(engine, "", at: 159).isEmpty)
        let resolved = T.step(engine, "", at: 160)
        #expect(resolved.map(\.status) == [.resolved])
    }

    @Test func scenariosOfRulesNoLongerConfiguredAreReported() async throws {
        let store = try await Self.storeWithFiringScenario()
        var renamed = T.rule()
        renamed.name = "api_latency_p99"
        let engine = StatsdEngine(rules: [renamed])
        #expect(try await engine.seed(from: store, at: T.at(100)) == StatsdSeed(series: 0, orphans: ["api_latency@web-1"]))
        #expect(engine.stats.series == 0)
        #expect(!engine.seedFiring(rule: "api_latency", host: "web-1", at: T.at(100)))
    }

    @Test func resolvedAndOtherSourcesScenariosAreNotSeeded() async throws {
        let store = MemoryScenarioStore()
        let other = Alert(source: "generic", host: "web-1", check: "api_latency", severity: .critical, status: .firing, summary: "x")
        _ = try await store.ingest([other]) { _, _, _ in [] }
        let statsd = try await Self.storeWithFiringScenario()
        let engine = StatsdEngine(rules: [T.rule()])
        #expect(try await engine.seed(from: store, at: T.at(100)) == StatsdSeed())
        let fired = try #require(try await statsd.scenarios(ScenarioQuery()).first)
        var resolve = Alert(source: "statsd", host: "web-1", check: "api_latency", severity: .critical, status: .resolved, summary: "ok")
        resolve.fingerprint = fired.fingerprint
        _ = try await statsd.ingest([resolve]) { _, _, _ in [] }
        #expect(try await engine.seed(from: statsd, at: T.at(100)) == StatsdSeed())
    }
}
