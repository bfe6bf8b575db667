import Foundation
import TeleOpsCore

extension ScenarioStoreConformance {
    static let ingestCases: [Case] = [
        Case("firing opens, repeat joins, resolve closes") { store, check in
            let opened = try await store.ingestOne(Fixture.alert(at: 0))
            let repeated = try await store.ingestOne(Fixture.alert(at: 60))
            let resolved = try await store.ingestOne(Fixture.alert(status: .resolved, at: 120))
            try check.equal(
                [opened.disposition, repeated.disposition, resolved.disposition], [.opened, .repeated, .resolved],
                "dispositions")
            let id = try check.unwrap(opened.scenarioID, "opened scenario id")
            try check.equal([repeated.scenarioID, resolved.scenarioID], [id, id], "repeat and resolve join the scenario")
            try check.equal(Set([opened.alertID, repeated.alertID, resolved.alertID]).count, 3, "distinct alert ids")
            let scenario = try check.unwrap(try await store.scenario(id: id), "scenario \(id)")
            try check.equal(scenario.status, .resolved, "status")
            try check.equal(scenario.resolvedAt, Fixture.time(120).truncatedToMilliseconds, "resolvedAt")
            try check.equal(scenario.openedAt, Fixture.time(0).truncatedToMilliseconds, "openedAt (truncated to ms)")
            try check.equal(scenario.fingerprint, "generic|web-1|disk", "fingerprint")
            try check.equal(scenario.previousID, nil, "previousID of a first scenario")
            let events = try await store.events(of: id)
            try check.equal(events.map(\.kind), [.alertFired, .alertRepeated, .alertResolved], "event kinds")
            try check.equal(events.map(\.actor), ["generic", "generic", "generic"], "event actors are the source")
            try check.equal(
                events.map(\.at), [0, 60, 120].map { Fixture.time($0).truncatedToMilliseconds }, "event times")
            let facts = AlertFacts(alertID: repeated.alertID, source: "generic", severity: .warning,
                                   summary: "disk on web-1 is warning", alertDigest: AlertDigest.hex(of: Fixture.alert(at: 60)))
            try check.equal(events[1].body, .alertRepeated(facts), "repeat event facts")
        },
        Case("resolve with no active scenario is unmatched") { store, check in
            let recorder = ComposeRecorder()
            let outcomes = try await store.ingest([Fixture.alert(status: .resolved)], compose: recorder.compose)
            try check.equal(outcomes.map(\.disposition), [.unmatched], "disposition")
            try check.equal(outcomes[0].scenarioID, nil, "scenario id")
            try check.equal(try await store.scenarios(ScenarioQuery()).count, 0, "scenarios")
            try check.equal(recorder.recorded.count, 1, "compose calls")
            try check.isTrue(recorder.recorded[0].scenario == nil, "compose gets no scenario")
            let next = try await store.ingestOne(Fixture.alert(at: 1))
            try check.isTrue(next.alertID > outcomes[0].alertID, "the unmatched alert was journaled (ids advance)")
        },
        Case("reopen after resolve links previousID to the newest resolved") { store, check in
            let first = try await store.ingestOne(Fixture.alert(at: 0))
            _ = try await store.ingestOne(Fixture.alert(status: .resolved, at: 1))
            let second = try await store.ingestOne(Fixture.alert(at: 2))
            try check.equal(second.disposition, .opened, "firing after resolve opens")
            try check.isTrue(second.scenarioID != first.scenarioID, "a new scenario")
            _ = try await store.ingestOne(Fixture.alert(status: .resolved, at: 3))
            let third = try await store.ingestOne(Fixture.alert(at: 4))
            let secondScenario = try check.unwrap(try await store.scenario(id: second.scenarioID ?? -1), "second")
            let thirdScenario = try check.unwrap(try await store.scenario(id: third.scenarioID ?? -1), "third")
            try check.equal(secondScenario.previousID, first.scenarioID, "second.previousID")
            try check.equal(thirdScenario.previousID, second.scenarioID, "third.previousID")
            let other = try await store.ingestOne(Fixture.alert("cpu", at: 5))
            let otherScenario = try check.unwrap(try await store.scenario(id: other.scenarioID ?? -1), "other")
            try check.equal(otherScenario.previousID, nil, "another fingerprint has no previous")
        },
        Case("severity escalates on repeat and never drops") { store, check in
            let opened = try await store.ingestOne(Fixture.alert(severity: .warning, at: 0))
            _ = try await store.ingestOne(Fixture.alert(severity: .critical, at: 1, summary: "disk full"))
            _ = try await store.ingestOne(Fixture.alert(severity: .info, at: 2, summary: "disk nearly fine"))
            let scenario = try check.unwrap(try await store.scenario(id: opened.scenarioID ?? -1), "scenario")
            try check.equal(scenario.severity, .critical, "severity")
            try check.equal(scenario.summary, "disk nearly fine", "summary follows the latest alert")
        },
        Case("occurrences count every firing alert") { store, check in
            let opened = try await store.ingestOne(Fixture.alert(at: 0))
            for second in 1...4 {
                _ = try await store.ingestOne(Fixture.alert(at: Double(second)))
            }
            let scenario = try check.unwrap(try await store.scenario(id: opened.scenarioID ?? -1), "scenario")
            try check.equal(scenario.occurrences, 5, "occurrences")
            try check.equal(scenario.updatedAt, Fixture.time(4).truncatedToMilliseconds, "updatedAt")
            try check.equal(scenario.status, .open, "status")
        },
        Case("a batch is applied in order and outcomes keep input order") { store, check in
            let batch = [
                Fixture.alert(at: 0), Fixture.alert(at: 1), Fixture.alert("cpu", at: 2),
                Fixture.alert(status: .resolved, at: 3), Fixture.alert("mem", status: .resolved, at: 4),
                Fixture.alert(at: 5),
            ]
            let outcomes = try await store.ingest(batch, compose: Fixture.noDrafts)
            try check.equal(
                outcomes.map(\.disposition), [.opened, .repeated, .opened, .resolved, .unmatched, .opened], "dispositions")
            try check.equal(outcomes.map(\.alertID), outcomes.map(\.alertID).sorted(), "alert ids ascend")
            try check.equal(
                [outcomes[1].scenarioID, outcomes[3].scenarioID], [outcomes[0].scenarioID, outcomes[0].scenarioID],
                "repeat and resolve join the first scenario")
            try check.isTrue(outcomes[5].scenarioID != outcomes[0].scenarioID, "the last alert opens a new scenario")
        },
        Case("compose sees the scenario after the alert and its drafts land in the outbox") { store, check in
            let recorder = ComposeRecorder { alert, outcome, scenario in
                [OutboxDraft(
                    scenarioID: outcome.scenarioID, purpose: outcome.disposition == .opened ? .announcement : .reply,
                    text: "\(outcome.disposition.rawValue) x\(scenario?.occurrences ?? 0)",
                    replyTo: MessageRef(transport: "console", chat: "ops", messageID: "m\(outcome.alertID)"),
                    chat: alert.host)]
            }
            let outcomes = try await store.ingest(
                [Fixture.alert(at: 0), Fixture.alert(at: 1), Fixture.alert(status: .resolved, at: 2)],
                compose: recorder.compose)
            try check.equal(recorder.recorded.map(\.outcome), outcomes, "compose gets each outcome")
            try check.equal(recorder.recorded.map { $0.scenario?.occurrences }, [1, 2, 2], "scenario after each alert")
            try check.equal(recorder.recorded.map { $0.scenario?.status }, [.open, .open, .resolved], "status after")
            try check.equal(
                recorder.recorded.map(\.alert.receivedAt), [0, 1, 2].map { Fixture.time($0).truncatedToMilliseconds },
                "compose gets the alert as stored")
            let pending = try await store.pendingOutbox(limit: 10)
            try check.equal(pending.map(\.draft.text), ["opened x1", "repeated x2", "resolved x2"], "outbox texts")
            try check.equal(pending[0].draft.purpose, .announcement, "purpose")
            try check.equal(pending[0].draft.scenarioID, outcomes[0].scenarioID, "draft scenario")
            try check.equal(
                pending[1].draft.replyTo, MessageRef(transport: "console", chat: "ops", messageID: "m\(outcomes[1].alertID)"),
                "replyTo")
            try check.equal(pending[2].draft.chat, "web-1", "chat")
            try check.equal(pending.map(\.attempts), [0, 0, 0], "attempts")
        },
        Case("ingest is atomic: a bad draft writes nothing") { store, check in
            _ = try await store.ingestOne(Fixture.alert("cpu", at: 0))
            let before = try await store.scenarios(ScenarioQuery())
            try await check.throwsStoreError(.scenarioNotFound, mentioning: "999", "draft for scenario 999") {
                _ = try await store.ingest([Fixture.alert(at: 1), Fixture.alert("cpu", at: 2)]) { _, outcome, _ in
                    outcome.disposition == .repeated ? [OutboxDraft(scenarioID: 999, purpose: .reply, text: "x")] : []
                }
            }
            try check.equal(try await store.scenarios(ScenarioQuery()), before, "scenarios unchanged")
            try check.equal(try await store.pendingOutbox(limit: 10).count, 0, "outbox unchanged")
            try check.equal(try await store.events(of: before[0].id).count, 1, "events unchanged")
        },
        Case("concurrent ingests keep one active scenario per fingerprint") { store, check in
            let outcomes = try await withThrowingTaskGroup(of: IngestOutcome.self) { group in
                for index in 0..<20 {
                    group.addTask { try await store.ingestOne(Fixture.alert(index % 2 == 0 ? "disk" : "cpu", at: Double(index))) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            try check.equal(Set(outcomes.map(\.alertID)).count, 20, "distinct alert ids")
            try check.equal(outcomes.filter { $0.disposition == .opened }.count, 2, "opened once per fingerprint")
            let active = try await store.scenarios(ScenarioQuery(status: .open))
            try check.equal(active.map(\.occurrences), [10, 10], "occurrences")
        },
    ]
}
