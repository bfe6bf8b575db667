import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting

/// The statsd service with a real UDP socket on 127.0.0.1, a recording sink, real ticks and a
/// clock the test moves, so windows do not expire on a slow machine.
@Suite struct StatsdListenerTests {
    /// Resolves at the first evaluation past the threshold (`clear_for: 0`): the clock only
    /// moves when a test moves it.
    static let rule = StatsdRule(
        name: "errors", metric: "api.errors", aggregation: .sum, window: .milliseconds(400), comparison: .greater,
        threshold: 3, clearForDuration: .zero, severity: .error)

    static var logger: Logger {
        var logger = Logger(label: "statsd-test")
        logger.logLevel = ProcessInfo.processInfo.environment["TELEOPS_TEST_LOG"] == nil ? .critical : .debug
        return logger
    }

    /// Runs a listener in a service group while `body` runs (with the bound UDP port, if any),
    /// then shuts the group down gracefully and checks that `run()` ends.
    func withListener(
        _ settings: StatsdSettings, sink: RecordingSink, clock: TestClock = TestClock(), store: (any ScenarioStore)? = nil,
        _ body: (_ listener: StatsdListener, _ port: Int?) async throws -> Void
    ) async throws {
        let ports = Collector<Int>()
        let listener = StatsdListener(
            settings: settings, engine: StatsdEngine(settings: settings), sink: sink, store: store, logger: Self.logger,
            now: { clock.now }, onBound: { ports.append($0) })
        let group = ServiceGroup(configuration: .init(services: [listener], logger: Self.logger))
        let running = Task { try await group.run() }
        let port = settings.udpHost == nil ? nil : try await ports.waitFor(what: "the UDP port") { _ in true }
        do {
            try await body(listener, port)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await withDeadline(.seconds(10), what: "run() to end after graceful shutdown") { try await running.value }
    }

    @Test func udpSamplesFireAndThenResolve() async throws {
        let sink = RecordingSink()
        let clock = TestClock()
        let settings = StatsdSettings(udpHost: "127.0.0.1", udpPort: 0, evaluationInterval: .milliseconds(50), rules: [Self.rule])
        try await withListener(settings, sink: sink, clock: clock) { listener, port in
            let port = try #require(port)
            #expect(port != 0)
            try sendUDP("api.errors:2|c|#host:web-1\napi.errors:3|c|#host:web-1", port: port)
            let fired = try await sink.alerts.waitFor(what: "the firing alert") { $0.status == .firing }
            #expect(fired.host == "web-1")
            #expect(fired.check == "errors")
            #expect(fired.summary == "sum of api.errors is 5 (> 3) over 400ms")
            // No more samples: once the window has passed, the sum is 0 and the series resolves.
            clock.advance(by: 1)
            let resolved = try await sink.alerts.waitFor(what: "the resolved alert") { $0.status == .resolved }
            #expect(resolved.fingerprint == fired.fingerprint)
            #expect(listener.engine.stats.recordedSamples == 2)
        }
        #expect(sink.alerts.all.map(\.status) == [.firing, .resolved])
    }

    /// The scenario was opened before a restart and the errors stopped while TeleOps was
    /// down: the new process resolves it, from the store alone.
    @Test func aScenarioOpenBeforeTheRestartResolvesOnceTheValueIsNormal() async throws {
        let store = MemoryScenarioStore()
        let before = Alert(
            source: "statsd", host: "web-1", check: "errors", severity: .error, status: .firing,
            summary: "sum of api.errors is 5 (> 3) over 400ms")
        #expect(try await store.ingest([before]) { _, _, _ in [] }.map(\.disposition) == [.opened])
        let sink = RecordingSink()
        let clock = TestClock()
        let settings = StatsdSettings(evaluationInterval: .milliseconds(50), rules: [Self.rule])
        try await withListener(settings, sink: sink, clock: clock, store: store) { listener, _ in
            try await withDeadline(.seconds(10), what: "the series to be seeded") {
                while listener.engine.stats.series == 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            // Not before a full window since the start: the window holds nothing from before.
            try await Task.sleep(for: .milliseconds(200))
            #expect(sink.alerts.all.isEmpty)
            clock.advance(by: 1)
            let resolved = try await sink.alerts.waitFor(what: "the resolved alert") { $0.status == .resolved }
            #expect(resolved.fingerprint == before.fingerprint)
            #expect(listener.engine.stats.series == 0, "resolved and without samples: forgotten")
        }
        #expect(sink.alerts.all.map(\.status) == [.resolved])
    }

    @Test func badAndOversizedPacketsAreCountedAndGoodLinesTaken() async throws {
        let sink = RecordingSink()
        let settings = StatsdSettings(
            udpHost: "127.0.0.1", udpPort: 0, evaluationInterval: .milliseconds(50), maxPacketBytes: 512, rules: [Self.rule])
        try await withListener(settings, sink: sink) { listener, port in
            let port = try #require(port)
            // In order on loopback: once the second packet fired, the first was handled.
            try sendUDP("api.errors:1|c\n" + String(repeating: "x", count: 600), port: port)
            try sendUDP("api.errors:1|x\napi.errors:4|c", port: port)
            _ = try await sink.alerts.waitFor(what: "the firing alert") { $0.status == .firing }
            let stats = listener.engine.stats
            #expect(stats.parseErrors == 1)
            #expect(stats.recordedSamples == 1)
        }
    }

    @Test func withoutUDPItEvaluatesLinesPostedOverHTTPAndRetriesAFailedSink() async throws {
        let sink = RecordingSink(failures: 2)
        let settings = StatsdSettings(evaluationInterval: .milliseconds(50), rules: [Self.rule])
        try await withListener(settings, sink: sink) { listener, port in
            #expect(port == nil)
            #expect(try listener.engine.ingest(lines: Data("api.errors:9|c|#host:db-1".utf8), at: TestClock.start) == 1)
            let fired = try await sink.alerts.waitFor(what: "the firing alert after the sink recovers") { $0.status == .firing }
            #expect(fired.host == "db-1")
            #expect(sink.calls >= 3)
        }
        #expect(sink.alerts.all.filter { $0.status == .firing }.count == 1)
    }

    @Test func shutdownHandsOnWhatIsWaiting() async throws {
        let sink = RecordingSink()
        let settings = StatsdSettings(evaluationInterval: .seconds(3600), rules: [Self.rule])
        try await withListener(settings, sink: sink) { listener, _ in
            _ = try listener.engine.ingest(lines: Data("api.errors:9|c".utf8), at: TestClock.start)
        }
        #expect(sink.alerts.all.map(\.status) == [.firing])
    }

    @Test func aPortInUseFailsRun() async throws {
        let sink = RecordingSink()
        let first = StatsdSettings(udpHost: "127.0.0.1", udpPort: 0, rules: [Self.rule])
        try await withListener(first, sink: sink) { _, port in
            let taken = StatsdSettings(udpHost: "127.0.0.1", udpPort: try #require(port))
            let second = StatsdListener(settings: taken, engine: StatsdEngine(settings: taken), sink: sink, logger: Self.logger)
            await #expect(throws: (any Error).self) { try await second.run() }
        }
    }
}

/// The time the listener sees: it only moves when a test moves it.
final class TestClock: Sendable {
    static let start = Date(timeIntervalSinceReferenceDate: 800_000_000)
    private let time = Mutex(TestClock.start)

    var now: Date { time.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        time.withLock { $0.addTimeInterval(seconds) }
    }
}

/// Records the alerts it takes; the first `failures` calls throw, like a store that is briefly down.
final class RecordingSink: AlertSink {
    struct StoreUnavailable: Error {}

    let alerts = Collector<Alert>()
    private let state: Mutex<(failuresLeft: Int, calls: Int)>

    init(failures: Int = 0) {
        state = Mutex((failures, 0))
    }

    var calls: Int { state.withLock { $0.calls } }

    func accept(_ alerts: [Alert]) async throws -> [IngestOutcome] {
        let fail = state.withLock { state -> Bool in
            state.calls += 1
            guard state.failuresLeft > 0 else { return false }
            state.failuresLeft -= 1
            return true
        }
        if fail { throw StoreUnavailable() }
        alerts.forEach(self.alerts.append)
        return []
    }
}
