import Foundation
import TeleOpsChat
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
import Testing

/// `GET /v1/scenarios` and `GET /v1/scenarios/{id}` over real HTTP, on the `ReviewFixture` log.
@Suite struct ReviewAPITests {
    @Test func listIsNewestFirstWithSnakeCaseKeysAndUTCTimes() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            let response = try await server.get("/v1/scenarios")
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/json; charset=utf-8")
            #expect(response.scenarioIDs == [5, 4, 3, 2, 1])
            let json = try #require(response.json)
            #expect(json.keys.contains("next_before") && json["next_before"] is NSNull, "null at the end, not missing")
            let scenarios = try #require(json["scenarios"] as? [[String: Any]])
            let first = try #require(scenarios.last)
            #expect(Set(first.keys) == [
                "id", "fingerprint", "source", "host", "check", "severity", "summary", "status", "occurrences", "opened_at",
                "updated_at", "resolved_at", "acknowledged_by", "previous_id", "silenced_until",
            ])
            #expect(first["opened_at"] as? String == "2026-03-01T09:00:00.000Z")
            #expect(first["resolved_at"] as? String == "2026-03-01T09:42:00.000Z")
            #expect(first["acknowledged_by"] as? String == "ana")
            #expect(scenarios.first?["resolved_at"] is NSNull)
            #expect((scenarios[1]["previous_id"] as? NSNumber)?.int64Value == 1)
        }
    }

    @Test(arguments: [
        ("status=resolved", [1]),
        ("status=acknowledged", [2]),
        ("status=OPEN", [5, 4, 3]),
        ("host=web-1", [4, 1]),
        ("check=load", [2]),
        ("source=sensu", [2]),
        ("severity=critical", [4, 1]),
        ("engineer=ana", [1]),
        ("engineer=bob", [2]),
        ("since=2026-03-01T11:00:00Z", [5, 4, 3]),
        ("until=2026-03-01T11:00:00Z", [2, 1]),
        ("since=2026-03-01T10:00:00.000Z&until=2026-03-01T12:00:00Z", [3, 2]),
        // +01:00 sent without encoding reads as a space (form encoding) and is taken back as +.
        ("since=2026-03-01T12:00:00+01:00", [5, 4, 3]),
        ("since=2026-03-01T12:00:00%2B01:00&until=", [5, 4, 3]),
        // A day, from its start in UTC, and ages back from now (the fixture is in March 2026).
        ("since=2026-03-01&until=2026-03-02", [5, 4, 3, 2, 1]),
        ("until=2026-03-01", []),
        ("since=1h", []),
        ("until=1h&status=resolved", [1]),
        ("host=web-1&severity=critical&status=open", [4]),
        ("status=&host=&q=", [5, 4, 3, 2, 1]),
        ("host=nowhere", []),
    ] as [(String, [Int64])])
    func filters(query: String, ids: [Int64]) async throws {
        try await Self.expectListed(query, ids)
    }

    @Test(arguments: [
        ("q=nginx", [1]),
        ("q=NGINX+logs", [1]),
        ("q=ngi*", [1]),
        ("q=vda1", [1]),
        ("q=look", [3]),
        ("q=full&host=web-1", [4, 1]),
        ("q=full&status=open", [4]),
        ("q=nothing-like-it", []),
    ] as [(String, [Int64])])
    func fullTextSearch(query: String, ids: [Int64]) async throws {
        try await Self.expectListed(query, ids)
    }

    /// `GET /v1/scenarios?query` over the fixture answers 200 with exactly `ids`, in order.
    static func expectListed(_ query: String, _ ids: [Int64]) async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            let response = try await server.get("/v1/scenarios?\(query)")
            #expect(response.status == 200, "\(response.text)")
            #expect(response.scenarioIDs == ids)
        }
    }

    @Test func pagesFollowNextBeforeToTheEnd() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            var seen: [[Int64]] = []
            var path = "/v1/scenarios?limit=2"
            while true {
                let response = try await server.get(path)
                #expect(response.status == 200)
                seen.append(response.scenarioIDs)
                guard let next = (response.json?["next_before"] as? NSNumber)?.int64Value else { break }
                path = "/v1/scenarios?limit=2&before=\(next)"
                try #require(seen.count < 5, "paging does not end")
            }
            #expect(seen == [[5, 4], [3, 2], [1]])

            let filtered = try await server.get("/v1/scenarios?status=open&limit=2")
            #expect(filtered.scenarioIDs == [5, 4])
            #expect((filtered.json?["next_before"] as? NSNumber)?.int64Value == 4)
            let rest = try await server.get("/v1/scenarios?status=open&limit=2&before=4")
            #expect(rest.scenarioIDs == [3])
            #expect(rest.json?["next_before"] is NSNull)
            let exact = try await server.get("/v1/scenarios?limit=5")
            #expect(exact.scenarioIDs.count == 5)
            #expect(exact.json?["next_before"] is NSNull, "a full last page says there is no next one")
        }
    }

    @Test(arguments: [
        ("status=opn", "status", "opn", "open, acknowledged, resolved"),
        ("severity=urgent", "severity", "urgent", "info, warning, error, critical"),
        ("limit=0", "limit", "0", "1 to 200"),
        ("limit=201", "limit", "201", "1 to 200"),
        ("limit=ten", "limit", "ten", "1 to 200"),
        ("before=-3", "before", "-3", "positive whole number"),
        ("since=yesterday", "since", "yesterday", "ISO 8601"),
        ("until=2026-03-01T09:30", "until", "2026-03-01T09:30", "an age (90m, 24h, 7d)"),
        ("since=2026-03-01T12:00:00Z&until=2026-03-01T11:00:00Z", "until", "2026-03-01T11:00:00Z", "later time"),
        ("q=***", "q", "***", "letters or digits"),
        ("stauts=open", "stauts", "open", "status, host, check"),
        ("status=open&status=resolved", "status", "resolved", "once"),
        ("host=web%zz", "host", "web%zz", "percent-encoded"),
        ("host=\(String(repeating: "h", count: 300))", "host", String(repeating: "h", count: 300), "at most 256"),
    ] as [(String, String, String, String)])
    func aBadParameterIsNamedWithItsValueAndWhatIsAccepted(query: String, parameter: String, value: String, accepted: String) async throws {
        let store = MemoryScenarioStore()
        try await ReviewServer.with(store: store) { server in
            let response = try await server.get("/v1/scenarios?\(query)")
            #expect(response.status == 400)
            let json = try #require(response.json, "\(response.text)")
            #expect(json["field"] as? String == parameter)
            #expect(json["value"] as? String == value)
            let error = try #require(json["error"] as? String)
            #expect(error.hasPrefix("\(parameter): "), "\(error)")
            #expect(error.contains(accepted), "\(error)")
        }
    }

    @Test func oneScenarioWithItsEvents() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            let response = try await server.get("/v1/scenarios/1")
            #expect(response.status == 200)
            let json = try #require(response.json)
            let scenario = try #require(json["scenario"] as? [String: Any])
            #expect(scenario["status"] as? String == "resolved")
            #expect(scenario["host"] as? String == "web-1")
            let events = try #require(json["events"] as? [[String: Any]])
            #expect(events.compactMap { $0["kind"] as? String } == [
                "alert_fired", "notified", "reply_received", "command_dispatched", "command_finished", "acknowledged", "note",
                "resolved",
            ])
            #expect(events.allSatisfy { $0["at"] is String && $0["actor"] is String && $0["data"] is [String: Any] })
            #expect(events[0]["at"] as? String == "2026-03-01T09:00:00.000Z")
            #expect(events[2]["actor"] as? String == "ana")
            let notified = try #require(events[1]["data"] as? [String: Any])
            #expect(notified["transport"] as? String == "telegram" && notified["chat"] as? String == "-100123")
            let finished = try #require(events[4]["data"] as? [String: Any])
            #expect(finished["exit_code"] as? Int == 0)
            #expect((finished["output"] as? String)?.contains("/dev/vda1") == true)
            #expect((events[3]["data"] as? [String: Any])?["argv"] as? [String] == ["df", "-h", "/var"])
            let alerts = try #require(json["alerts"] as? [[String: Any]])
            #expect(alerts.count == 1)
            #expect(alerts.first?["id"] as? Int == (events[0]["data"] as? [String: Any])?["alert_id"] as? Int)
            #expect(alerts.first?["labels"] as? [String: String] == ["team": "ops", "mountpoint": "/var"])
            #expect((alerts.first?["details"] as? [String: Any])?["output"] as? String == "CRITICAL: /var is 95% full")
            #expect(alerts.first?["received_at"] as? String == "2026-03-01T09:00:00.000Z")
            #expect(alerts.first?["status"] as? String == "firing" && alerts.first?["source"] as? String == "generic")
            #expect((try await server.get("/v1/scenarios/%233")).json?["scenario"] != nil, "#3, as chat writes it")
        }
    }

    /// One event of `kind`, every optional field set, as `GET /v1/scenarios/{id}` writes it.
    static func sample(_ kind: EventKind) -> EventBody {
        switch kind {
        case .alertFired: .alertFired(AlertFacts(alertID: 1, source: "generic", severity: .critical, summary: "s", alertDigest: "d"))
        case .alertRepeated: .alertRepeated(AlertFacts(alertID: 1, source: "generic", severity: .critical, summary: "s", alertDigest: "d"))
        case .alertResolved: .alertResolved(AlertFacts(alertID: 1, source: "generic", severity: .critical, summary: "s", alertDigest: "d"))
        case .notified: .notified(MessageRef(transport: "telegram", chat: "-1", messageID: "7"))
        case .replyReceived: .replyReceived(ReplyFacts(transport: "telegram", text: "ack"))
        case .replyRefused: .replyRefused(RefusalFacts(text: "run x", reason: "unknown", userID: "42"))
        case .commandRejected: .commandRejected(RefusalFacts(text: "run x", reason: "no such action", userID: "42"))
        case .commandDispatched:
            .commandDispatched(DispatchFacts(taskID: "t-1", action: "disk", argv: ["df"], host: "web-1", worker: "w-1"))
        case .commandFinished:
            .commandFinished(TaskResult(
                taskID: "t-1", action: "disk", worker: "w-1", exitCode: 137, signal: 9, timedOut: true, durationMs: 1,
                output: "o", truncated: true, cancelled: true))
        case .commandLost: .commandLost(LostFacts(taskID: "t-1", action: "disk", worker: "w-1", reason: "gone"))
        case .cancelRequested: .cancelRequested(CancelFacts(taskID: "t-1", action: "disk"))
        case .acknowledged: .acknowledged
        case .resolved: .resolved(NoteFacts(text: "fixed"))
        case .note: .note(NoteFacts(text: "looked"))
        case .silenced: .silenced(SilenceFacts(until: ReviewFixture.start))
        case .handedOff: .handedOff(HandoffFacts(to: "bob", note: "over to you"))
        }
    }

    /// The event table of docs/review.md lists every kind with every field its `data` holds, so
    /// a new kind or field cannot ship undocumented.
    @Test func theDocsListEveryEventKindAndItsData() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: root.appendingPathComponent("docs/review.md"), encoding: .utf8)
        let table = try #require(docs.range(of: "| kind | data |").map { String(docs[$0.upperBound...]) })
        /// Each row's kinds (first cell) and the names in its data cell, by kind.
        var documented: [String: Set<String>] = [:]
        for line in table.split(separator: "\n").dropFirst().prefix(while: { $0.hasPrefix("|") }) {
            let cells = line.split(separator: "|").map(String.init)
            guard cells.count >= 2 else { continue }
            func names(_ cell: String) -> [String] {
                cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            }
            for kind in names(cells[0]) { documented[kind] = Set(names(cells[1])) }
        }
        for kind in EventKind.allCases {
            let fields = try #require(documented[kind.rawValue], "docs/review.md has no row for `\(kind.rawValue)`")
            let event = ScenarioEvent(id: 1, scenarioID: 1, at: ReviewFixture.start, actor: "ana", body: Self.sample(kind))
            let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? [String: Any])
            #expect(json["kind"] as? String == kind.rawValue)
            let data = try #require(json["data"] as? [String: Any])
            let missing = Set(data.keys).subtracting(fields)
            #expect(missing.isEmpty, "docs/review.md leaves out \(missing.sorted()) of `\(kind.rawValue)`")
        }
    }

    @Test func anUnknownOrMalformedIDIsNamed() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            let missing = try await server.get("/v1/scenarios/99")
            #expect(missing.status == 404)
            #expect(missing.json?["error"] as? String == "there is no scenario #99; GET /v1/scenarios lists the scenarios there are")
            let malformed = try await server.get("/v1/scenarios/abc")
            #expect(malformed.status == 400)
            #expect(malformed.json?["field"] as? String == "id")
            #expect((malformed.json?["error"] as? String)?.contains("'abc' is not a scenario id") == true)
        }
    }
}
