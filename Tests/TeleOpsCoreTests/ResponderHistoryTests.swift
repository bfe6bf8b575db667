import Foundation
import Testing
import TeleOpsTesting
@testable import TeleOpsCore

/// `history` in a scenario's thread, and `handoff @name`.
@Suite struct ResponderHistoryTests {
    @Test func historyShowsTheTimelineWithRepeatsFoldedAndCommandOutcomes() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        for _ in 0..<3 { try await fixture.fire() }  // repeats of the same alert
        await fixture.say("run uptime")
        await fixture.say("note checked the mounts")
        await fixture.say("history")
        let history = try #require(try await fixture.said().last)
        let lines = history.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("🕘 #\(id) web-1 disk · open, opened ") == true)
        #expect(lines.contains("  … repeated 3 times"))
        #expect(lines.contains { $0.hasSuffix("uptime: exit 0 in 2.5 ms") })
        #expect(lines.contains { $0.hasSuffix("ana: note: checked the mounts") })
        #expect(!lines.contains { $0.contains("dispatched") }, "the reply and the result say it")
        #expect(try await fixture.kinds(id).last == .note, "reading the history changes nothing in the log")
    }

    @Test func aLongHistoryKeepsTheNewestEntries() {
        let scenario = Scenario.opening(with: Alert(source: "generic", host: "h", check: "c", severity: .info, status: .firing,
                                                    summary: "s"), id: 9, previousID: 4)
        let events = (1...60).map { ScenarioEvent(id: Int64($0), scenarioID: 9, at: Date(), actor: "ana", body: .note(NoteFacts(text: "n\($0)"))) }
        let text = NotificationComposer(catalogue: .defaults).history(scenario, events: events, maxLines: 10)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 12)
        #expect(lines[0].hasSuffix("· seen before: #4"))
        #expect(lines[1] == "… 50 earlier entries (teleops scenarios show 9 has them all)")
        #expect(lines.last?.hasSuffix("ana: note: n60") == true)
    }

    @Test func handoffGivesTheScenarioToAnotherResponderWithTheNote() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        await fixture.say("run uptime")
        await fixture.say("handoff @bo disk at 97%, old logs rotated; watch /var")
        let said = try #require(try await fixture.said().last)
        #expect(said.hasPrefix("🤝 #\(id) handed to @bo by ana: disk at 97%, old logs rotated; watch /var"))
        #expect(said.contains("Run so far: uptime (ok)"))
        let scenario = try #require(try await fixture.store.scenario(id: id))
        #expect(scenario.status == .acknowledged)
        #expect(scenario.acknowledgedBy == "bo")
        let last = try #require(try await fixture.store.events(of: id).last)
        #expect(last.actor == "ana")
        #expect(last.body == .handedOff(HandoffFacts(to: "bo", note: "disk at 97%, old logs rotated; watch /var")))
        #expect(try await fixture.updates().last?.text.contains("Acknowledged by bo") == true, "the announcement shows the new owner")
        #expect(try await fixture.store.scenarios(ScenarioQuery(text: "rotated")).map(\.id) == [id], "the note is searchable")
    }

    @Test func handoffToSomeoneWhoCannotTakeItIsRefusedWithTheChoices() async throws {
        let fixture = ResponderFixture()
        _ = try await fixture.fire()
        await fixture.say("handoff @zed")
        #expect(try await fixture.said().last == "There is no engineer named @zed; handoff to one of: @ana, @vic, @bo.")
        await fixture.say("handoff @vic")
        #expect(try await fixture.said().last?.contains("@vic is not a responder") == true)
        await fixture.say("handoff bo")
        #expect(try await fixture.said().last?.contains("handoff needs an engineer: handoff @NAME [NOTE]") == true)
    }
}
