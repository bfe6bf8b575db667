import Foundation
import TeleOpsCore

extension ScenarioStoreConformance {
    /// The shared log's review side: filters, full-text search, the hash chain, retention.
    static let historyCases: [Case] = [
        Case("queries filter by check, source, severity, fingerprint, engineer and opening time, and count") { store, check in
            let disk = try await store.ingestOne(Fixture.alert("disk", host: "web-1", severity: .warning, at: 0))
            var cpuAlert = Fixture.alert("cpu", host: "web-2", severity: .critical, at: 60)
            cpuAlert.source = "prometheus"
            let cpu = try await store.ingestOne(cpuAlert)
            let load = try await store.ingestOne(Fixture.alert("load", host: "web-1", severity: .critical, at: 120))
            try await store.append(
                [NewEvent(scenarioID: cpu.scenarioID!, actor: "ana", body: .note(NoteFacts(text: "looking")))], outbox: [])
            try await store.append([NewEvent(scenarioID: load.scenarioID!, actor: "bo", body: .acknowledged)], outbox: [])
            func checks(_ query: ScenarioQuery) async throws -> [String] { try await store.scenarios(query).map(\.check) }

            try check.equal(try await checks(ScenarioQuery(check: "cpu")), ["cpu"], "check")
            try check.equal(try await checks(ScenarioQuery(source: "prometheus")), ["cpu"], "source")
            try check.equal(try await checks(ScenarioQuery(severity: .critical)), ["load", "cpu"], "severity")
            let fingerprint = try check.unwrap(try await store.scenario(id: disk.scenarioID!)?.fingerprint, "fingerprint")
            try check.equal(try await checks(ScenarioQuery(fingerprint: fingerprint)), ["disk"], "fingerprint")
            try check.equal(try await checks(ScenarioQuery(engineer: "ana")), ["cpu"], "an engineer's note")
            try check.equal(try await checks(ScenarioQuery(engineer: "bo")), ["load"], "an engineer's acknowledgement")
            try check.equal(try await checks(ScenarioQuery(engineer: "cy")), [], "an engineer who did nothing")
            try check.equal(try await checks(ScenarioQuery(openedSince: Fixture.time(60))), ["load", "cpu"], "opened since")
            try check.equal(try await checks(ScenarioQuery(openedBefore: Fixture.time(60))), ["disk"], "opened before")
            try check.equal(
                try await checks(ScenarioQuery(host: "web-1", severity: .critical, openedSince: Fixture.time(0))), ["load"],
                "several filters")
            try check.equal(try await store.count(ScenarioQuery(), upTo: .max), ScenarioCount(3), "count of all")
            try check.equal(try await store.count(ScenarioQuery(host: "web-1", limit: 1, beforeID: 1), upTo: .max), ScenarioCount(2),
                            "count ignores limit and paging")
            try check.equal(try await store.count(ScenarioQuery(engineer: "ana"), upTo: .max), ScenarioCount(1), "count by engineer")
        },
        Case("an engineer's scenarios: acted in or handed to them, newest first past many nobody touched, paged") { store, check in
            var ids: [Int64] = []
            for index in 0..<6 {
                ids.append(try check.unwrap(try await store.ingestOne(Fixture.alert("c\(index)", at: Double(index))).scenarioID, "c\(index)"))
            }
            // ana notes #0 and #2; she hands #4 to dee, who has no event of her own.
            try await store.append([
                NewEvent(scenarioID: ids[0], actor: "ana", body: .note(NoteFacts(text: "looking"))),
                NewEvent(scenarioID: ids[2], actor: "ana", body: .note(NoteFacts(text: "looking"))),
                NewEvent(scenarioID: ids[4], actor: "ana", body: .handedOff(HandoffFacts(to: "dee", note: "yours"))),
            ], outbox: [])
            // Many scenarios after them that nobody touched (an alert storm).
            for index in 0..<40 { _ = try await store.ingestOne(Fixture.alert("storm-\(index)", at: Double(10 + index))) }
            func found(_ query: ScenarioQuery) async throws -> [Int64] { try await store.scenarios(query).map(\.id) }
            try check.equal(try await found(ScenarioQuery(engineer: "ana")), [ids[4], ids[2], ids[0]], "ana acted in three")
            try check.equal(try await found(ScenarioQuery(engineer: "dee")), [ids[4]], "dee was handed one")
            try check.equal(try await found(ScenarioQuery(engineer: "ana", limit: 2)), [ids[4], ids[2]], "a first page")
            try check.equal(try await found(ScenarioQuery(engineer: "ana", limit: 2, beforeID: ids[2])), [ids[0]], "the next page")
            try check.equal(try await found(ScenarioQuery(engineer: "ana", beforeID: ids[0])), [], "nothing before her first")
            try check.equal(try await found(ScenarioQuery(engineer: "nobody")), [], "an engineer who did nothing")
            try check.equal(try await store.count(ScenarioQuery(engineer: "ana"), upTo: .max), ScenarioCount(3), "count by engineer")
            try check.equal(try await store.count(ScenarioQuery(engineer: "dee"), upTo: .max), ScenarioCount(1), "count by owner")
        },
        Case("search finds words in summaries, details, labels, replies, notes and command output") { store, check in
            var alert = Fixture.alert("replication", host: "db-1", at: 0, summary: "Replica lag on db-1")
            alert.details = ["disk": ["device": "/dev/nvme0n1"], "lag_seconds": 42]
            alert.labels = ["team": "storage"]
            let db = try check.unwrap(try await store.ingestOne(alert).scenarioID, "db scenario")
            let web = try check.unwrap(try await store.ingestOne(Fixture.alert("http", host: "web-1", at: 1)).scenarioID, "web")
            try await store.append([
                NewEvent(scenarioID: web, actor: "ana", body: .replyReceived(ReplyFacts(transport: "telegram", text: "restart nginx please"))),
                NewEvent(scenarioID: web, actor: "ana", body: .commandFinished(TaskResult(
                    taskID: "t1", action: "restart", worker: "w", exitCode: 0, signal: nil, timedOut: false, durationMs: 5,
                    output: "Stopping nginx... Starting nginx: OK", truncated: false))),
                NewEvent(scenarioID: db, actor: "bo", body: .note(NoteFacts(text: "Vacuumed the WAL; Café fixed it"))),
            ], outbox: [])
            func search(_ text: String, limit: Int = 50, beforeID: Int64? = nil) async throws -> [Int64] {
                try await store.scenarios(ScenarioQuery(text: text, limit: limit, beforeID: beforeID)).map(\.id)
            }
            _ = try await store.ingestOne(Fixture.alert("replication", host: "db-1", at: 2, summary: "Replica lag on db-1"))
            _ = try await store.ingestOne(Fixture.alert("replication", host: "db-1", at: 3, summary: "Replica lag 90s, WAL growing"))
            try check.equal(try await search("replica"), [db], "a word of the summary")
            try check.equal(try await search("growing"), [db], "a repeat that says something new")
            try check.equal(try await search("nvme0n1"), [db], "a string in the details")
            try check.equal(try await search("42"), [db], "a number in the details")
            try check.equal(try await search("storage"), [db], "a label value")
            try check.equal(try await search("nginx"), [web], "reply and output, one result per scenario")
            try check.equal(try await search("Starting OK"), [web], "words of the output, any order")
            try check.equal(try await search("vacuumed"), [db], "a note")
            try check.equal(try await search("REPLICA LAG"), [db], "case is ignored")
            try check.equal(try await search("cafe"), [db], "accents are ignored")
            try check.equal(try await search("vacu*"), [db], "a prefix")
            try check.equal(try await search("db-1"), [db], "a word with punctuation")
            try check.equal(try await search("replica nginx"), [], "all words must appear in one document")
            try check.equal(try await search("on"), [web, db], "newest first")
            try check.equal(try await search("on", limit: 1), [web], "page 1")
            try check.equal(try await search("on", limit: 1, beforeID: web), [db], "page 2")
            try check.equal(try await search(#"" AND ( NEAR"#), [], "search syntax is taken literally")
            let filtered = try await store.scenarios(ScenarioQuery(host: "db-1", text: "on"))
            try check.equal(filtered.map(\.id), [db], "search with a filter")
        },
        Case("search with filters, time ranges and counts finds what a scan of every scenario finds") { store, check in
            // 300 scenarios: "disk" in every third, db-1 only among the oldest and newest (so a
            // search for db-1's disk skips a long run of other hosts' documents), every fifth
            // still open, opening times a little out of id order, and some with a second document.
            struct Known { var id: Int64; var host: String; var open: Bool; var at: Double; var disk: Bool }
            var alerts: [Alert] = []
            for index in 0..<300 {
                let host = index < 20 || index >= 280 ? (index % 2 == 0 ? "db-1" : "web-1") : "web-\(index % 4)"
                let at = Double(index * 10 - (index % 7 == 0 ? 25 : 0))
                alerts.append(Fixture.alert("c\(index)", host: host, at: at,
                                            summary: index % 3 == 0 ? "disk full on \(host)" : "load high on \(host)"))
            }
            let outcomes = try await store.ingest(alerts, compose: Fixture.noDrafts)
            var known: [Known] = []
            for (index, outcome) in outcomes.enumerated() {
                let id = try check.unwrap(outcome.scenarioID, "scenario \(index)")
                known.append(Known(id: id, host: alerts[index].host, open: index % 5 == 0,
                                   at: Double(index * 10 - (index % 7 == 0 ? 25 : 0)), disk: index % 3 == 0))
            }
            var resolves = alerts.enumerated().filter { $0.offset % 5 != 0 }.map { $0.element }
            for index in resolves.indices { resolves[index].status = .resolved }
            _ = try await store.ingest(resolves, compose: Fixture.noDrafts)
            try await store.append(known.filter { $0.id % 11 == 0 }.map {
                NewEvent(scenarioID: $0.id, actor: "ana", body: .note(NoteFacts(text: "checked the disk")))
            }, outbox: [])
            for index in known.indices where known[index].id % 11 == 0 { known[index].disk = true }

            let queries: [(String, ScenarioQuery, (Known) -> Bool)] = [
                ("words only", ScenarioQuery(text: "disk"), { $0.disk }),
                ("words and a host seen at both ends", ScenarioQuery(host: "db-1", text: "disk"), { $0.disk && $0.host == "db-1" }),
                ("a prefix and a host", ScenarioQuery(host: "db-1", text: "dis*"), { $0.disk && $0.host == "db-1" }),
                ("words and open", ScenarioQuery(status: .open, text: "disk"), { $0.disk && $0.open }),
                ("words, resolved and a host", ScenarioQuery(status: .resolved, host: "web-2", text: "disk"),
                 { $0.disk && !$0.open && $0.host == "web-2" }),
                ("words in a time range", ScenarioQuery(openedSince: Fixture.time(995), openedBefore: Fixture.time(1_700), text: "disk"),
                 { $0.disk && $0.at >= 995 && $0.at < 1_700 }),
                ("a time range", ScenarioQuery(openedSince: Fixture.time(995), openedBefore: Fixture.time(1_700)), { $0.at >= 995 && $0.at < 1_700 }),
                ("opened since", ScenarioQuery(openedSince: Fixture.time(2_655)), { $0.at >= 2_655 }),
                ("opened before, and open", ScenarioQuery(status: .open, openedBefore: Fixture.time(300)), { $0.open && $0.at < 300 }),
                ("an empty time range", ScenarioQuery(openedSince: Fixture.time(5_000), text: "disk"), { _ in false }),
            ]
            for (name, query, wanted) in queries {
                let expected = known.filter(wanted).map(\.id).sorted(by: >)
                var pages: [Int64] = []
                var page = query
                page.limit = 7
                while true {
                    let ids = try await store.scenarios(page).map(\.id)
                    pages += ids
                    guard ids.count == 7, let last = ids.last else { break }
                    page.beforeID = last
                }
                try check.equal(pages, expected, "\(name): every page, newest first")
                try check.equal(try await store.count(query, upTo: .max), ScenarioCount(expected.count), "\(name): count")
                try check.equal(try await store.count(query, upTo: 5), ScenarioCount(min(5, expected.count), isPartial: expected.count >= 5),
                                "\(name): count capped at 5")
            }
        },
        Case("an alert that comes back carries what was done last time, and the same check elsewhere") { store, check in
            let fresh = try await store.ingestOne(Fixture.alert("nginx", host: "web-1", at: 0))
            try check.equal(fresh.seenBefore, nil, "nothing seen before")
            let first = try check.unwrap(fresh.scenarioID, "first")
            func result(_ action: String, _ code: Int32) -> TaskResult {
                TaskResult(taskID: action, action: action, worker: "w", exitCode: code, signal: nil, timedOut: false,
                           durationMs: 5, output: "", truncated: false)
            }
            let at = Fixture.time(60)
            try await store.append([
                NewEvent(scenarioID: first, at: at, actor: "ana", body: .replyReceived(ReplyFacts(transport: "telegram", text: "run status"))),
                NewEvent(scenarioID: first, at: at, actor: "ana", body: .commandDispatched(DispatchFacts(taskID: "1", action: "status", argv: ["x"], host: "web-1"))),
                NewEvent(scenarioID: first, at: at, actor: "ana", body: .commandFinished(result("status", 0))),
                NewEvent(scenarioID: first, at: at, actor: "bo", body: .replyReceived(ReplyFacts(transport: "slack", text: "run restart"))),
                NewEvent(scenarioID: first, at: at, actor: "bo", body: .commandDispatched(DispatchFacts(taskID: "2", action: "restart", argv: ["x"], host: "web-1"))),
                NewEvent(scenarioID: first, at: at, actor: "bo", body: .commandFinished(result("restart", 0))),
                NewEvent(scenarioID: first, at: at, actor: "bo", body: .commandDispatched(DispatchFacts(taskID: "3", action: "status", argv: ["x"], host: "web-1"))),
                NewEvent(scenarioID: first, at: at, actor: "bo", body: .commandFinished(result("status", 1))),
            ], outbox: [])
            _ = try await store.ingestOne(Fixture.alert("nginx", host: "web-1", status: .resolved, at: 720))
            let other = try check.unwrap(try await store.ingestOne(Fixture.alert("nginx", host: "web-2", at: 800)).scenarioID, "web-2")
            try check.isTrue(try await store.ingestOne(Fixture.alert("nginx", host: "web-2", at: 800)).seenBefore == nil,
                             "a repeat carries nothing")
            let spreading = try await store.ingestOne(Fixture.alert("nginx", host: "web-3", at: 810))
            try check.equal(spreading.seenBefore?.elsewhere, 1, "web-1's resolved scenario; web-2's, still open, is not history")
            try check.equal(spreading.seenBefore?.lastElsewhere?.scenarioID, first, "the newest resolved one elsewhere")
            _ = try await store.ingestOne(Fixture.alert("nginx", host: "web-2", status: .resolved, at: 850))

            let again = try await store.ingestOne(Fixture.alert("nginx", host: "web-1", at: 900))
            let seen = try check.unwrap(again.seenBefore, "seen before")
            try check.equal(seen.times, 1, "times on this host")
            let last = try check.unwrap(seen.last, "last occurrence")
            try check.equal(last.scenarioID, first, "last scenario")
            try check.equal(last.handledBy, ["ana", "bo"], "who handled it")
            try check.equal(last.actions, ["status", "restart"], "actions, in order first run")
            try check.equal(last.fix, "restart", "the last action that succeeded before the resolve")
            try check.isTrue(abs((last.timeToResolve ?? 0) - 720) < 0.01, "720 s to resolve")
            try check.equal(seen.elsewhere, 1, "the same check on another host")
            try check.equal(seen.lastElsewhere?.scenarioID, other, "newest elsewhere")
            try check.equal(seen.lastElsewhere?.fix, nil, "nothing was run there")
        },
        Case("a command that timed out or was cancelled is not the fix, even with exit 0") { store, check in
            let first = try check.unwrap(try await store.ingestOne(Fixture.alert("ntp", host: "web-1", at: 0)).scenarioID, "first")
            func finished(_ action: String, exit: Int32?, timedOut: Bool = false, cancelled: Bool = false) -> EventBody {
                var result = TaskResult(taskID: action, action: action, worker: "w", exitCode: exit, signal: nil,
                                        timedOut: timedOut, durationMs: 5, output: String(repeating: "x", count: 2000),
                                        truncated: false)
                result.cancelled = cancelled
                return .commandFinished(result)
            }
            let at = Fixture.time(60)
            var events: [NewEvent] = []
            for (action, body) in [("slow", finished("slow", exit: 0, timedOut: true)),
                                   ("stopped", finished("stopped", exit: 0, cancelled: true)),
                                   ("failing", finished("failing", exit: 1))] {
                events.append(NewEvent(scenarioID: first, at: at, actor: "ana", body: .commandDispatched(
                    DispatchFacts(taskID: action, action: action, argv: ["x"], host: "web-1"))))
                events.append(NewEvent(scenarioID: first, at: at, actor: "teleops", body: body))
            }
            try await store.append(events, outbox: [])
            _ = try await store.ingestOne(Fixture.alert("ntp", host: "web-1", status: .resolved, at: 120))
            let seen = try check.unwrap(try await store.ingestOne(Fixture.alert("ntp", host: "web-1", at: 200)).seenBefore, "seen")
            try check.equal(seen.last?.actions, ["slow", "stopped", "failing"], "every action run")
            try check.equal(seen.last?.fix, "failing", "none succeeded: the last one run")
            try check.equal(seen.last?.handledBy, [], "nobody replied in its thread")
        },
        Case("every event is chained and an untouched log verifies") { store, check in
            let empty = try await store.verifyChain()
            try check.equal(empty.firstBreak, nil, "an empty store")
            for second in 0..<3 { _ = try await store.ingestOne(Fixture.alert("disk", at: Double(second))) }
            let other = try check.unwrap(try await store.ingestOne(Fixture.alert("cpu", at: 4)).scenarioID, "other")
            try await store.append([NewEvent(scenarioID: other, actor: "ana", body: .acknowledged)], outbox: [])
            _ = try await store.ingestOne(Fixture.alert("disk", status: .resolved, at: 5))
            let report = try await store.verifyChain()
            try check.equal(report.firstBreak, nil, "first break")
            try check.equal(report.scenariosChecked, 2, "scenarios checked")
            try check.equal(report.eventsChecked, 6, "events checked")
            try check.equal(report.digest.count, 64, "digest is hex SHA-256")
            _ = try await store.ingestOne(Fixture.alert("cpu", at: 6))
            let later = try await store.verifyChain(against: report.checkpoint)
            try check.isTrue(later.digest != report.digest, "the digest moves as the log grows")
            try check.equal(later.checkpointResult, .holds, "the earlier checkpoint holds as the log grows")
            try check.isTrue(later.checkpoint.lastEventID > report.checkpoint.lastEventID, "the checkpoint moves on")
            let made = ChainCheckpoint(lastEventID: report.checkpoint.lastEventID, prunedBelow: 0, digest: String(repeating: "0", count: 64))
            try check.equal(try await store.verifyChain(against: made).checkpointResult, .differs, "a checkpoint of another log")
        },
        Case("a scenario's columns are what its events make of its alert, through every kind that changes them") { store, check in
            // Repeats that escalate and change the summary, an acknowledgement by the source, a
            // hand-off, a silence, notes and commands, a resolve by an engineer; times below the
            // millisecond (Fixture.t0); then a second scenario acknowledged and resolved by its source,
            // and a third that follows the first.
            let first = try check.unwrap(try await store.ingestOne(Fixture.alert("disk", at: 0.000_4)).scenarioID, "first")
            _ = try await store.ingestOne(Fixture.alert("disk", severity: .critical, at: 10.000_7, summary: "now at 99%"))
            _ = try await store.ingestOne(Fixture.alert("disk", severity: .warning, at: 20, summary: "back at 91%"))
            _ = try await store.ingestOne(Fixture.alert("disk", status: .acknowledged, at: 25))
            let t0 = Fixture.alert("disk", at: 0).receivedAt
            try await store.append([
                NewEvent(scenarioID: first, at: t0.addingTimeInterval(30.000_3), actor: "ana", body: .note(NoteFacts(text: "looking"))),
                NewEvent(scenarioID: first, at: t0.addingTimeInterval(31), actor: "ana",
                         body: .handedOff(HandoffFacts(to: "bo", note: "over to you"))),
                NewEvent(scenarioID: first, at: t0.addingTimeInterval(32), actor: "bo",
                         body: .silenced(SilenceFacts(until: t0.addingTimeInterval(3_600.000_9)))),
                NewEvent(scenarioID: first, at: t0.addingTimeInterval(33), actor: "bo", body: .acknowledged),
                NewEvent(scenarioID: first, at: t0.addingTimeInterval(40), actor: "bo", body: .resolved(NoteFacts(text: "rotated"))),
            ], outbox: [])
            _ = try await store.ingestOne(Fixture.alert("disk", status: .resolved, at: 50))
            _ = try await store.ingestOne(Fixture.alert("cpu", at: 60))
            _ = try await store.ingestOne(Fixture.alert("cpu", status: .acknowledged, at: 61))
            _ = try await store.ingestOne(Fixture.alert("cpu", status: .resolved, at: 62))
            // disk again: a third scenario, which follows the first.
            let third = try check.unwrap(try await store.ingestOne(Fixture.alert("disk", at: 70)).scenarioID, "third")
            try check.equal(try await store.scenario(id: third)?.previousID, first, "the third follows the first")
            let scenario = try check.unwrap(try await store.scenario(id: first), "first scenario")
            try check.equal(scenario.status, .resolved, "resolved")
            try check.equal(scenario.acknowledgedBy, "bo", "handed to bo")
            try check.equal(scenario.severity, .critical, "escalated once")
            let report = try await store.verifyChain()
            try check.equal(report.firstBreak, nil, "the columns replay from the events")
            try check.equal(report.scenariosChecked, 3, "scenarios checked")
        },
        Case("alert events record the digest of their alert as it comes back, and an untouched log verifies") { store, check in
            // Labels and details whose keys come in no particular order, numbers that are and are
            // not whole, an idempotency key, and times below the millisecond (Fixture.t0).
            var fired = Fixture.alert("disk", severity: .critical, at: 0)
            fired.labels = ["team": "ops", "instance": "web-1:9100", "é": "🔥", "A": "\"quoted\"\n"]
            fired.details = ["output": "CRITICAL: / is 97% full", "used_pct": 97.5, "mounts": ["/", "/var"],
                             "nested": ["b": 1, "a": nil, "c": [:]], "big": 1e20, "zero": -0.0]
            fired.idempotencyKey = "delivery-1"
            var bare = Fixture.alert("disk", at: 30.000_9)
            bare.labels = [:]
            bare.details = nil
            let sent = [fired, bare, Fixture.alert("disk", status: .acknowledged, at: 40),
                        Fixture.alert("disk", status: .resolved, at: 60)]
            let outcomes = try await store.ingest(sent, compose: Fixture.noDrafts)
            let scenarioID = try check.unwrap(outcomes[0].scenarioID, "scenario")
            let recorded = try await store.events(of: scenarioID).compactMap { event -> AlertFacts? in
                switch event.body {
                case .alertFired(let facts), .alertRepeated(let facts), .alertResolved(let facts): facts
                default: nil
                }
            }
            try check.equal(recorded.map(\.alertID), [outcomes[0].alertID, outcomes[1].alertID, outcomes[3].alertID],
                            "fired, repeated and resolved events (the acknowledgement has none)")
            let stored = try await store.alerts(ids: recorded.map(\.alertID))
            for (facts, alert) in zip(recorded, [sent[0], sent[1], sent[3]]) {
                let digest = try check.unwrap(facts.alertDigest, "alert \(facts.alertID)'s digest")
                try check.equal(digest, AlertDigest.hex(of: alert), "alert \(facts.alertID): the digest of the alert sent")
                let back = try check.unwrap(stored[facts.alertID], "alert \(facts.alertID)")
                try check.equal(AlertDigest.hex(of: back), digest, "alert \(facts.alertID): recomputed from the alert as it comes back")
            }
            let report = try await store.verifyChain()
            try check.equal(report.firstBreak, nil, "first break")
            try check.equal(report.eventsChecked, 4, "events checked")
        },
        Case("retention removes old resolved scenarios only, and what is left still verifies") { store, check in
            var ids: [Int64] = []
            for (index, name) in ["a", "b", "c", "d"].enumerated() {
                ids.append(try check.unwrap(try await store.ingestOne(
                    Fixture.alert(name, at: Double(index * 10), summary: "\(name) filesystem full")).scenarioID, name))
            }
            // a and c resolve long ago, b stays open, d resolves now.
            _ = try await store.ingestOne(Fixture.alert("a", status: .resolved, at: 1))
            _ = try await store.ingestOne(Fixture.alert("c", status: .resolved, at: 21))
            _ = try await store.ingestOne(Fixture.alert("d", status: .resolved, at: 3600))
            let now = Fixture.time(3600)
            try check.equal(try await store.prune(RetentionPolicy(), now: now, batch: 10), 0, "keep everything")
            let removed = try await store.prune(RetentionPolicy(maxAge: .seconds(600)), now: now, batch: 1)
            try check.equal(removed, 2, "the two old resolved ones, one per batch")
            try check.equal(try await store.scenarios(ScenarioQuery()).map(\.check), ["d", "b"], "left")
            try check.equal(try await store.events(of: ids[0]), [], "events of a removed scenario")
            try check.equal(try await store.scenarios(ScenarioQuery(text: "filesystem")).map(\.check), ["d", "b"],
                            "search no longer finds removed scenarios")
            let report = try await store.verifyChain()
            try check.equal(report.firstBreak, nil, "chain after retention")
            let byCount = try await store.prune(RetentionPolicy(maxCount: 1), now: now, batch: 10)
            try check.equal(byCount, 0, "the newest is kept and the other left is active")
            try check.equal(try await store.scenarios(ScenarioQuery()).map(\.check), ["d", "b"], "still left")
            _ = try await store.ingestOne(Fixture.alert("b", status: .resolved, at: 3601))
            try check.equal(try await store.prune(RetentionPolicy(maxCount: 1), now: now, batch: 10), 1, "count")
            try check.equal(try await store.scenarios(ScenarioQuery()).map(\.check), ["d"], "only the newest")
            try check.equal(try await store.verifyChain().firstBreak, nil, "chain after retention by count")
            let next = try await store.ingestOne(Fixture.alert("e", at: 3700))
            try check.isTrue((next.scenarioID ?? 0) > ids[3], "ids are never reused")
        },
        Case("alerts come back by id as they arrived, and retention's are gone for good") { store, check in
            var labelled = Fixture.alert("disk", severity: .critical, at: 0)
            labelled.labels = ["instance": "web-1:9100", "team": "ops"]
            labelled.details = ["output": "CRITICAL: / is 97% full", "used_pct": 97]
            labelled.idempotencyKey = "delivery-1"
            let fired = try await store.ingestOne(labelled)
            let cleared = try await store.ingestOne(Fixture.alert("disk", status: .resolved, at: 30))
            let other = try await store.ingestOne(Fixture.alert("cpu", at: 40))
            let ids = [fired, cleared, other].map(\.alertID)
            let found = try await store.alerts(ids: ids + [999_999])
            try check.equal(Set(found.keys), Set(ids), "the ids held, and no other")
            try check.equal(found[ids[0]], Alert(
                source: "generic", host: "web-1", check: "disk", severity: .critical, status: .firing,
                summary: labelled.summary, labels: labelled.labels, details: labelled.details, fingerprint: labelled.fingerprint,
                idempotencyKey: "delivery-1", receivedAt: labelled.receivedAt.truncatedToMilliseconds),
                "the first alert, labels and details included (times to the millisecond)")
            try check.equal(found[ids[1]]?.status, .resolved, "the resolving alert")
            try check.equal(try await store.alerts(ids: []), [:], "no ids")

            try check.equal(try await store.prune(RetentionPolicy(maxAge: .seconds(60)), now: Fixture.time(3600), batch: 10), 1, "pruned")
            try check.equal(Set(try await store.alerts(ids: ids).keys), [ids[2]], "the removed scenario's alerts are gone")
            let next = try await store.ingestOne(Fixture.alert("load", at: 3700)).alertID
            try check.isTrue(next > ids[2], "alert ids are never reused")
            try check.equal(try await store.alerts(ids: [next])[next]?.check, "load", "the new alert under its own id")
        },
        Case("outbox ids are never reused after retention removed a scenario's messages") { store, check in
            let old = try check.unwrap(try await store.ingestOne(Fixture.alert("a", at: 0)).scenarioID, "a")
            let kept = try check.unwrap(try await store.ingestOne(Fixture.alert("b", at: 0)).scenarioID, "b")
            try await store.append([], outbox: [OutboxDraft(scenarioID: old, purpose: .reply, text: "about a"),
                                                OutboxDraft(scenarioID: kept, purpose: .reply, text: "about b")])
            let before = try await store.pendingOutbox(limit: 10)
            _ = try await store.ingestOne(Fixture.alert("a", status: .resolved, at: 1))
            try check.equal(try await store.prune(RetentionPolicy(maxAge: .seconds(60)), now: Fixture.time(3600), batch: 10), 1,
                            "a is removed")
            try check.equal(try await store.pendingOutbox(limit: 10).map(\.draft.text), ["about b"], "a's message went with it")
            try await store.append([], outbox: [OutboxDraft(scenarioID: kept, purpose: .reply, text: "later")])
            let pending = try await store.pendingOutbox(limit: 10)
            try check.equal(pending.map(\.draft.text), ["about b", "later"], "in order")
            try check.isTrue(pending[1].id > (before.map(\.id).max() ?? 0), "a new id, above every earlier one")
            try await store.markSent(outboxID: pending[1].id, as: MessageRef(transport: "telegram", chat: "-1", messageID: "7"))
            try await store.markFailed(outboxID: pending[0].id, reason: "503", giveUp: false)
            try check.equal(try await store.pendingOutbox(limit: 10).map { "\($0.draft.text) \($0.attempts)" }, ["about b 1"],
                            "marks reach the right rows")
        },
    ]
}
