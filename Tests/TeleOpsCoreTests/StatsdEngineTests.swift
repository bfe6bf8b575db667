import Foundation
import Testing
import TeleOpsCore

@Suite struct StatsdEngineTests {
    static let start = Date(timeIntervalSinceReferenceDate: 800_000_000)

    static func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }

    /// A rule on `api.latency`. It resolves at the first evaluation past its clear threshold
    /// (`clear_for: 0`), so tests about something else need not wait out the default
    /// `clear_for`; `clearFor: nil` gives the rule's own default.
    static func rule(
        _ aggregation: StatsdRule.Aggregation = .last, metric: String = "api.latency", _ comparison: StatsdRule.Comparison = .greater,
        _ threshold: Double = 500, clear: Double? = nil, window: Duration = .seconds(60), for hold: Duration = .zero,
        clearFor: Duration? = .zero
    ) -> StatsdRule {
        StatsdRule(name: "api_latency", metric: metric, aggregation: aggregation, window: window, comparison: comparison,
                   threshold: threshold, clearThreshold: clear, forDuration: hold, clearForDuration: clearFor, severity: .critical)
    }

    /// Records the lines at `seconds` and evaluates there.
    static func step(_ engine: StatsdEngine, _ lines: String, at seconds: Double) -> [Alert] {
        _ = engine.record(packet: Array(lines.utf8), at: at(seconds))
        return engine.evaluate(at: at(seconds))
    }

    /// The value `aggregation` gives for `lines` (all of the first line's metric) recorded at
    /// 0, read from the details of the alert a rule that always fires raises.
    static func value(of aggregation: StatsdRule.Aggregation, _ lines: String) throws -> Double {
        let engine = StatsdEngine(rules: [rule(aggregation, metric: String(lines.prefix { $0 != ":" }), .greater, -1e9)])
        _ = engine.record(packet: Array(lines.utf8), at: at(0))
        let alert = try #require(engine.evaluate(at: at(1)).first)
        guard case .object(let details)? = alert.details, case .number(let value)? = details["value"] else {
            Issue.record("no value in \(String(describing: alert.details))")
            return .nan
        }
        return value
    }

    @Test func firesOnceTheConditionHeldForItsDurationNotBefore() throws {
        let engine = StatsdEngine(rules: [Self.rule(for: .seconds(10), clearFor: nil)])
        #expect(Self.step(engine, "api.latency:600|ms|#host:web-1,env:prod", at: 0).isEmpty)
        #expect(Self.step(engine, "api.latency:700|ms|#host:web-1,env:prod", at: 5).isEmpty)
        #expect(Self.step(engine, "api.latency:812|ms|#host:web-1,env:prod", at: 9.9).isEmpty)
        let fired = Self.step(engine, "", at: 10)
        #expect(fired.count == 1)
        let alert = try #require(fired.first)
        #expect(alert.source == "statsd")
        #expect(alert.host == "web-1")
        #expect(alert.check == "api_latency")
        #expect(alert.severity == .critical)
        #expect(alert.status == .firing)
        #expect(alert.summary == "last of api.latency is 812 (> 500) over 1m")
        #expect(alert.labels == ["rule": "api_latency", "metric": "api.latency", "aggregation": "last", "host": "web-1", "env": "prod"])
        #expect(alert.details == ["value": 812, "threshold": 500, "clear_threshold": 500, "window_seconds": 60, "for_seconds": 10, "clear_for_seconds": 60, "comparison": ">"])
        #expect(alert.fingerprint == "statsd|web-1|api_latency")
        #expect(alert.idempotencyKey == nil)
        #expect(alert.receivedAt == Self.at(10))
        #expect(Self.step(engine, "api.latency:900|ms|#host:web-1", at: 11).isEmpty)
    }

    @Test func aBreakInTheConditionRestartsItsDuration() {
        let engine = StatsdEngine(rules: [Self.rule(for: .seconds(10))])
        #expect(Self.step(engine, "api.latency:600|ms", at: 0).isEmpty)
        #expect(Self.step(engine, "api.latency:100|ms", at: 5).isEmpty)
        #expect(Self.step(engine, "api.latency:600|ms", at: 6).isEmpty)
        #expect(Self.step(engine, "", at: 15).isEmpty)
        #expect(Self.step(engine, "", at: 16).map(\.status) == [.firing])
    }

    @Test func valuesHoveringBetweenClearAndThresholdDoNotFlap() {
        let engine = StatsdEngine(rules: [Self.rule(clear: 400)])
        var alerts: [Alert] = []
        for step in 0..<200 {
            let value = step.isMultiple(of: 2) ? 495 + step % 7 : 505 + step % 5  // around 500, above 400
            alerts += Self.step(engine, "api.latency:\(value)|ms", at: Double(step))
        }
        #expect(alerts.map(\.status) == [.firing])
        alerts += Self.step(engine, "api.latency:400|ms", at: 200)  // at clear: not past it
        #expect(alerts.count == 1)
        for step in 201..<260 {
            alerts += Self.step(engine, "api.latency:\(step.isMultiple(of: 2) ? 399 : 420)|ms", at: Double(step))
        }
        #expect(alerts.map(\.status) == [.firing, .resolved])
        #expect(alerts.last?.summary == "last of api.latency is 399 (back below 400) over 1m")
    }

    @Test func aValueAtTheThresholdNeitherFiresNorResolves() {
        let engine = StatsdEngine(rules: [Self.rule(clearFor: nil)])
        #expect(Self.step(engine, "api.latency:500|ms", at: 0).isEmpty)
        #expect(Self.step(engine, "api.latency:501|ms", at: 1).map(\.status) == [.firing])
        #expect(Self.step(engine, "api.latency:500|ms", at: 2).isEmpty)
        // Below the threshold: not resolved until it has stayed there for the default minute.
        #expect(Self.step(engine, "api.latency:499|ms", at: 3).isEmpty)
        #expect(Self.step(engine, "api.latency:499|ms", at: 62.9).isEmpty)
        #expect(Self.step(engine, "api.latency:499|ms", at: 63).map(\.status) == [.resolved])
    }

    @Test func byDefaultAValueHoveringAtTheThresholdFiresOnceAndDoesNotResolve() {
        // No clear threshold, no `for` and no `clear_for`: the rule as most are written.
        let engine = StatsdEngine(rules: [Self.rule(clearFor: nil)])
        var alerts: [Alert] = []
        // 501 and 499 in turn, each for a few seconds, for ten minutes.
        for second in 0..<600 {
            let value = (second / 3).isMultiple(of: 2) ? 501 : 499
            alerts += Self.step(engine, "api.latency:\(value)|ms", at: Double(second))
        }
        #expect(alerts.map(\.status) == [.firing])
        // Then it stays below: one resolve, a minute after the last 501.
        for second in 600..<700 {
            alerts += Self.step(engine, "api.latency:499|ms", at: Double(second))
        }
        #expect(alerts.map(\.status) == [.firing, .resolved])
        #expect(alerts.last?.receivedAt == Self.at(657))  // 499 since 597 (the 501s were 594, 595 and 596)
        #expect(alerts.last?.summary == "last of api.latency is 499 (back below 500) over 1m")
    }

    @Test func clearForDefaultsToForAndAtLeastAMinute() {
        #expect(Self.rule(clearFor: nil).effectiveClearFor == .seconds(60))
        #expect(Self.rule(for: .seconds(30), clearFor: nil).effectiveClearFor == .seconds(60))
        #expect(Self.rule(for: .seconds(300), clearFor: nil).effectiveClearFor == .seconds(300))
        var rule = Self.rule(clearFor: nil)
        rule.forDuration = .seconds(120)  // as the configuration reader sets it, after init
        #expect(rule.effectiveClearFor == .seconds(120))
        rule.clearForDuration = .seconds(5)
        #expect(rule.effectiveClearFor == .seconds(5))
        #expect(Self.rule(clearFor: .zero).effectiveClearFor == .zero)
    }

    @Test func aPendingResolveRestartsWhenTheValueGoesBackOrDataStops() {
        let engine = StatsdEngine(rules: [Self.rule(.max, window: .seconds(5), clearFor: .seconds(10))])
        #expect(Self.step(engine, "api.latency:600|ms", at: 0).map(\.status) == [.firing])
        #expect(Self.step(engine, "api.latency:100|ms", at: 6).isEmpty)    // clearing since 6
        #expect(Self.step(engine, "api.latency:500|ms", at: 8).isEmpty)    // not past the clear threshold: restarts
        #expect(Self.step(engine, "api.latency:100|ms", at: 14).isEmpty)   // clearing since 14
        #expect(Self.step(engine, "", at: 20).isEmpty)                     // no data: restarts
        #expect(Self.step(engine, "api.latency:100|ms", at: 21).isEmpty)   // clearing since 21
        #expect(Self.step(engine, "api.latency:100|ms", at: 30.9).isEmpty)
        #expect(Self.step(engine, "api.latency:100|ms", at: 31).map(\.status) == [.resolved])
    }

    @Test func lowerBoundRulesClearAbove() {
        let engine = StatsdEngine(rules: [Self.rule(metric: "free", .lessOrEqual, 10, clear: 20)])
        #expect(Self.step(engine, "free:10|g", at: 0).map(\.status) == [.firing])
        #expect(Self.step(engine, "free:20|g", at: 1).isEmpty)
        let resolved = Self.step(engine, "free:21|g", at: 2)
        #expect(resolved.map(\.status) == [.resolved])
        #expect(resolved.first?.summary == "last of free is 21 (back above 20) over 1m")
    }

    @Test func eachHostIsItsOwnSeries() {
        var rule = Self.rule(.sum, metric: "errors", .greater, 5)
        rule.hostTag = "node"
        let engine = StatsdEngine(rules: [rule, Self.rule(.sum, metric: "errors", .greater, 5)])
        let alerts = Self.step(engine, "errors:3|c|#node:a\nerrors:3|c|#node:a,host:h\nerrors:3|c|#node:b\nerrors:9|c|#node:", at: 0)
        // Rule 0 by `node` (the empty one is the default host), then rule 1 by `host`.
        #expect(alerts.map(\.host) == ["a", "statsd", "statsd"])
        #expect(alerts.map(\.fingerprint) == ["statsd|a|api_latency", "statsd|statsd|api_latency", "statsd|statsd|api_latency"])
        // Tags every sample of a series carried become labels; `host` was on only one of node a's.
        #expect(alerts[0].labels["node"] == "a")
        #expect(alerts[0].labels["host"] == nil)
    }

    @Test func countersHonourTheirSampleRate() throws {
        #expect(try Self.value(of: .sum, "gorets:1|c|@0.1") == 10)
        #expect(try Self.value(of: .count, "gorets:1|c|@0.1\ngorets:5|c") == 11)
        #expect(try Self.value(of: .rate, "gorets:1|c|@0.1\ngorets:20|c") == 0.5)
        #expect(try Self.value(of: .count, "glork:320|ms|@0.5\nglork:100|ms") == 3)
    }

    @Test func gaugeDeltasChangeAnExistingGaugeOnly() throws {
        #expect(try Self.value(of: .last, "gaugor:333|g\ngaugor:-10|g\ngaugor:+4|g") == 327)
        #expect(try Self.value(of: .max, "gaugor:333|g\ngaugor:-10|g\ngaugor:+4|g") == 333)
        #expect(try Self.value(of: .last, "fresh:-5|g") == -5)
        // One gauge per tag set: host b's delta does not touch host a's gauge.
        #expect(try Self.value(of: .last, "g:10|g|#host:a\ng:+1|g|#host:b\ng:+1|g|#host:a") == 11)
    }

    @Test func aSetCountsDistinctMembers() throws {
        #expect(try Self.value(of: .count, "uniques:765|s\nuniques:765|s\nuniques:766|s\nuniques:765|s") == 2)
    }

    @Test func timerAggregations() throws {
        let lines = (1...100).shuffled().map { "t:\($0)|ms" }.joined(separator: "\n")
        #expect(try Self.value(of: .p50, lines) == 50)
        #expect(try Self.value(of: .p90, lines) == 90)
        #expect(try Self.value(of: .p95, lines) == 95)
        #expect(try Self.value(of: .p99, lines) == 99)
        #expect(try Self.value(of: .avg, lines) == 50.5)
        #expect(try Self.value(of: .min, lines) == 1)
        #expect(try Self.value(of: .max, lines) == 100)
        #expect(try Self.value(of: .p95, "t:7|h") == 7)
    }

    @Test func rateIsTheSumPerSecondOfTheWindow() {
        let engine = StatsdEngine(rules: [Self.rule(.rate, metric: "requests", .greater, 1, window: .seconds(10))])
        #expect(Self.step(engine, "requests:10|c", at: 0).isEmpty)  // 1/s: not above
        #expect(Self.step(engine, "requests:5|c", at: 5).map(\.status) == [.firing])  // 1.5/s
        #expect(Self.step(engine, "", at: 10.5).map(\.status) == [.resolved])  // the first 10 left the window
    }

    @Test func anEmptyWindowIsZeroForCountsAndNoDataOtherwise() {
        let heartbeat = Self.rule(.count, metric: "heartbeat", .less, 1, window: .seconds(30))
        let latency = Self.rule(.max, metric: "api.latency", .greater, 500, window: .seconds(30))
        let engine = StatsdEngine(rules: [heartbeat, latency])
        #expect(Self.step(engine, "heartbeat:1|c|#host:a\napi.latency:900|ms|#host:a", at: 0).map(\.status) == [.firing])
        // Both windows empty: the heartbeat count is 0 (fires); the latency has no data (stays firing).
        let later = Self.step(engine, "", at: 31)
        #expect(later.map(\.status) == [.firing])
        #expect(later.first?.summary == "count of heartbeat is 0 (< 1) over 30s")
        #expect(Self.step(engine, "", at: 600).isEmpty)
        #expect(Self.step(engine, "api.latency:100|ms|#host:a", at: 601).map(\.status) == [.resolved])
        #expect(Self.step(engine, "", at: 700).isEmpty)
        #expect(engine.stats.series == 1)  // the resolved latency series is forgotten once its window empties
    }

    @Test func noDataRestartsAPendingDuration() {
        let engine = StatsdEngine(rules: [Self.rule(window: .seconds(5), for: .seconds(10))])
        #expect(Self.step(engine, "api.latency:600|ms", at: 0).isEmpty)
        #expect(Self.step(engine, "", at: 6).isEmpty)  // no data
        for seconds in [7.0, 11, 15] {
            #expect(Self.step(engine, "api.latency:600|ms", at: seconds).isEmpty)
        }
        #expect(Self.step(engine, "", at: 17).map(\.status) == [.firing])  // held from 7 to 17
    }

    @Test func prefixRulesAndTagFilters() {
        var rule = Self.rule(.sum, metric: "api.errors.*", .greater, 2)
        rule.tags = ["env": "prod", "canary": ""]
        let engine = StatsdEngine(rules: [rule])
        let lines = """
            api.errors.db:2|c|#env:prod,canary,host:a
            api.errors.auth:1|c|#env:prod,canary,host:a
            api.errors.db:5|c|#env:dev,canary,host:b
            api.errors.db:5|c|#env:prod,host:c
            api.errorsX:5|c|#env:prod,canary,host:d
            """
        #expect(Self.step(engine, lines, at: 0).map(\.host) == ["a"])
        #expect(engine.stats.ignoredSamples == 3)
    }

    @Test func seriesBeyondTheLimitAreDroppedAndCounted() {
        let engine = StatsdEngine(rules: [Self.rule(.sum, metric: "e", .greater, 0.5)], maxSeries: 2)
        #expect(Self.step(engine, "e:1|c|#host:a\ne:1|c|#host:b\ne:1|c|#host:c\ne:1|c|#host:c", at: 0).map(\.host) == ["a", "b"])
        var stats = engine.stats
        #expect(stats.series == 2)
        #expect(stats.droppedSeries == 1)
        #expect(stats.droppedSamples == 2)
        // Once a and b resolve and empty, c gets a place.
        #expect(Self.step(engine, "", at: 61).map(\.status) == [.resolved, .resolved])
        #expect(engine.stats.series == 0)
        #expect(Self.step(engine, "e:1|c|#host:c", at: 62).map(\.host) == ["c"])
        stats = engine.stats
        #expect(stats.series == 1 && stats.droppedSeries == 1)
    }

    @Test func aSeriesKeepsItsNewestSamples() {
        let engine = StatsdEngine(rules: [Self.rule(.count, metric: "c", .greater, 1e9)])
        let lines = Array(repeating: "c:1|c", count: StatsdEngine.maxSamplesPerSeries + 5).joined(separator: "\n")
        _ = engine.record(packet: Array(lines.utf8), at: Self.at(0))
        #expect(engine.stats.overwrittenSamples == 5)
        #expect(engine.stats.recordedSamples == StatsdEngine.maxSamplesPerSeries + 5)
    }

    @Test func alertsTheSinkCouldNotTakeComeBackFirstAndInOrder() {
        let engine = StatsdEngine(rules: [Self.rule()])
        let fired = Self.step(engine, "api.latency:600|ms", at: 0)
        #expect(fired.map(\.status) == [.firing])
        engine.requeue(fired)  // the store was unavailable
        #expect(engine.stats.requeuedAlerts == 1)
        let again = Self.step(engine, "api.latency:100|ms", at: 1)
        #expect(again.map(\.status) == [.firing, .resolved])
        #expect(again.first == fired.first)
        #expect(Self.step(engine, "", at: 2).isEmpty)
    }

    @Test func requeuedAlertsAreBounded() {
        let engine = StatsdEngine(rules: [])
        let alert = Alert(source: "statsd", host: "h", check: "c", severity: .info, status: .firing, summary: "s")
        engine.requeue(Array(repeating: alert, count: StatsdEngine.maxRequeuedAlerts + 3))
        #expect(engine.stats.droppedAlerts == 3)
        #expect(engine.evaluate(at: Self.at(0)).count == StatsdEngine.maxRequeuedAlerts)
    }

    @Test func httpIngestIsAllOrNothing() throws {
        let engine = StatsdEngine(rules: [Self.rule()])
        #expect {
            try engine.ingest(lines: Data("api.latency:600|ms\napi.latency:700|ms\napi.latency:x|ms\n".utf8), at: Self.at(0))
        } throws: { error in
            (error as? AlertDecodeError) == AlertDecodeError(field: "line 3", message: "'x' is not a number in 'api.latency:x|ms'")
        }
        #expect(engine.stats.recordedSamples == 0)
        #expect(engine.stats.parseErrors == 1)
        #expect(throws: AlertDecodeError(field: "", message: "the body holds no statsd lines")) {
            try engine.ingest(lines: Data("\n\n".utf8), at: Self.at(0))
        }
        #expect(try engine.ingest(lines: Data("api.latency:600|ms:700|ms\nother:1|c".utf8), at: Self.at(0)) == 3)
        #expect(engine.stats.recordedSamples == 2)
        #expect(engine.evaluate(at: Self.at(0)).map(\.status) == [.firing])
    }

    @Test func udpPacketsKeepTheirGoodLinesAndCountTheBad() {
        let engine = StatsdEngine(rules: [Self.rule()])
        let result = engine.record(packet: Array("api.latency:600|ms\nbad:1|q\nworse".utf8), at: Self.at(0))
        #expect(result.samples.count == 2)
        #expect(engine.stats.parseErrors == 1)
        #expect(engine.stats.recordedSamples == 1)
        #expect(engine.stats.ignoredSamples == 1)
    }

    @Test func summaryTemplates() {
        var rule = Self.rule(.p95, clear: 400)
        rule.summaryTemplate = "{host}: {metric} {aggregation} {value} {comparison} {threshold}/{clear} in {window} ({status}, {rule})"
        #expect(rule.summary(value: 812.25, host: "web-1", status: .firing)
            == "web-1: api.latency p95 812.25 > 500/400 in 1m (firing, api_latency)")
        #expect(Self.rule(.p95, window: .milliseconds(1500)).summary(value: 0.5, host: "h", status: .firing)
            == "p95 of api.latency is 0.5 (> 500) over 1500ms")
    }

    @Test(arguments: [
        (StatsdEngineTests.rule(clear: 600), "must not be above the threshold 500 for '>'"),
        (StatsdEngineTests.rule(.last, .less, 10, clear: 5), "must not be below the threshold 10 for '<'"),
        (StatsdEngineTests.rule(metric: "a*b"), "'*' may only end the metric name"),
        (StatsdEngineTests.rule(metric: "*"), "the metric is empty"),
        (StatsdEngineTests.rule(window: .zero), "the window must be longer than zero"),
        (StatsdEngineTests.rule(clearFor: .seconds(-1)), "'clear_for' must not be negative"),
        (StatsdEngineTests.rule(.last, .greater, .infinity), "the threshold must be a finite number"),
    ])
    func ruleProblems(rule: StatsdRule, problem: String) {
        #expect(rule.problems().contains { $0.contains(problem) }, "\(rule.problems())")
    }

    @Test func ruleProblemsForTemplatesAndNames() {
        var rule = Self.rule()
        #expect(rule.problems().isEmpty)
        rule.summaryTemplate = "{value} {vlaue}"
        rule.name = ""
        rule.hostTag = ""
        #expect(rule.problems().count == 3)
        #expect(rule.problems().last?.contains("the summary uses {vlaue}") == true)
    }
}
