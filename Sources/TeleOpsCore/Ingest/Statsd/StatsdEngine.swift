import Foundation
import Synchronization

/// Keeps recent statsd samples per rule and host, and turns them into firing and resolved
/// alerts when `evaluate` is called.
///
/// ```swift
/// let engine = StatsdEngine(rules: [rule])
/// engine.record(StatsdParser.parse(packet).samples, at: Date())
/// let alerts = engine.evaluate(at: Date())        // only the changes
/// do { _ = try await sink.accept(alerts) } catch { engine.requeue(alerts) }
/// ```
///
/// - Series: each rule keeps one series per host (the rule's host tag). A series holds the
///   samples of the rule's window, at most `maxSamplesPerSeries` (the oldest go first). At
///   most `maxSeries` series exist; samples of further series are dropped and counted
///   (`stats`). A series that is empty and neither firing nor pending is forgotten.
/// - Gauges: the engine keeps each matched gauge's current value per name and tag set, so a
///   signed value (`+4`) changes it; a delta for a gauge it does not hold sets it (Etsy
///   statsd's rule). Gauge series record the gauge's value after each update. At most
///   `maxSeries` gauges are held, and one not updated for `gaugeIdleLimit` is forgotten.
/// - No data: a window without samples is the value 0 for `count`, `sum` and `rate` (so "fewer
///   than 1 heartbeat in 5m" can fire), and no data for the other aggregations: no alert
///   either way, a firing series stays firing (until data clears it), and a pending `for`
///   starts again when data returns, since the condition was not seen to hold meanwhile (so
///   does a pending resolve: the value was not seen on the safe side either).
/// - Delivery: `evaluate` returns each change once. When the sink cannot take them (the
///   store is briefly unavailable), the caller hands them back with `requeue`, and the next
///   `evaluate` returns them again, first and in order, so a firing alert is not lost while
///   the process runs. At most `maxRequeuedAlerts` wait; beyond that the oldest are dropped
///   and counted. A retry after a store timeout that did commit repeats a firing alert
///   (the scenario counts a repeat) or a resolve (unmatched): both harmless.
/// - Restart: the engine's state is in memory only, so at start the caller seeds it with the
///   series the store says are firing (`seedFiring`, `seed(from:at:)`): without that, a
///   series whose value came back to normal while the process was down would never resolve
///   its scenario. A seeded series resolves as any firing series does, but not before one
///   full window has passed since the seed, since until then its window holds only the
///   samples since the restart (a `count` over half a window would look like a recovery).
///   With no data at all it stays firing, as a firing series without data does.
public final class StatsdEngine: Sendable {
    /// What the engine has done and dropped since it started, and what it holds now.
    public struct Stats: Sendable, Equatable {
        /// Series held now.
        public var series = 0
        /// Gauges held now.
        public var gauges = 0
        /// Alerts handed back with `requeue` and not yet returned again.
        public var requeuedAlerts = 0
        /// Samples that matched at least one rule.
        public var recordedSamples = 0
        /// Samples no rule is about.
        public var ignoredSamples = 0
        /// New series refused because `maxSeries` were held (each counted once per evaluation).
        public var droppedSeries = 0
        /// Samples not recorded because their series or gauge could not be created.
        public var droppedSamples = 0
        /// The oldest samples of full series, pushed out by newer ones.
        public var overwrittenSamples = 0
        /// Bad lines, over UDP and HTTP.
        public var parseErrors = 0
        /// Requeued alerts dropped because more than `maxRequeuedAlerts` waited.
        public var droppedAlerts = 0

        public init() {}
    }

    /// Samples a series keeps, however long its window.
    public static let maxSamplesPerSeries = 4_000
    /// Alerts that may wait for a sink that failed.
    public static let maxRequeuedAlerts = 10_000
    /// A gauge not updated for this long is forgotten (and a later delta sets it).
    public static let gaugeIdleLimit: Duration = .seconds(24 * 3600)

    public let rules: [StatsdRule]
    public let maxSeries: Int
    /// Rule indexes by exact metric name, and the prefix rules.
    private let exactRules: [String: [Int]]
    private let prefixRules: [Int]
    private let state = Mutex(State())

    /// `rules` should have passed `StatsdRule.problems()` and have distinct names.
    public init(rules: [StatsdRule], maxSeries: Int = 1_000) {
        self.rules = rules
        self.maxSeries = maxSeries
        var exact: [String: [Int]] = [:]
        for (index, rule) in rules.enumerated() where !rule.isPrefix { exact[rule.metric, default: []].append(index) }
        exactRules = exact
        prefixRules = rules.indices.filter { rules[$0].isPrefix }
    }

    public convenience init(settings: StatsdSettings) {
        self.init(rules: settings.rules, maxSeries: settings.maxSeries)
    }

    public var stats: Stats {
        state.withLock { state in
            var stats = state.stats
            stats.series = state.series.count
            stats.gauges = state.gauges.count
            stats.requeuedAlerts = state.requeued.count
            return stats
        }
    }

    // MARK: Intake

    /// Records the samples the rules are about; the rest are only counted.
    public func record(_ samples: [StatsdSample], at date: Date) {
        guard !samples.isEmpty else { return }
        let now = date.timeIntervalSinceReferenceDate
        state.withLock { state in
            for sample in samples { record(sample, at: now, into: &state) }
        }
    }

    /// One UDP packet: records the samples of its good lines and counts the bad ones, which
    /// the result lists for logging.
    public func record(packet: some Collection<UInt8>, at date: Date) -> StatsdParseResult {
        let result = StatsdParser.parse(packet)
        record(result.samples, at: date)
        if result.rejectedLines > 0 { countParseErrors(result.rejectedLines) }
        return result
    }

    /// One HTTP body of statsd lines, all or nothing: a bad line rejects the whole body
    /// (`field` names the line: `line 3`) and nothing is recorded. Returns the number of
    /// samples read, including those no rule is about. Alerts follow at the next evaluation,
    /// not in the request.
    public func ingest(lines body: Data, at date: Date) throws(AlertDecodeError) -> Int {
        let result = StatsdParser.parse(body)
        if let error = result.errors.first {
            countParseErrors(result.rejectedLines)
            throw AlertDecodeError(field: "line \(error.line)", message: "\(error.message) in '\(error.text)'")
        }
        guard !result.samples.isEmpty else { throw AlertDecodeError(field: "", message: "the body holds no statsd lines") }
        record(result.samples, at: date)
        return result.samples.count
    }

    // MARK: Restart

    /// Marks the series of the rule named `rule` for `host` as firing, as it was before a
    /// restart (the store has its scenario open), so it resolves when its value clears and
    /// does not fire again. It cannot resolve before one window has passed since `date`.
    /// False when no rule has that name (the rule was removed or renamed since the scenario
    /// opened) or when `maxSeries` series are held.
    @discardableResult
    public func seedFiring(rule name: String, host: String, at date: Date) -> Bool {
        guard let index = rules.firstIndex(where: { $0.name == name }) else { return false }
        let key = SeriesKey(rule: index, host: host)
        let now = date.timeIntervalSinceReferenceDate
        return state.withLock { state in
            if state.series[key] == nil {
                guard state.series.count < maxSeries else { return false }
                state.series[key] = Series(tags: nil)
            }
            state.series[key]!.seedFiring(at: now)
            return true
        }
    }

    private func countParseErrors(_ count: Int) {
        state.withLock { $0.stats.parseErrors += count }
    }

    private func record(_ sample: StatsdSample, at now: Double, into state: inout State) {
        var matching: [Int] = []
        for index in exactRules[sample.name] ?? [] where rules[index].matches(sample) { matching.append(index) }
        for index in prefixRules where rules[index].matches(sample) { matching.append(index) }
        guard !matching.isEmpty else {
            state.stats.ignoredSamples += 1
            return
        }
        let point: Point
        switch sample.value {
        case .member(let member):
            point = Point(at: now, value: 0, weight: 0, member: member)
        case .number(let value) where sample.type == .gauge, .delta(let value) where sample.type == .gauge:
            guard let gauge = state.updateGauge(sample, by: value, at: now, limit: maxSeries) else {
                state.stats.droppedSamples += matching.count
                return
            }
            point = Point(at: now, value: gauge, weight: 1, member: nil)
        case .number(let value), .delta(let value):
            let rate = sample.sampleRate > 0 && sample.sampleRate <= 1 ? sample.sampleRate : 1
            point = Point(at: now, value: value, weight: 1 / rate, member: nil)
        }
        state.stats.recordedSamples += 1
        for index in matching {
            state.append(point, to: SeriesKey(rule: index, host: rules[index].host(of: sample)), tags: sample.tags, limit: maxSeries)
        }
    }

    // MARK: Evaluation

    /// Evaluates every series at `date` and returns what changed: a firing alert for each
    /// series that starts firing, a resolved alert for each that clears, after any alerts
    /// handed back with `requeue`. Changes come in rule order, then by host.
    public func evaluate(at date: Date) -> [Alert] {
        let now = date.timeIntervalSinceReferenceDate
        return state.withLock { state in
            var changes: [(key: SeriesKey, alert: Alert)] = []
            var forgotten: [SeriesKey] = []
            var index = state.series.startIndex
            while index != state.series.endIndex {
                let key = state.series.keys[index]
                let rule = rules[key.rule]
                if let change = state.series.values[index].evaluate(rule, at: now) {
                    let tags = state.series.values[index].tags ?? [:]
                    changes.append((key, alert(for: rule, host: key.host, change: change, tags: tags, at: date)))
                }
                if state.series.values[index].isIdle { forgotten.append(key) }
                state.series.formIndex(after: &index)
            }
            for key in forgotten { state.series[key] = nil }
            state.refused.removeAll(keepingCapacity: true)
            let idleLimit = Self.gaugeIdleLimit.secondsValue
            if state.gauges.values.contains(where: { now - $0.updated > idleLimit }) {
                state.gauges = state.gauges.filter { now - $0.value.updated <= idleLimit }
            }
            changes.sort { ($0.key.rule, $0.key.host) < ($1.key.rule, $1.key.host) }
            let alerts = state.requeued + changes.map(\.alert)
            state.requeued = []
            return alerts
        }
    }

    /// Hands back alerts the sink could not take; the next `evaluate` returns them first.
    public func requeue(_ alerts: [Alert]) {
        guard !alerts.isEmpty else { return }
        state.withLock { state in
            state.requeued = alerts + state.requeued
            let overflow = state.requeued.count - Self.maxRequeuedAlerts
            if overflow > 0 {
                state.requeued.removeFirst(overflow)
                state.stats.droppedAlerts += overflow
            }
        }
    }

    private func alert(for rule: StatsdRule, host: String, change: Change, tags: [String: String], at date: Date) -> Alert {
        var labels = tags
        labels["rule"] = rule.name
        labels["metric"] = rule.metric
        labels["aggregation"] = rule.aggregation.rawValue
        let details: JSONValue = .object([
            "value": Self.json(change.value),
            "threshold": Self.json(rule.threshold),
            "clear_threshold": Self.json(rule.clearThreshold),
            "window_seconds": Self.json(rule.window.secondsValue),
            "for_seconds": Self.json(rule.forDuration.secondsValue),
            "clear_for_seconds": Self.json(rule.effectiveClearFor.secondsValue),
            "comparison": .string(rule.comparison.rawValue),
        ])
        return Alert(
            source: "statsd", host: host, check: rule.name, severity: rule.severity, status: change.status,
            summary: rule.summary(value: change.value, host: host, status: change.status), labels: labels,
            details: details, receivedAt: date)
    }

    /// A number for the alert details; JSON has no infinity (a sum can overflow).
    private static func json(_ value: Double) -> JSONValue {
        value.isFinite ? .number(value) : .string("\(value)")
    }
}

// MARK: - State

private struct SeriesKey: Hashable {
    var rule: Int
    var host: String
}

private struct GaugeKey: Hashable {
    var name: String
    var tags: [String: String]
}

private struct Gauge {
    var value: Double
    var updated: Double
}

/// One sample as a series keeps it: seconds since the reference date, the value, the events
/// it stands for (1 / sample rate), or a set member.
private struct Point {
    var at: Double
    var value: Double
    var weight: Double
    var member: String?
}

private struct Change {
    var status: AlertStatus
    var value: Double
}

private struct State {
    var series: [SeriesKey: Series] = [:]
    var gauges: [GaugeKey: Gauge] = [:]
    /// Series refused since the last evaluation, so each is counted once.
    var refused: Set<SeriesKey> = []
    var requeued: [Alert] = []
    var stats = StatsdEngine.Stats()

    /// The gauge's value after the sample; nil when it is new and `limit` gauges are held.
    mutating func updateGauge(_ sample: StatsdSample, by value: Double, at now: Double, limit: Int) -> Double? {
        let key = GaugeKey(name: sample.name, tags: sample.tags)
        if var gauge = gauges[key] {
            if case .delta = sample.value { gauge.value += value } else { gauge.value = value }
            gauge.updated = now
            gauges[key] = gauge
            return gauge.value
        }
        guard gauges.count < limit else { return nil }
        gauges[key] = Gauge(value: value, updated: now)
        return value
    }

    mutating func append(_ point: Point, to key: SeriesKey, tags: [String: String], limit: Int) {
        if series[key] == nil {
            guard series.count < limit else {
                if refused.count < limit, refused.insert(key).inserted { stats.droppedSeries += 1 }
                stats.droppedSamples += 1
                return
            }
            series[key] = Series(tags: tags)
        }
        if series[key]!.append(point, tags: tags) { stats.overwrittenSamples += 1 }
    }
}

private struct Series {
    var points = PointRing()
    /// The tags every sample of the series carried, for the alert's labels; nil for a series
    /// seeded at a restart that has had no sample since.
    var tags: [String: String]?
    /// When the condition started to hold, while it holds and the series is not firing yet.
    var breachingSince: Double?
    /// When the value went past the clear threshold, while it stays there and the series is
    /// firing: it resolves once this is `effectiveClearFor` old.
    var clearingSince: Double?
    var firing = false
    /// For a series seeded as firing at a restart: when. It does not resolve until one
    /// window has passed since, as its window held no samples before.
    var seededAt: Double?

    init(tags: [String: String]?) {
        self.tags = tags
    }

    mutating func seedFiring(at now: Double) {
        firing = true
        breachingSince = nil
        clearingSince = nil
        seededAt = now
    }

    var isIdle: Bool { points.isEmpty && !firing && breachingSince == nil }

    /// Appends; true when the oldest sample was pushed out.
    mutating func append(_ point: Point, tags sampleTags: [String: String]) -> Bool {
        if let current = tags {
            if current.contains(where: { sampleTags[$0.key] != $0.value }) {
                tags = current.filter { sampleTags[$0.key] == $0.value }
            }
        } else {
            tags = sampleTags
        }
        return points.append(point, capacity: StatsdEngine.maxSamplesPerSeries)
    }

    /// Moves the window to `now` and applies the rule; returns the change, if any.
    mutating func evaluate(_ rule: StatsdRule, at now: Double) -> Change? {
        let window = rule.window.secondsValue
        points.removeOlder(than: now - window)
        guard let value = aggregate(rule.aggregation, window: window) else {
            // No data: a firing series stays firing; neither a pending firing nor a pending
            // resolve can be said to hold on.
            breachingSince = nil
            clearingSince = nil
            return nil
        }
        if firing {
            guard rule.clears(value) else {
                clearingSince = nil
                return nil
            }
            let since = clearingSince ?? now
            let windowFilled = seededAt.map { now - $0 >= window } ?? true
            guard now - since >= rule.effectiveClearFor.secondsValue, windowFilled else {
                clearingSince = since
                return nil
            }
            clearingSince = nil
            seededAt = nil
            firing = false
            return Change(status: .resolved, value: value)
        }
        guard rule.breaches(value) else {
            breachingSince = nil
            return nil
        }
        let since = breachingSince ?? now
        guard now - since >= rule.forDuration.secondsValue else {
            breachingSince = since
            return nil
        }
        breachingSince = nil
        firing = true
        return Change(status: .firing, value: value)
    }

    /// The window's value; nil for no data. See `StatsdRule.Aggregation`.
    func aggregate(_ aggregation: StatsdRule.Aggregation, window: Double) -> Double? {
        var events = 0.0
        var sum = 0.0
        var values: [Double] = []
        var members: Set<String> = []
        let keepsValues = ![.count, .sum, .rate, .avg].contains(aggregation)
        for point in points.elements {
            if let member = point.member {
                if aggregation == .count { members.insert(member) }
                continue
            }
            events += point.weight
            sum += point.value * point.weight
            if keepsValues { values.append(point.value) }
        }
        switch aggregation {
        case .count: return events + Double(members.count)
        case .sum: return sum
        case .rate: return sum / window
        case .avg: return events > 0 ? sum / events : nil
        case .min: return values.min()
        case .max: return values.max()
        case .last: return values.last
        case .p50: return Self.percentile(50, of: values)
        case .p90: return Self.percentile(90, of: values)
        case .p95: return Self.percentile(95, of: values)
        case .p99: return Self.percentile(99, of: values)
        }
    }

    /// Nearest rank: the smallest value at least `percent`% of the values are at or below.
    static func percentile(_ percent: Double, of values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let rank = Int((percent / 100 * Double(values.count)).rounded(.up))
        return values.sorted()[max(rank, 1) - 1]
    }
}

/// A series' samples, oldest first, bounded by count: a full ring overwrites its oldest.
private struct PointRing {
    private var storage: [Point] = []
    private var start = 0
    private var count = 0

    var isEmpty: Bool { count == 0 }

    var elements: some Sequence<Point> {
        let (storage, start, count) = (storage, start, count)
        return (0..<count).lazy.map { storage[(start + $0) % storage.count] }
    }

    /// Appends; true when the ring was full and its oldest point was overwritten.
    mutating func append(_ point: Point, capacity: Int) -> Bool {
        if count == capacity {
            storage[start] = point
            start = (start + 1) % capacity
            return true
        }
        // Until the storage reaches `capacity`, the points end at its end.
        if storage.count < capacity {
            storage.append(point)
        } else {
            storage[(start + count) % capacity] = point
        }
        count += 1
        return false
    }

    /// Drops the points at or before `cutoff` (points are appended in time order).
    mutating func removeOlder(than cutoff: Double) {
        while count > 0, storage[start].at <= cutoff {
            start = (start + 1) % storage.count
            count -= 1
        }
        if count == 0, !storage.isEmpty {
            storage = []
            start = 0
        }
    }
}
