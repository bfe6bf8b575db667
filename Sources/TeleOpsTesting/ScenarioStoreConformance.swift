import Foundation
import Synchronization
import TeleOpsCore

/// The behaviour every `ScenarioStore` must have, as named cases that any test runner can run.
///
/// Each case gets a fresh, empty store and throws `ConformanceFailure` (case name, what was
/// checked, expected and actual) when the store misbehaves. Run them table-driven:
///
/// ```swift
/// @Test(arguments: ScenarioStoreConformance.cases.map(\.name))
/// func conformance(_ name: String) async throws {
///     try await ScenarioStoreConformance.run(name, on: MemoryScenarioStore())
/// }
/// ```
public enum ScenarioStoreConformance {
    /// One named behaviour.
    public struct Case: Sendable {
        public let name: String
        public let run: @Sendable (any ScenarioStore) async throws -> Void

        init(_ name: String, _ body: @escaping @Sendable (any ScenarioStore, Check) async throws -> Void) {
            self.name = name
            self.run = { store in try await body(store, Check(caseName: name)) }
        }
    }

    /// Every case, in a stable order; names are unique.
    public static let cases: [Case] = ingestCases + lifecycleCases + appendCases + outboxCases + queryCases + chatCases
        + historyCases

    /// Runs the case called `name` on `store` (which should be empty).
    /// Throws `ConformanceFailure` for an unknown name, so a renamed case cannot pass silently.
    public static func run(_ name: String, on store: any ScenarioStore) async throws {
        guard let found = cases.first(where: { $0.name == name }) else {
            throw ConformanceFailure(
                caseName: name, what: "case name", expected: "one of \(cases.map(\.name))", actual: name, location: "")
        }
        try await found.run(store)
    }
}

/// A conformance case found the store misbehaving.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    public var caseName: String
    /// What was checked.
    public var what: String
    public var expected: String
    public var actual: String
    /// `file:line` of the check in the suite.
    public var location: String

    public var description: String {
        "[\(caseName)] \(what): expected \(expected), got \(actual)" + (location.isEmpty ? "" : " (\(location))")
    }
}

/// The checks a case makes; each throws `ConformanceFailure` naming the case.
struct Check: Sendable {
    let caseName: String

    func fail(_ what: String, expected: String, actual: String, _ file: StaticString, _ line: UInt) -> ConformanceFailure {
        ConformanceFailure(caseName: caseName, what: what, expected: expected, actual: actual, location: "\(file):\(line)")
    }

    func equal<T: Equatable>(
        _ actual: T, _ expected: T, _ what: String, file: StaticString = #fileID, line: UInt = #line
    ) throws {
        guard actual == expected else {
            throw fail(what, expected: String(describing: expected), actual: String(describing: actual), file, line)
        }
    }

    func isTrue(_ condition: Bool, _ what: String, file: StaticString = #fileID, line: UInt = #line) throws {
        guard condition else { throw fail(what, expected: "true", actual: "false", file, line) }
    }

    func unwrap<T>(_ value: T?, _ what: String, file: StaticString = #fileID, line: UInt = #line) throws -> T {
        guard let value else { throw fail(what, expected: "a value", actual: "nil", file, line) }
        return value
    }

    /// `body` must throw a `ScenarioStoreError` with `code` whose message mentions `mentioning`.
    func throwsStoreError(
        _ code: ScenarioStoreError.Code, mentioning: String, _ what: String,
        file: StaticString = #fileID, line: UInt = #line, _ body: () async throws -> Void
    ) async throws {
        do {
            try await body()
        } catch let error as ScenarioStoreError {
            try equal(error.code, code, "\(what): error code", file: file, line: line)
            try isTrue(error.message.contains(mentioning), "\(what): message \"\(error.message)\" mentions \(mentioning)",
                file: file, line: line)
            return
        } catch {
            throw fail(what, expected: "ScenarioStoreError \(code)", actual: "\(type(of: error)): \(error)", file, line)
        }
        throw fail(what, expected: "ScenarioStoreError \(code)", actual: "no error", file, line)
    }
}

/// Alerts, times and composers the cases share.
enum Fixture {
    /// A time with a sub-millisecond part, so every case also checks truncation.
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000.123_456)

    static func time(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    static func alert(
        _ check: String = "disk", host: String = "web-1", severity: Severity = .warning,
        status: AlertStatus = .firing, at seconds: Double = 0, summary: String? = nil
    ) -> Alert {
        Alert(
            source: "generic", host: host, check: check, severity: severity, status: status,
            summary: summary ?? "\(check) on \(host) is \(severity.rawValue)", labels: ["team": "ops"],
            details: ["used_pct": 95], receivedAt: time(seconds))
    }

    static let noDrafts: IngestComposer = { _, _, _ in [] }
}

/// Records what `compose` was called with.
final class ComposeRecorder: Sendable {
    struct Call: Sendable {
        var alert: Alert
        var outcome: IngestOutcome
        var scenario: Scenario?
    }

    private let calls = Mutex<[Call]>([])
    private let drafts: @Sendable (Alert, IngestOutcome, Scenario?) -> [OutboxDraft]

    init(drafts: @escaping @Sendable (Alert, IngestOutcome, Scenario?) -> [OutboxDraft] = { _, _, _ in [] }) {
        self.drafts = drafts
    }

    var recorded: [Call] { calls.withLock { $0 } }

    var compose: IngestComposer {
        { alert, outcome, scenario in
            self.calls.withLock { $0.append(Call(alert: alert, outcome: outcome, scenario: scenario)) }
            return self.drafts(alert, outcome, scenario)
        }
    }
}

extension ScenarioStore {
    /// Ingests one alert with no drafts and returns its outcome.
    func ingestOne(_ alert: Alert, file: StaticString = #fileID, line: UInt = #line) async throws -> IngestOutcome {
        let outcomes = try await ingest([alert], compose: Fixture.noDrafts)
        guard outcomes.count == 1 else {
            throw ConformanceFailure(
                caseName: "-", what: "ingest of one alert", expected: "1 outcome", actual: "\(outcomes.count)",
                location: "\(file):\(line)")
        }
        return outcomes[0]
    }
}
