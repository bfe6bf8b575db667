import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TeleOpsChat
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting

/// The routes of `buildRouter` with a scenario store, served on a real loopback port for one
/// test. `settings.host` is what the routes believe they are bound to (the review routes open
/// or close on it), while the socket itself is always on 127.0.0.1, so a test of the
/// off-loopback rules sends nothing off this machine.
struct ReviewServer {
    let base: String
    let client = CurlHTTPClient()

    static func with(
        store: any ScenarioStore, host: String = "127.0.0.1", review: ReviewSettings = ReviewSettings(),
        _ body: @Sendable (ReviewServer) async throws -> Void
    ) async throws {
        var settings = HTTPSettings(host: host, port: 0)
        settings.review = review
        try await withLoopbackHTTPServer(store: store, makeRouter: { intake, logger in
            buildRouter(settings: settings, sink: intake, decoders: [GenericAlertDecoder()], scenarios: store, logger: logger)
        }) { base in
            try await body(ReviewServer(base: base))
        }
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> TeleOpsChat.HTTPResponse {
        try await client.send(method: "GET", url: base + path, headers: headers)
    }

    func post(_ path: String, form: String, headers: [String: String] = [:]) async throws -> TeleOpsChat.HTTPResponse {
        var headers = headers
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return try await client.send(method: "POST", url: base + path, headers: headers, body: Data(form.utf8))
    }
}

extension TeleOpsChat.HTTPResponse {
    /// The `scenarios` of a list answer, by id.
    var scenarioIDs: [Int64] {
        ((json?["scenarios"] as? [[String: Any]]) ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
    }
}

/// A scenario log with something of everything, at fixed times:
///
/// | id | host · check | severity | source | opened | what happened |
/// |---|---|---|---|---|---|
/// | 1 | web-1 · disk_usage | critical | generic | 09:00 | ana: reply, `df -h /var`, ack, note, resolve after 42m |
/// | 2 | db-1 · load | warning | sensu | 10:00 | fired 3×, acknowledged by bob |
/// | 3 | web-2 · memory | error | generic | 11:00 | a summary with markup; a reply and a command output with markup |
/// | 4 | web-1 · disk_usage | critical | generic | 12:00 | fired again (follows #1) |
/// | 5 | api-1 · http_5xx | info | prometheus | 13:00 | open |
enum ReviewFixture {
    /// 2026-03-01T09:00:00Z.
    static let start = Date(timeIntervalSince1970: 1_772_355_600)
    static let markup = #"<script>alert("x")</script> <b>bold</b> & 'quoted'"#

    static func time(minutes: Double) -> Date { start.addingTimeInterval(minutes * 60) }

    static func seed(_ store: any ScenarioStore) async throws {
        func fire(
            _ host: String, _ check: String, _ severity: Severity, _ source: String, _ summary: String, at minutes: Double,
            labels: [String: String] = [:], details: JSONValue? = nil
        ) async throws {
            _ = try await store.ingest([Alert(
                source: source, host: host, check: check, severity: severity, status: .firing, summary: summary,
                labels: labels, details: details, receivedAt: time(minutes: minutes))]) { _, _, _ in [] }
        }
        func log(_ scenario: Int64, _ minutes: Double, _ actor: String, _ body: EventBody) async throws {
            try await store.append([NewEvent(scenarioID: scenario, at: time(minutes: minutes), actor: actor, body: body)], outbox: [])
        }
        try await fire("web-1", "disk_usage", .critical, "generic", "/var is 95% full", at: 0,
                       labels: ["team": "ops", "mountpoint": "/var"],
                       details: ["output": "CRITICAL: /var is 95% full", "thresholds": ["critical": 90], "history": [1, 2]])
        try await log(1, 0.01, "teleops", .notified(MessageRef(transport: "telegram", chat: "-100123", messageID: "77")))
        try await log(1, 2, "ana", .replyReceived(ReplyFacts(transport: "telegram", text: "run disk /var")))
        try await log(1, 2, "ana", .commandDispatched(DispatchFacts(taskID: "t-1", action: "disk", argv: ["df", "-h", "/var"], host: "web-1")))
        try await log(1, 2.05, "teleops", .commandFinished(TaskResult(
            taskID: "t-1", action: "disk", worker: "local-1", exitCode: 0, signal: nil, timedOut: false, durationMs: 3.1,
            output: "Filesystem Size Used Avail Use% Mounted on\n/dev/vda1 20G 19G 1G 95% /var\n", truncated: false)))
        try await log(1, 3, "ana", .acknowledged)
        try await log(1, 10, "ana", .note(NoteFacts(text: "rotated nginx logs")))
        try await log(1, 42, "ana", .resolved(NoteFacts(text: "freed 6 GiB")))

        try await fire("db-1", "load", .warning, "sensu", "load 12 on 4 cores", at: 60)
        try await fire("db-1", "load", .warning, "sensu", "load 14 on 4 cores", at: 65)
        try await fire("db-1", "load", .warning, "sensu", "load 15 on 4 cores", at: 70)
        try await log(2, 71, "bob", .acknowledged)

        try await fire("web-2", "memory", .error, "generic", markup, at: 120, labels: ["runbook": markup])
        try await log(3, 121, "carol", .replyReceived(ReplyFacts(transport: "slack", text: "note <i>look</i>")))
        try await log(3, 122, "teleops", .commandFinished(TaskResult(
            taskID: "t-2", action: "memory", worker: "local-2", exitCode: 1, signal: nil, timedOut: false, durationMs: 12,
            output: "<img src=x onerror=alert(1)>\n", truncated: true)))

        try await fire("web-1", "disk_usage", .critical, "generic", "/var is 97% full", at: 180)
        try await fire("api-1", "http_5xx", .info, "prometheus", "5xx rate 2%", at: 240)
    }
}
