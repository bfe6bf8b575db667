import Foundation
import TeleOpsCore

extension ScenarioStoreConformance {
    /// Escalation, acknowledgement by the source, retries, and group commit.
    static let lifecycleCases: [Case] = [
        Case("a repeat that raises severity escalates, others repeat") { store, check in
            _ = try await store.ingestOne(Fixture.alert(severity: .warning, at: 0))
            var dispositions: [IngestOutcome.Disposition] = []
            for (second, severity) in [(1, Severity.critical), (2, .critical), (3, .warning), (4, .info)] {
                dispositions.append(try await store.ingestOne(Fixture.alert(severity: severity, at: Double(second))).disposition)
            }
            try check.equal(dispositions, [.escalated, .repeated, .repeated, .repeated], "dispositions")
        },
        Case("the source acknowledges the active scenario") { store, check in
            let unmatched = try await store.ingestOne(Fixture.alert(status: .acknowledged, at: 0))
            try check.equal(unmatched.disposition, .unmatched, "acknowledge with nothing active")
            let opened = try await store.ingestOne(Fixture.alert(at: 1))
            let acknowledged = try await store.ingestOne(Fixture.alert(status: .acknowledged, at: 2))
            try check.equal(acknowledged.disposition, .acknowledged, "disposition")
            try check.equal(acknowledged.scenarioID, opened.scenarioID, "scenario")
            let id = try check.unwrap(opened.scenarioID, "scenario id")
            let scenario = try check.unwrap(try await store.scenario(id: id), "scenario")
            try check.equal(scenario.status, .acknowledged, "status")
            try check.equal(scenario.acknowledgedBy, "generic", "acknowledged by the source")
            try check.equal(try await store.events(of: id).map(\.kind), [.alertFired, .acknowledged], "events")
        },
        Case("a retry of the same delivery changes nothing") { store, check in
            let recorder = ComposeRecorder()
            let first = try await store.ingest([Fixture.alert(at: 0, key: "k1")], compose: recorder.compose)[0]
            let retry = try await store.ingest([Fixture.alert(at: 5, key: "k1")], compose: recorder.compose)[0]
            try check.equal(retry.disposition, .duplicate, "disposition")
            try check.equal([retry.alertID, retry.scenarioID ?? -1], [first.alertID, first.scenarioID ?? -1], "ids of the first delivery")
            try check.equal(recorder.recorded.count, 1, "compose calls")
            let id = try check.unwrap(first.scenarioID, "scenario id")
            try check.equal(try await store.scenario(id: id)?.occurrences, 1, "occurrences")
            try check.equal(try await store.events(of: id).count, 1, "events")
            let next = try await store.ingestOne(Fixture.alert(at: 6, key: "k2"))
            try check.equal(next.disposition, .repeated, "a new delivery repeats")
            try check.isTrue(next.alertID == first.alertID + 1, "the retry was not journaled")
        },
        Case("the same payload after a resolve opens a new scenario") { store, check in
            let first = try await store.ingestOne(Fixture.alert(at: 0, key: "fire"))
            let resolved = try await store.ingestOne(Fixture.alert(status: .resolved, at: 1, key: "clear"))
            let resolvedAgain = try await store.ingestOne(Fixture.alert(status: .resolved, at: 2, key: "clear"))
            try check.equal([resolved.disposition, resolvedAgain.disposition], [.resolved, .duplicate], "resolve, then its retry")
            let again = try await store.ingestOne(Fixture.alert(at: 3, key: "fire"))
            try check.equal(again.disposition, .opened, "firing again")
            let scenario = try check.unwrap(try await store.scenario(id: again.scenarioID ?? -1), "new scenario")
            try check.equal(scenario.previousID, first.scenarioID, "linked to the earlier one")
        },
        Case("a retry is matched against the scenario it would act on") { store, check in
            let first = try await store.ingestOne(Fixture.alert(at: 0, key: "fire-1"))
            _ = try await store.ingestOne(Fixture.alert(status: .resolved, at: 1, key: "clear-1"))
            let second = try await store.ingestOne(Fixture.alert(at: 2, key: "fire-2"))
            try check.equal(second.disposition, .opened, "a new delivery after the resolve")
            // The first scenario's delivery, sent again while the second is active, is news
            // to the second: a repeat, not a retry.
            let late = try await store.ingestOne(Fixture.alert(at: 3, key: "fire-1"))
            try check.equal(late.disposition, .repeated, "an earlier scenario's key")
            try check.isTrue(late.alertID > second.alertID, "journaled")
            let again = try await store.ingestOne(Fixture.alert(at: 4, key: "fire-2"))
            try check.equal([again.disposition], [.duplicate], "the active scenario's own key")
            try check.equal([again.alertID, again.scenarioID ?? -1], [second.alertID, second.scenarioID ?? -1], "ids of its first delivery")
            try check.isTrue(first.scenarioID != second.scenarioID, "two scenarios")
        },
        Case("a resolve that matched nothing, sent again, is a duplicate") { store, check in
            let unmatched = try await store.ingestOne(Fixture.alert("ghost", status: .resolved, at: 0, key: "gone"))
            let retry = try await store.ingestOne(Fixture.alert("ghost", status: .resolved, at: 1, key: "gone"))
            try check.equal([unmatched.disposition, retry.disposition], [.unmatched, .duplicate], "dispositions")
            try check.equal(retry.alertID, unmatched.alertID, "the first delivery's id")
            let other = try await store.ingestOne(Fixture.alert("ghost", status: .resolved, at: 2, key: "gone-too"))
            try check.equal(other.disposition, .unmatched, "another key")
        },
        Case("group commit: each batch is all-or-nothing on its own") { store, check in
            // A draft for a scenario that does not exist makes the store throw inside the batch.
            let poison: IngestComposer = { alert, _, _ in
                alert.check == "poison" ? [OutboxDraft(scenarioID: 999_999, purpose: .reply, text: "x")] : []
            }
            let results = try await store.ingest(
                batches: [[Fixture.alert("a", at: 0)], [Fixture.alert("b", at: 1), Fixture.alert("poison", at: 2)],
                          [Fixture.alert("c", at: 3)]],
                compose: poison)
            try check.equal(results.count, 3, "one result per batch")
            try check.equal(results.map { (try? $0.get()) != nil }, [true, false, true], "which batches succeeded")
            let checks = try await store.scenarios(ScenarioQuery()).map(\.check).sorted()
            try check.equal(checks, ["a", "c"], "nothing of the failed batch is kept")
        },
    ]
}

extension Fixture {
    static func alert(
        _ check: String = "disk", status: AlertStatus = .firing, at seconds: Double, key: String
    ) -> Alert {
        var alert = alert(check, status: status, at: seconds)
        alert.idempotencyKey = key
        return alert
    }
}
