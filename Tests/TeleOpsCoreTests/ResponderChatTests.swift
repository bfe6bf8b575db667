import Foundation
import Logging
import ServiceLifecycle
import Testing
import TeleOpsTesting
@testable import TeleOpsCore

/// Button presses, silence, and the inbox: what the responder does with chat platforms.
@Suite struct ResponderChatTests {
    @Test func aButtonPressActsLikeTheReplyItStandsFor() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        let composer = NotificationComposer(catalogue: .defaults)
        let scenario = try #require(try await fixture.store.scenario(id: id))
        let ack = try #require(composer.buttons(for: scenario).first { $0.label == "Ack" })
        let announcement = MessageRef(transport: "memory", chat: "chat", messageID: "out-1")
        await fixture.responder.handle(IncomingMessage(
            ref: announcement, userID: "u-ana", displayName: "ana", text: ack.command, replyTo: announcement, kind: .button))
        #expect(try await fixture.store.scenario(id: id)?.acknowledgedBy == "ana")
        let pending = try await fixture.store.pendingOutbox(limit: 10)
        #expect(pending.first?.draft.replyTo == announcement, "the answer goes in the announcement's thread")
        #expect(pending.last?.draft.purpose == .update)

        let run = try #require(composer.buttons(for: scenario).first { $0.label == "▶ disk" })
        await fixture.responder.handle(IncomingMessage(
            ref: announcement, userID: "u-ana", displayName: "ana", text: run.command, replyTo: announcement, kind: .button))
        #expect(fixture.dispatcher.requests.map(\.action) == ["disk"], "the suggested action runs with one tap")
    }

    @Test func silenceKeepsEscalationsOutOfChatUntilItEnds() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        await fixture.say("silence 2h30m")
        let scenario = try #require(try await fixture.store.scenario(id: id))
        let until = try #require(scenario.silencedUntil)
        #expect(abs(until.timeIntervalSinceNow - 9000) < 60)
        #expect(try await fixture.said().last?.hasPrefix("🔕 #\(id) silenced by ana for 2h30m") == true)
        #expect(try await fixture.updates().last?.text.contains("🔕 Silenced until") == true)

        let composer = NotificationComposer(catalogue: .defaults)
        let louder = Alert(source: "generic", host: "web-1", check: "disk", severity: .critical, status: .firing, summary: "worse")
        var escalated = scenario
        escalated.severity = .critical
        let outcome = IngestOutcome(alertID: 2, scenarioID: id, disposition: .escalated)
        #expect(composer.drafts(for: louder, outcome: outcome, scenario: escalated).map(\.purpose) == [.update], "silenced: only the edit")
        var later = louder
        later.receivedAt = until.addingTimeInterval(1)
        #expect(composer.drafts(for: later, outcome: outcome, scenario: escalated).map(\.purpose) == [.reply, .update])

        await fixture.say("silence forever")
        #expect(try await fixture.said().last?.contains("silence needs a duration from 1m to 7d") == true)
        await fixture.say("silence 8d")
        #expect(try await fixture.said().last?.contains("silence needs a duration") == true)
    }

    /// A controller that stopped while a command ran leaves its dispatch without an end; the
    /// next one ends it as lost at start and says so in the scenario's thread, once.
    @Test func commandsTheLastRunLeftRunningAreEndedAsLostAtStart() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        try await fixture.store.append([NewEvent(scenarioID: id, actor: "ana", body: .commandDispatched(DispatchFacts(
            taskID: "t-left-running", action: "disk", argv: ["df"], host: "web-1", worker: "local-1")))], outbox: [])
        for _ in 0..<2 {
            let group = ServiceGroup(services: [fixture.responder], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                for _ in 0..<200 where try await !fixture.store.events(of: id).contains(where: { $0.kind == .commandLost }) {
                    try await Task.sleep(for: .milliseconds(10))
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
        let lost = try await fixture.store.events(of: id).compactMap { event -> LostFacts? in
            if case .commandLost(let facts) = event.body { facts } else { nil }
        }
        #expect(lost.map(\.taskID) == ["t-left-running"], "ended once, though the responder started twice")
        #expect(lost.first?.worker == "local-1")
        #expect(lost.first?.reason.contains("the controller stopped while it ran") == true)
        let notice = try #require(try await fixture.store.pendingOutbox(afterID: nil, limit: 50).last)
        #expect(notice.draft.text.hasPrefix("⚠️ #\(id) disk on local-1 (task t-left-r) was lost"))
        #expect(notice.draft.scenarioID == id)
    }

    @Test func inboxMessagesAreSettledByTheFirstWriteAndLeftoversHandledAtStart() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        let stored = try await fixture.store.receive(
            [IncomingMessage(ref: MessageRef(transport: "memory", chat: "chat", messageID: "in-1"), userID: "u-ana",
                             displayName: "ana", text: "note first", deliveryID: "d-1"),
             IncomingMessage(ref: MessageRef(transport: "memory", chat: "chat", messageID: "in-2"), userID: "u-ana",
                             displayName: "ana", text: "note second", deliveryID: "d-2")],
            cursor: nil)
        await fixture.responder.handle(stored[0])
        await fixture.responder.handle(stored[0])
        #expect(try await fixture.store.unsettledIncoming(limit: 10).map(\.text) == ["note second"])

        // A responder starting over this store handles the one left, once.
        let group = ServiceGroup(services: [fixture.responder], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for _ in 0..<200 where try await !fixture.store.unsettledIncoming(limit: 10).isEmpty {
                try await Task.sleep(for: .milliseconds(10))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let notes = try await fixture.store.events(of: id).compactMap { event -> String? in
            if case .note(let note) = event.body { note.text } else { nil }
        }
        #expect(notes == ["first", "second"])
        #expect(try await fixture.store.unsettledIncoming(limit: 10).isEmpty)
    }
}
