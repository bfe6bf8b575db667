import Foundation
import TeleOpsCore

extension ScenarioStoreConformance {
    static func incoming(_ number: Int, transport: String = "telegram", delivery: String? = nil, replyTo: MessageRef? = nil) -> IncomingMessage {
        IncomingMessage(
            ref: MessageRef(transport: transport, chat: "-100", messageID: "\(number)"), userID: "42", displayName: "ana",
            text: "run disk \(number)", replyTo: replyTo, kind: number.isMultiple(of: 2) ? .button : .text,
            deliveryID: delivery)
    }

    static let chatCases: [Case] = [
        Case("the inbox takes each delivery once, keeps cursors, and settles with append") { store, check in
            try check.equal(try await store.cursor(named: "telegram.offset"), nil, "unset cursor")
            let parent = MessageRef(transport: "telegram", chat: "-100", messageID: "7")
            let first = try await store.receive(
                [incoming(1, delivery: "update:1", replyTo: parent), incoming(2, delivery: "update:2")],
                cursor: ChatCursor(name: "telegram.offset", value: "3"))
            try check.equal(first.count, 2, "both new")
            try check.isTrue(first.allSatisfy { $0.inboxID != nil }, "inbox ids given")
            try check.equal(first[0].replyTo, parent, "replyTo kept")
            try check.equal(try await store.cursor(named: "telegram.offset"), "3", "cursor set with the messages")
            let again = try await store.receive(
                [incoming(2, delivery: "update:2"), incoming(3, delivery: "update:3"), incoming(3, transport: "slack", delivery: "update:3")],
                cursor: ChatCursor(name: "telegram.offset", value: "4"))
            try check.equal(again.map(\.ref.messageID), ["3", "3"], "a repeat delivery is not taken again; other transports are separate")
            try check.equal(try await store.cursor(named: "telegram.offset"), "4", "cursor moves")
            let untracked = try await store.receive([incoming(5), incoming(5)], cursor: nil)
            try check.equal(untracked.count, 2, "messages without a delivery id are always new")

            let unsettled = try await store.unsettledIncoming(limit: 100)
            try check.equal(unsettled.map(\.inboxID), (first + again + untracked).map(\.inboxID), "unsettled, oldest first")
            try check.equal(unsettled.first, first.first, "read back whole (kind, delivery, reply)")
            try check.equal(unsettled[1].kind, .button, "kind kept")

            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            try await store.append(
                [NewEvent(scenarioID: id, actor: "ana", body: .note(NoteFacts(text: "on it")))], outbox: [],
                settling: first[0].inboxID)
            try await store.append([], outbox: [], settling: first[0].inboxID)
            try check.equal(
                try await store.unsettledIncoming(limit: 100).map(\.inboxID), Array(unsettled.dropFirst()).map(\.inboxID),
                "settled once, settling again does nothing")
            try check.equal(try await store.unsettledIncoming(limit: 1).count, 1, "limit")
            try await check.throwsStoreError(.inboxMessageNotFound, mentioning: "777", "settling inbox 777") {
                try await store.append([NewEvent(scenarioID: id, actor: "ana", body: .note(NoteFacts(text: "x")))], outbox: [], settling: 777)
            }
            try check.equal(try await store.events(of: id).count, 2, "a failed settle writes nothing")
        },
        Case("announcements are kept per transport and every part of a split message maps to its scenario") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            try await store.append([], outbox: [
                OutboxDraft(scenarioID: id, purpose: .announcement, text: "disk on web-1"),
                OutboxDraft(scenarioID: id, purpose: .announcement, text: "disk on web-1, on slack", transport: "slack"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "long output"),
                OutboxDraft(scenarioID: id, purpose: .update, text: "acknowledged"),
            ])
            let pending = try await store.pendingOutbox(limit: 10)
            let telegram = MessageRef(transport: "telegram", chat: "-100", messageID: "10")
            let slack = MessageRef(transport: "slack", chat: "C1", messageID: "1700000000.000100")
            let parts = (11...13).map { MessageRef(transport: "telegram", chat: "-100", messageID: "\($0)") }
            try await store.markSent(outboxID: pending[1].id, as: [slack])
            try await store.markSent(outboxID: pending[0].id, as: [telegram])
            try await store.markSent(outboxID: pending[2].id, as: parts)
            try await store.markSent(outboxID: pending[3].id, as: [])
            try check.equal(try await store.announcements(of: id), [slack, telegram], "one announcement per transport, ordered")
            for part in parts {
                try check.equal(try await store.scenarioID(for: part), id, "part \(part.messageID) maps")
            }
            try check.equal(try await store.pendingOutbox(limit: 10), [], "an update with no new message is sent")
            try check.equal(
                try await store.events(of: id).map(\.kind), [.alertFired, .notified, .notified], "a notified event per announcement")
            try check.equal(try await store.announcements(of: 999), [], "unknown scenario")
        },
        Case("outbox drafts keep buttons, transport and purpose, and pending pages after an id") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            let buttons = [ChatButton(label: "Ack", command: "#1 ack"), ChatButton(label: "Silence 1h", command: "#1 silence 1h")]
            let drafts = [
                OutboxDraft(scenarioID: id, purpose: .announcement, text: "a", buttons: buttons),
                OutboxDraft(scenarioID: id, purpose: .update, text: "b", buttons: [], transport: "slack"),
                OutboxDraft(scenarioID: nil, purpose: .reply, text: "c", chat: "C2", transport: "slack"),
            ]
            try await store.append([], outbox: drafts)
            let pending = try await store.pendingOutbox(limit: 10)
            try check.equal(pending.map(\.draft), drafts, "drafts read back whole")
            try check.equal(
                try await store.pendingOutbox(afterID: pending[0].id, limit: 10).map(\.id), pending.dropFirst().map(\.id),
                "after an id")
            try check.equal(try await store.pendingOutbox(afterID: pending[2].id, limit: 10), [], "after the last")
        },
        Case("a silence is kept on the scenario until it is read back") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            let until = Fixture.time(3600).addingTimeInterval(0.000_6)
            try await store.append([NewEvent(scenarioID: id, at: Fixture.time(1), actor: "ana", body: .silenced(SilenceFacts(until: until)))], outbox: [])
            let scenario = try check.unwrap(try await store.scenario(id: id), "scenario")
            try check.equal(scenario.silencedUntil, until.truncatedToMilliseconds, "silenced until, in ms")
            try check.isTrue(scenario.isSilenced(at: Fixture.time(3599)), "silenced before")
            try check.isTrue(!scenario.isSilenced(at: Fixture.time(3601)), "not after")
            try check.equal(try await store.events(of: id).last?.body, .silenced(SilenceFacts(until: until)), "event kept")
        },
    ]
}
