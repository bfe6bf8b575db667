import Foundation
import TeleOpsCore

extension ScenarioStoreConformance {
    static let appendCases: [Case] = [
        Case("command events come back from the newest of the log, oldest first") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            func dispatched(_ task: String) -> NewEvent {
                NewEvent(scenarioID: id, actor: "ana", body: .commandDispatched(DispatchFacts(taskID: task, action: "disk", argv: ["df"], host: "web-1")))
            }
            try await store.append([dispatched("old")], outbox: [])
            try await store.append([NewEvent(scenarioID: id, actor: "ana", body: .note(NoteFacts(text: "between")))], outbox: [])
            try await store.append([dispatched("a"), dispatched("b")], outbox: [])
            try await store.append([NewEvent(scenarioID: id, actor: "teleops", body: .commandLost(LostFacts(
                taskID: "a", action: "disk", worker: "w", reason: "gone")))], outbox: [])
            let all = try await store.commandEvents(amongNewest: 1000)
            try check.equal(all.map(\.kind), [.commandDispatched, .commandDispatched, .commandDispatched, .commandLost], "kinds, oldest first")
            try check.equal(CommandLedger.unfinished(all).map(\.dispatch.taskID), ["old", "b"], "dispatches without an end")
            let newest = try await store.commandEvents(amongNewest: 3)
            try check.equal(newest.map(\.kind), [.commandDispatched, .commandDispatched, .commandLost], "only the three newest events")
            try check.equal(try await store.commandEvents(amongNewest: 0), [], "none")
        },
        Case("acknowledge, note and resolve through append change the status") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            let acked = try await store.append(
                [NewEvent(scenarioID: id, at: Fixture.time(10), actor: "ana", body: .acknowledged)], outbox: [])
            try check.equal(acked.map(\.kind), [.acknowledged], "returned events")
            var scenario = try check.unwrap(try await store.scenario(id: id), "scenario")
            try check.equal(scenario.status, .acknowledged, "status after ack")
            try check.equal(scenario.acknowledgedBy, "ana", "acknowledgedBy")
            try check.equal(scenario.updatedAt, Fixture.time(10).truncatedToMilliseconds, "updatedAt")
            try await store.append(
                [
                    NewEvent(scenarioID: id, at: Fixture.time(11), actor: "bob", body: .acknowledged),
                    NewEvent(scenarioID: id, at: Fixture.time(12), actor: "bob", body: .note(NoteFacts(text: "on it too"))),
                ], outbox: [])
            scenario = try check.unwrap(try await store.scenario(id: id), "scenario")
            try check.equal(scenario.acknowledgedBy, "ana", "a second ack keeps the first engineer")
            try check.equal(scenario.status, .acknowledged, "a note leaves the status")
            try check.equal(try await store.newestActiveScenario()?.id, id, "acknowledged is still active")
            let repeated = try await store.ingestOne(Fixture.alert(at: 13))
            try check.equal(repeated.disposition, .repeated, "a repeat joins an acknowledged scenario")
            try check.equal(repeated.scenarioID, id, "repeat scenario")
            try check.equal(try await store.scenario(id: id)?.status, .acknowledged, "a repeat keeps the acknowledgement")
            let resolved = try await store.append(
                [NewEvent(scenarioID: id, at: Fixture.time(20), actor: "ana", body: .resolved(NoteFacts(text: "rotated logs")))],
                outbox: [OutboxDraft(scenarioID: id, purpose: .reply, text: "resolved by ana")])
            scenario = try check.unwrap(try await store.scenario(id: id), "scenario")
            try check.equal(scenario.status, .resolved, "status after resolve")
            try check.equal(scenario.resolvedAt, Fixture.time(20).truncatedToMilliseconds, "resolvedAt")
            try check.equal(try await store.newestActiveScenario(), nil, "no active scenario")
            try check.equal(try await store.pendingOutbox(limit: 10).map(\.draft.text), ["resolved by ana"], "outbox")
            let events = try await store.events(of: id)
            try check.equal(
                events.map(\.kind), [.alertFired, .acknowledged, .acknowledged, .note, .alertRepeated, .resolved], "event kinds")
            try check.equal(events.last, resolved.last, "append returns the stored event")
            let next = try await store.ingestOne(Fixture.alert(at: 30))
            try check.equal(next.disposition, .opened, "firing after a manual resolve opens a new scenario")
        },
        Case("append to a missing scenario throws and writes nothing") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            try await check.throwsStoreError(.scenarioNotFound, mentioning: "4242", "event for scenario 4242") {
                try await store.append(
                    [
                        NewEvent(scenarioID: id, at: Fixture.time(1), actor: "ana", body: .acknowledged),
                        NewEvent(scenarioID: 4242, at: Fixture.time(2), actor: "ana", body: .note(NoteFacts(text: "x"))),
                    ], outbox: [OutboxDraft(scenarioID: id, purpose: .reply, text: "x")])
            }
            try await check.throwsStoreError(.scenarioNotFound, mentioning: "4343", "draft for scenario 4343") {
                try await store.append(
                    [NewEvent(scenarioID: id, at: Fixture.time(1), actor: "ana", body: .acknowledged)],
                    outbox: [OutboxDraft(scenarioID: 4343, purpose: .reply, text: "x")])
            }
            try check.equal(try await store.events(of: id).map(\.kind), [.alertFired], "events unchanged")
            try check.equal(try await store.scenario(id: id)?.status, .open, "status unchanged")
            try check.equal(try await store.pendingOutbox(limit: 10).count, 0, "outbox unchanged")
        },
        Case("every event kind round trips, oldest first, and encodes as JSON") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            let bodies = Fixture.everyKind
            try check.equal(Set(bodies.map(\.kind)), Set(EventKind.allCases), "the suite covers every kind")
            let new = bodies.enumerated().map { index, body in
                NewEvent(scenarioID: id, at: Fixture.time(Double(index) + 0.000_9), actor: "actor-\(index)", body: body)
            }
            let returned = try await store.append(Array(new.prefix(5)), outbox: [])
                + (try await store.append(Array(new.dropFirst(5)), outbox: []))
            try check.equal(returned.map(\.body), bodies, "returned bodies")
            try check.equal(returned.map(\.at), new.map(\.at.truncatedToMilliseconds), "returned times (ms)")
            let stored = try await store.events(of: id)
            try check.equal(Array(stored.dropFirst()), returned, "stored events equal the returned ones")
            try check.equal(stored.map(\.id), stored.map(\.id).sorted(), "oldest first")
            try check.equal(Set(stored.map(\.id)).count, stored.count, "distinct ids")
            for event in stored {
                let json = try JSONEncoder().encode(event)
                try check.equal(try JSONDecoder().decode(ScenarioEvent.self, from: json), event, "JSON round trip of \(event.kind)")
                let object = try JSONDecoder().decode(JSONValue.self, from: json)
                try check.equal(object["kind"], .string(event.kind.rawValue), "JSON kind of \(event.kind)")
                try check.isTrue(object["data"] != nil, "JSON data of \(event.kind)")
            }
        },
        Case("unknown ids read as nothing") { store, check in
            try check.equal(try await store.scenario(id: 1), nil, "scenario(id:) on an empty store")
            try check.equal(try await store.events(of: 1), [], "events(of:) on an empty store")
            try check.equal(try await store.newestActiveScenario(), nil, "newestActiveScenario on an empty store")
            let ref = MessageRef(transport: "telegram", chat: "1", messageID: "1")
            try check.equal(try await store.scenarioID(for: ref), nil, "scenarioID(for:) of an unknown message")
            try check.equal(try await store.pendingOutbox(limit: 10), [], "pendingOutbox on an empty store")
        },
    ]
}

extension ScenarioStoreConformance {
    /// One event body of every kind (what the suite appends), for tests beyond the suite.
    public static var bodyOfEveryKind: [EventBody] { Fixture.everyKind }
}

extension Fixture {
    /// One body of every kind, with text that needs escaping and a fractional duration.
    static let everyKind: [EventBody] = [
        .alertFired(AlertFacts(alertID: 1, source: "sensu", severity: .critical, summary: "disk /var 95% \"full\"")),
        .alertRepeated(AlertFacts(alertID: 2, source: "sensu", severity: .error, summary: "still full")),
        .notified(MessageRef(transport: "telegram", chat: "-100123", messageID: "77")),
        .replyReceived(ReplyFacts(transport: "telegram", text: "disk web-1 /var ✓")),
        .replyRefused(RefusalFacts(text: "rm -rf /", reason: "not in the catalogue", userID: "555")),
        .commandRejected(RefusalFacts(text: "restart db", reason: "needs approval")),
        .commandDispatched(DispatchFacts(taskID: "t-1", action: "disk", argv: ["df", "-h", "/var"], host: "web-1")),
        .commandFinished(
            TaskResult(
                taskID: "t-1", action: "disk", worker: "w-1", exitCode: 0, signal: nil, timedOut: false,
                durationMs: 12.345, output: "Filesystem  Use%\n/dev/sda1 95% \\ \u{1}", truncated: true)),
        .commandLost(LostFacts(taskID: "t-2", action: "restart", worker: "w-1", reason: "worker went away")),
        .commandDispatched(DispatchFacts(taskID: "t-3", action: "restart", argv: ["systemctl"], host: "role=web", worker: "w-2")),
        .cancelRequested(CancelFacts(taskID: "t-3", action: "restart")),
        .commandFinished(
            TaskResult(
                taskID: "t-3", action: "restart", worker: "w-2", exitCode: nil, signal: 15, timedOut: false,
                durationMs: 2001, output: "", truncated: false, cancelled: true)),
        .acknowledged,
        .note(NoteFacts(text: "")),
        .silenced(SilenceFacts(until: Date(millisecondsSince1970: 1_750_000_000_123))),
        .handedOff(HandoffFacts(to: "bo", note: "disk at 97%; logs rotated")),
        .alertResolved(AlertFacts(alertID: 3, source: "sensu", severity: .info, summary: "ok")),
        .resolved(NoteFacts(text: "fixed by log rotation")),
    ]
}
