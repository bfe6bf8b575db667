import Foundation
import TeleOpsTesting
import Testing
@testable import TeleOpsCore

@Suite struct SensuAlertDecoderTests {
    let decoder = SensuAlertDecoder()
    /// 2026-08-01T16:00:00Z: after every sample's times.
    let now = Date(timeIntervalSince1970: 1_785_600_000)

    func decode(_ body: String) throws -> [Alert] {
        try decoder.decode(Data(body.utf8), receivedAt: now)
    }

    func decode(_ event: JSONValue) throws -> [Alert] {
        try decoder.decode(JSONEncoder().encode(event), receivedAt: now)
    }

    // MARK: Reference samples

    struct Sample: Sendable, CustomTestStringConvertible {
        var file: String
        var host: String
        var check: String
        var severity: Severity
        var status: AlertStatus
        var fingerprint: String
        var summary: String
        var idempotencyKey: String?
        var labels: [String: String]
        var testDescription: String { file }
    }

    static let samples: [Sample] = [
        Sample(
            file: "sensu-go-event.json", host: "sensu-centos", check: "check_cpu", severity: .info, status: .resolved,
            fingerprint: "sensu|default|sensu-centos|check_cpu",
            summary: "CheckCPU TOTAL OK: total=0.4 user=0.2 nice=0.0 system=0.2 idle=99.6 iowait=0.0 irq=0.0 softirq=0.0 steal=0.0 guest=0.0 guest_nice=0.0",
            idempotencyKey: "sensu|3c3e68f6-6db7-40d3-9b84-4d61817ae559", labels: ["namespace": "default"]),
        Sample(
            file: "sensu-go-event-failing.DERIVED.json", host: "sensu-centos", check: "check_cpu", severity: .critical,
            status: .firing, fingerprint: "sensu|default|sensu-centos|check_cpu",
            summary: "CheckCPU TOTAL CRITICAL: total=97.1 user=90.2 nice=0.0 system=6.9 idle=2.9 iowait=0.0 irq=0.0 softirq=0.0 steal=0.0 guest=0.0 guest_nice=0.0",
            idempotencyKey: "sensu|3c3e68f6-6db7-40d3-9b84-4d61817ae559", labels: ["namespace": "default"]),
        Sample(
            file: "sensu-go-api-post-body.json", host: "server1", check: "server-health", severity: .critical, status: .firing,
            fingerprint: "sensu|default|server1|server-health", summary: "Server error", idempotencyKey: nil,
            labels: ["namespace": "default"]),
        Sample(
            file: "sensu-classic-handler-stdin.json", host: "client-01", check: "keepalive", severity: .critical,
            status: .firing, fingerprint: "sensu|client-01|keepalive",
            summary: "No keepalive sent from client for 230 seconds (>=180)",
            idempotencyKey: "sensu|ef6b87d2-1f89-439f-8bea-33881436ab90|2|create", labels: ["environment": "development"]),
        Sample(
            file: "sensu-classic-handler-stdin-resolve.DERIVED.json", host: "client-01", check: "keepalive",
            severity: .info, status: .resolved, fingerprint: "sensu|client-01|keepalive",
            summary: "Keepalive sent from client 5 seconds ago",
            idempotencyKey: "sensu|ef6b87d2-1f89-439f-8bea-33881436ab90|1|resolve", labels: ["environment": "development"]),
        Sample(
            file: "sensu-classic-api-events-array.json", host: "client-01", check: "keepalive", severity: .critical,
            status: .firing, fingerprint: "sensu|client-01|keepalive",
            summary: "No keepalive sent from client for 230 seconds (>=180)",
            idempotencyKey: "sensu|ef6b87d2-1f89-439f-8bea-33881436ab90|2|create", labels: ["environment": "development"]),
    ]

    @Test(arguments: samples)
    func decodesTheReferenceSample(_ sample: Sample) throws {
        let alerts = try decoder.decode(Fixtures.data("alerts/\(sample.file)"), receivedAt: now)
        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        #expect(alert.source == "sensu")
        #expect(alert.host == sample.host)
        #expect(alert.check == sample.check)
        #expect(alert.severity == sample.severity)
        #expect(alert.status == sample.status)
        #expect(alert.fingerprint == sample.fingerprint)
        #expect(alert.summary == sample.summary)
        #expect(alert.idempotencyKey == sample.idempotencyKey)
        #expect(alert.labels == sample.labels)
        #expect(alert.receivedAt == now)
    }

    @Test func everySensuFixtureDecodes() throws {
        let files = try Fixtures.files(in: "alerts").filter { $0.hasPrefix("alerts/sensu-") }
        #expect(files.count >= Self.samples.count)
        for file in files {
            #expect(try !decoder.decode(Fixtures.data(file), receivedAt: now).isEmpty, "\(file)")
        }
    }

    @Test func keepsTheGoEventFactsInDetails() throws {
        let alert = try #require(try decoder.decode(Fixtures.data("alerts/sensu-go-event.json"), receivedAt: now).first)
        let details = try #require(alert.details)
        #expect(details["flavour"] == "go")
        #expect(details["status"] == 0)
        #expect(details["state"] == "passing")
        #expect(details["occurrences"] == 5)
        #expect(details["namespace"] == "default")
        #expect(details["event_id"] == "3c3e68f6-6db7-40d3-9b84-4d61817ae559")
        #expect(details["timestamp"] == "2021-03-29T20:41:47Z")
        #expect(details["issued"] == "2021-03-29T20:41:41Z")
        #expect(details["executed"] == "2021-03-29T20:41:41Z")
        #expect(details["output"]?.stringValue?.hasSuffix("guest_nice=0.0\n") == true)
        #expect(details["output_truncated"] == nil)
        guard case .array(let history)? = details["history"] else { Issue.record("no history"); return }
        #expect(history.count == 5)
        #expect(history.last == ["status": 0, "executed": 1_617_050_501])
    }

    @Test func keepsTheClassicEventFactsInDetails() throws {
        let alert = try #require(try decoder.decode(Fixtures.data("alerts/sensu-classic-handler-stdin.json"), receivedAt: now).first)
        let details = try #require(alert.details)
        #expect(details["flavour"] == "classic")
        #expect(details["action"] == "create")
        #expect(details["status"] == 2)
        #expect(details["occurrences"] == 2)
        #expect(details["event_id"] == "ef6b87d2-1f89-439f-8bea-33881436ab90")
        #expect(details["history"] == ["0", "0", "1", "1", "2", "2"])
        #expect(details["timestamp"] == "2016-04-09T03:33:46Z")
        #expect(details["namespace"] == nil)
    }

    // MARK: Real-world variants

    @Test func decodesAnArrayOfGoEventsInOrder() throws {
        let alerts = try decoder.decode(Fixtures.data("alerts/sensu-go-events-array.variant.json"), receivedAt: now)
        #expect(alerts.map(\.host) == ["db-1", "db-2", "db-3"])

        // Labels of entity and check merged, the check's winning; the first non-blank output line.
        #expect(alerts[0].labels == ["team": "dba", "region": "eu-west", "tier": "1", "namespace": "production"])
        #expect(alerts[0].summary == "DISK WARNING - /var 87% used")
        #expect(alerts[0].severity == .warning)
        #expect(alerts[0].status == .firing)
        #expect(alerts[0].fingerprint == "sensu|production|db-1|check_disk")

        // Status 3 (UNKNOWN), flapping, empty output, no event namespace (the entity's is used), executed 0 (unset).
        #expect(alerts[1].severity == .error)
        #expect(alerts[1].status == .firing)
        #expect(alerts[1].labels == ["namespace": "production", "flapping": "true"])
        #expect(alerts[1].summary == "check_replication is UNKNOWN(3) on db-2")
        #expect(alerts[1].fingerprint == "sensu|production|db-2|check_replication")
        #expect(alerts[1].details?["executed"] == nil)
        #expect(alerts[1].details?["issued"] == "2021-03-29T20:40:41Z")

        // Status 127 (command not found), no namespace anywhere, no id.
        #expect(alerts[2].severity == .error)
        #expect(alerts[2].summary == "sh: check-backup: command not found")
        #expect(alerts[2].fingerprint == "sensu|default|db-3|check_backup")
        #expect(alerts[2].labels == [:])
        #expect(alerts[2].idempotencyKey == nil)
    }

    @Test func decodesGoAndClassicEventsInOneArray() throws {
        let go = try String(decoding: Fixtures.data("alerts/sensu-go-api-post-body.json"), as: UTF8.self)
        let classic = try String(decoding: Fixtures.data("alerts/sensu-classic-handler-stdin.json"), as: UTF8.self)
        let alerts = try decode("[\(go), \(classic), \(go)]")
        #expect(alerts.map(\.fingerprint) == [
            "sensu|default|server1|server-health", "sensu|client-01|keepalive", "sensu|default|server1|server-health",
        ])
    }

    @Test func anEmptyArrayHoldsNoAlerts() throws {
        #expect(try decode("[]").isEmpty)
    }

    @Test func decodesTheClassicFlappingVariant() throws {
        let alert = try #require(try decoder.decode(Fixtures.data("alerts/sensu-classic-flapping.variant.json"), receivedAt: now).first)
        #expect(alert.status == .firing)
        #expect(alert.severity == .critical)
        // `environment` is an object here: a free-form client attribute, left alone.
        #expect(alert.labels == ["flapping": "true"])
        #expect(alert.summary == "CRITICAL: nginx is not running")
        #expect(alert.idempotencyKey == "sensu|5b1f0a3e-2c7d-4e8f-9a6b-1c2d3e4f5a6b|7|flapping")
        #expect(alert.details?["action"] == "flapping")
    }

    @Test func goMinimalEventHasDefaults() throws {
        let alert = try #require(try decode(#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"}}}"#).first)
        #expect(alert.status == .resolved)
        #expect(alert.severity == .info)
        #expect(alert.summary == "c is OK on h")
        #expect(alert.fingerprint == "sensu|default|h|c")
        #expect(alert.labels == [:])
        #expect(alert.idempotencyKey == nil)
        #expect(alert.details == ["flavour": "go", "status": 0, "output": ""])
    }

    @Test func classicMinimalEventHasDefaults() throws {
        let alert = try #require(try decode(#"{"client":{"name":"h"},"check":{"name":"c","status":1}}"#).first)
        #expect(alert.status == .firing)
        #expect(alert.severity == .warning)
        #expect(alert.summary == "c is WARNING on h")
        #expect(alert.fingerprint == "sensu|h|c")
        #expect(alert.idempotencyKey == nil)
        #expect(alert.details?["action"] == "create")
    }

    @Test func classicKeyDefaultsOccurrencesToOne() throws {
        let alert = try #require(try decode(#"{"id":"e1","client":{"name":"h"},"check":{"name":"c","status":2}}"#).first)
        #expect(alert.idempotencyKey == "sensu|e1|1|create")
    }

    @Test func classicResolveActionResolvesWhateverTheStatus() throws {
        let alert = try #require(try decode(#"{"action":"resolve","client":{"name":"h"},"check":{"name":"c","status":2}}"#).first)
        #expect(alert.status == .resolved)
    }

    @Test func goStatusesMapToSeverities() throws {
        for (status, severity, word) in [(0, Severity.info, "OK"), (1, .warning, "WARNING"), (2, .critical, "CRITICAL"),
                                         (3, .error, "UNKNOWN(3)"), (127, .error, "UNKNOWN(127)")] {
            let body = #"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"status":\#(status)}}"#
            let alert = try #require(try decode(body).first)
            #expect(alert.severity == severity, "status \(status)")
            #expect(alert.status == (status == 0 ? .resolved : .firing), "status \(status)")
            #expect(alert.summary == "c is \(word) on h")
        }
    }

    @Test func goFlappingStateAddsTheLabel() throws {
        let body = #"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"status":0,"state":"flapping"}}"#
        let alert = try #require(try decode(body).first)
        #expect(alert.labels == ["flapping": "true"])
        #expect(alert.status == .resolved)
    }

    @Test func readsUnicodeNamesAndOutput() throws {
        let event: JSONValue = [
            "entity": ["metadata": ["name": "сервер-1", "namespace": "prod-東京"]],
            "check": ["metadata": ["name": "проверка диска"], "status": 2,
                      "output": "  \r\n\n\t  Диск заполнен на 95% 💥 — /var  \r\nвторая строка"],
            "id": "e-ü",
        ]
        let alert = try #require(try decode(event).first)
        #expect(alert.host == "сервер-1")
        #expect(alert.check == "проверка диска")
        #expect(alert.summary == "Диск заполнен на 95% 💥 — /var")
        #expect(alert.fingerprint == "sensu|prod-東京|сервер-1|проверка диска")
        #expect(alert.idempotencyKey == "sensu|e-ü")
    }

    @Test func boundsAHugeOutput() throws {
        // 1 MB of output on one line, made of multi-byte characters so the cut must find a boundary.
        let output = String(repeating: "é🚨x", count: 1_000_000 / 7 + 1)
        let event: JSONValue = [
            "entity": ["metadata": ["name": "h"]], "check": ["metadata": ["name": "c"], "status": 2, "output": .string(output)],
        ]
        let alert = try #require(try decode(event).first)
        #expect(alert.summary.count == SensuAlertDecoder.maxSummaryLength)
        #expect(alert.summary == String(output.prefix(SensuAlertDecoder.maxSummaryLength - 1)) + "…")
        let kept = try #require(alert.details?["output"]?.stringValue)
        #expect(kept.utf8.count <= SensuAlertDecoder.maxOutputBytes)
        #expect(kept.utf8.count > SensuAlertDecoder.maxOutputBytes - 8)
        #expect(kept.hasSuffix("…"))
        #expect(output.hasPrefix(kept.dropLast()))
        #expect(alert.details?["output_truncated"] == true)
    }

    @Test func aHugeOutputWithManyLinesSummarisesItsFirstLine() throws {
        let output = "PROCS CRITICAL: 4096 processes\n" + String(repeating: "pid 1234 /usr/bin/worker --flag\n", count: 32_768)
        let event: JSONValue = [
            "client": ["name": "h"], "check": ["name": "c", "status": 2, "output": .string(output)],
        ]
        let alert = try #require(try decode(event).first)
        #expect(alert.summary == "PROCS CRITICAL: 4096 processes")
        #expect(alert.details?["output"]?.stringValue?.utf8.count ?? 0 <= SensuAlertDecoder.maxOutputBytes)
    }

    @Test func anOutputOfBlankLinesFallsBackToTheStatus() throws {
        let event: JSONValue = [
            "client": ["name": "h"], "check": ["name": "c", "status": 1, "output": " \n\t\n  "],
        ]
        #expect(try decode(event).first?.summary == "c is WARNING on h")
    }

    @Test func anEventNamespaceWinsOverALabel() throws {
        let body = #"{"metadata":{"namespace":"ops"},"entity":{"metadata":{"name":"h","namespace":"other","labels":{"namespace":"x"}}},"check":{"metadata":{"name":"c"},"status":2}}"#
        let alert = try #require(try decode(body).first)
        #expect(alert.labels == ["namespace": "ops"])
        #expect(alert.fingerprint == "sensu|ops|h|c")
    }

    // MARK: Errors

    @Test(arguments: [
        (#"{"entity":"#, "", "not valid JSON"),
        ("42", "", "found number"),
        ("[7]", "[0]", "expected an object, found number"),
        (#"{"check":{"name":"c"}}"#, "entity", "is required: a Sensu Go event has an `entity`"),
        (#"{"entity":{},"check":{"metadata":{"name":"c"}}}"#, "entity.metadata", "is required"),
        (#"{"entity":{"metadata":{}},"check":{"metadata":{"name":"c"}}}"#, "entity.metadata.name", "is required"),
        (#"{"entity":{"metadata":{"name":" "}},"check":{"metadata":{"name":"c"}}}"#, "entity.metadata.name", "must not be empty"),
        (#"{"entity":{"metadata":{"name":"h"}}}"#, "check", "is required"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"status":"2"}}"#, "check.status", "expected a number, found string"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"status":-1}}"#, "check.status", "expected an integer from 0 to 4294967295"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"status":2.5}}"#, "check.status", "expected an integer"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"output":5}}"#, "check.output", "expected a string, found number"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"state":true}}"#, "check.state", "expected a string, found boolean"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"history":{}}}"#, "check.history", "expected an array"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"occurrences":"5"}}"#, "check.occurrences", "expected a number"),
        (#"{"entity":{"metadata":{"name":"h","labels":{"team":1}}},"check":{"metadata":{"name":"c"}}}"#, "entity.metadata.labels.team", "expected a string"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c","labels":[]}}}"#, "check.metadata.labels", "expected an object of strings"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"}},"metadata":{"namespace":7}}"#, "metadata.namespace", "expected a string"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"}},"id":42}"#, "id", "expected a string"),
        // Milliseconds sent as seconds.
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"}},"timestamp":1617050507000}"#, "timestamp", "in the future; check the sender's clock and units"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"executed":86400}}"#, "check.executed", "is before 2000-01-01"),
        (#"{"entity":{"metadata":{"name":"h"}},"check":{"metadata":{"name":"c"},"issued":"now"}}"#, "check.issued", "expected a number"),
        (#"{"client":{"name":"h"},"check":{}}"#, "check.name", "is required"),
        (#"{"client":{},"check":{"name":"c"}}"#, "client.name", "is required"),
        (#"{"client":"h","check":{"name":"c"}}"#, "client", "expected an object, found string"),
        (#"{"client":{"name":"h"},"check":{"name":"c"},"action":"open"}"#, "action", "'open' is not one of: create, resolve, flapping"),
        (#"{"client":{"name":"h"},"check":{"name":"c"},"occurrences":-2}"#, "occurrences", "expected an integer from 0"),
        (#"[{"client":{"name":"h"},"check":{"name":"c"}},{"client":{"name":"h"},"check":{}}]"#, "[1].check.name", "is required"),
        (#"[{"client":{"name":"h"},"check":{"name":"c"}},{"client":{"name":"h"},"check":{"name":"c"}},{"entity":{"metadata":{}}}]"#, "[2].entity.metadata.name", "is required"),
    ])
    func namesTheFieldThatIsWrong(body: String, field: String, message: String) {
        #expect {
            try decoder.decode(Data(body.utf8), receivedAt: now)
        } throws: { error in
            guard let error = error as? AlertDecodeError else { return false }
            return error.field == field && error.message.contains(message)
        }
    }

    @Test func rejectsAnOverLongHost() {
        let body = #"{"client":{"name":"\#(String(repeating: "h", count: SensuAlertDecoder.maxNameLength + 1))"},"check":{"name":"c"}}"#
        #expect(throws: AlertDecodeError(field: "client.name", message: "is longer than 1024 characters")) {
            try decoder.decode(Data(body.utf8), receivedAt: now)
        }
    }
}
