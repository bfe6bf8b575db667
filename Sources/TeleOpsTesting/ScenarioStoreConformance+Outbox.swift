import Foundation
import TeleOpsCore

extension ScenarioStoreConformance {
    static let outboxCases: [Case] = [
        Case("the outbox feed hands over what each commit queued, in id order, and nothing of a failed batch") { store, check in
            let feed = try check.unwrap(store.outboxFeed, "outbox feed")
            _ = feed.take(upTo: .max)
            // The middle batch fails on its second alert (a draft for a scenario that does not
            // exist), after its first alert's announcement was queued: that must not be handed over.
            let results = try await store.ingest(batches: [
                [Fixture.alert("disk", host: "web-1")],
                [Fixture.alert("disk", host: "web-2"), Fixture.alert("cpu", host: "web-2")],
                [Fixture.alert("ntp", host: "web-3")],
            ]) { alert, outcome, _ in
                [OutboxDraft(scenarioID: alert.check == "cpu" ? 9999 : outcome.scenarioID, purpose: .announcement,
                             text: alert.summary)]
            }
            try check.equal(results.map { (try? $0.get()) != nil }, [true, false, true], "only the middle batch failed")
            try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "help")])
            let handed = try check.unwrap(feed.take(upTo: .max), "nothing dropped")
            try check.equal(handed, try await store.pendingOutbox(limit: 10), "exactly what the store reads back as pending")
            try check.equal(handed.map(\.draft.text), ["disk on web-1 is warning", "ntp on web-3 is warning", "help"],
                            "in commit order")
            try check.equal(feed.take(upTo: .max), [], "taken once")
        },
        Case("markSent maps the message and only announcements append notified") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            try await store.append([], outbox: [
                OutboxDraft(scenarioID: id, purpose: .announcement, text: "disk on web-1"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "done"),
                OutboxDraft(scenarioID: nil, purpose: .reply, text: "help"),
            ])
            let pending = try await store.pendingOutbox(limit: 10)
            try check.equal(pending.count, 3, "pending")
            let refs = (1...3).map { MessageRef(transport: "telegram", chat: "-100", messageID: "\($0)") }
            for (message, ref) in zip(pending, refs) {
                try await store.markSent(outboxID: message.id, as: ref)
            }
            try check.equal(try await store.pendingOutbox(limit: 10), [], "nothing pending once sent")
            try check.equal(try await store.scenarioID(for: refs[0]), id, "announcement maps to its scenario")
            try check.equal(try await store.scenarioID(for: refs[1]), id, "reply maps to its scenario")
            try check.equal(try await store.scenarioID(for: refs[2]), nil, "a message with no scenario maps to none")
            try await store.markSent(outboxID: pending[0].id, as: refs[0])
            let events = try await store.events(of: id)
            try check.equal(events.map(\.kind), [.alertFired, .notified], "one notified, even after a second markSent")
            try check.equal(events.last?.body, .notified(refs[0]), "notified carries the ref")
            try check.equal(events.last?.actor, "teleops", "notified actor")
            try check.equal(events.last.map { $0.at == $0.at.truncatedToMilliseconds }, true, "notified time in ms")
            try await check.throwsStoreError(.outboxMessageNotFound, mentioning: "9999", "markSent of outbox 9999") {
                try await store.markSent(outboxID: 9999, as: refs[0])
            }
        },
        Case("a draft keeps every field it was queued with, its route included") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            let drafts = [
                OutboxDraft(scenarioID: id, purpose: .announcement, text: "🔴 #1", buttons: [ChatButton(label: "Ack", command: "#1 ack")],
                            route: "database"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "seen before", route: "database"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "in a chat", replyTo: MessageRef(transport: "slack", chat: "C1", messageID: "1.2"),
                            chat: "C1", transport: "slack", key: "k"),
            ]
            try await store.append([], outbox: drafts)
            try check.equal(try await store.pendingOutbox(limit: 10).map(\.draft), drafts, "read back as queued")
        },
        Case("a keyed draft keeps its key, and the messages it was posted as are found by it") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            try await store.append([], outbox: [
                OutboxDraft(scenarioID: id, purpose: .reply, text: "⏳ running 2 s", key: "progress-t1"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "plain"),
            ])
            let pending = try await store.pendingOutbox(limit: 10)
            try check.equal(pending.map(\.draft.key), ["progress-t1", nil], "keys read back")
            try check.equal(try await store.messages(keyed: "progress-t1"), [], "nothing posted yet")
            let slack = MessageRef(transport: "slack", chat: "C1", messageID: "17.1")
            let telegram = MessageRef(transport: "telegram", chat: "-100", messageID: "5")
            try await store.markSent(outboxID: pending[0].id, as: [telegram, slack])
            try await store.markSent(outboxID: pending[1].id, as: MessageRef(transport: "telegram", chat: "-100", messageID: "6"))
            try check.equal(try await store.messages(keyed: "progress-t1"), [slack, telegram], "by transport, chat, id")
            try check.equal(try await store.messages(keyed: "progress-t2"), [], "another key")
            try check.equal(try await store.scenarioID(for: telegram), id, "a keyed message maps to its scenario")
            try check.equal(try await store.announcements(of: id), [], "a keyed reply is no announcement")
        },
        Case("markFailed counts attempts and giveUp leaves the queue") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            try await store.append([], outbox: [
                OutboxDraft(scenarioID: id, purpose: .announcement, text: "a"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "b"),
            ])
            let pending = try await store.pendingOutbox(limit: 10)
            try await store.markFailed(outboxID: pending[0].id, reason: "429 rate limited", giveUp: false)
            try await store.markFailed(outboxID: pending[0].id, reason: "503", giveUp: false)
            try check.equal(try await store.pendingOutbox(limit: 10).map(\.attempts), [2, 0], "attempts")
            try await store.markFailed(outboxID: pending[1].id, reason: "400 chat not found", giveUp: true)
            try check.equal(try await store.pendingOutbox(limit: 10).map(\.id), [pending[0].id], "given up leaves")
            try check.equal(try await store.events(of: id).map(\.kind), [.alertFired], "no notified on failure")
            try await check.throwsStoreError(.outboxMessageNotFound, mentioning: "8888", "markFailed of outbox 8888") {
                try await store.markFailed(outboxID: 8888, reason: "x", giveUp: true)
            }
        },
        Case("pending outbox is oldest first and honours the limit") { store, check in
            let id = try check.unwrap(try await store.ingestOne(Fixture.alert()).scenarioID, "scenario")
            for index in 0..<5 {
                try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .reply, text: "m\(index)")])
            }
            let firstThree = try await store.pendingOutbox(limit: 3)
            try check.equal(firstThree.map(\.draft.text), ["m0", "m1", "m2"], "oldest first")
            try check.equal(firstThree.map(\.id), firstThree.map(\.id).sorted(), "ids ascend")
            try check.isTrue(firstThree.allSatisfy { $0.createdAt == $0.createdAt.truncatedToMilliseconds }, "createdAt in ms")
            try check.equal(try await store.pendingOutbox(limit: 0), [], "limit 0")
            try await store.markSent(outboxID: firstThree[0].id, as: MessageRef(transport: "console", chat: "c", messageID: "1"))
            try await store.markFailed(outboxID: firstThree[1].id, reason: "gone", giveUp: true)
            try check.equal(try await store.pendingOutbox(limit: 10).map(\.draft.text), ["m2", "m3", "m4"], "after send")
        },
    ]

    static let queryCases: [Case] = [
        Case("scenario queries filter by status and host, newest first, with paging") { store, check in
            var ids: [String: Int64] = [:]
            for (index, (check, host)) in [("a", "web-1"), ("b", "web-2"), ("c", "web-1"), ("d", "web-2"), ("e", "web-1")]
                .enumerated()
            {
                ids[check] = try await store.ingestOne(Fixture.alert(check, host: host, at: Double(index))).scenarioID
            }
            _ = try await store.ingestOne(Fixture.alert("c", host: "web-1", status: .resolved, at: 10))
            try await store.append([NewEvent(scenarioID: ids["d"]!, actor: "ana", body: .acknowledged)], outbox: [])
            func checks(_ query: ScenarioQuery) async throws -> [String] {
                try await store.scenarios(query).map(\.check)
            }
            try check.equal(try await checks(ScenarioQuery()), ["e", "d", "c", "b", "a"], "all, newest first")
            try check.equal(try await checks(ScenarioQuery(status: .open)), ["e", "b", "a"], "open")
            try check.equal(try await checks(ScenarioQuery(status: .acknowledged)), ["d"], "acknowledged")
            try check.equal(try await checks(ScenarioQuery(status: .resolved)), ["c"], "resolved")
            try check.equal(try await checks(ScenarioQuery(host: "web-1")), ["e", "c", "a"], "host")
            try check.equal(try await checks(ScenarioQuery(status: .open, host: "web-2")), ["b"], "status and host")
            try check.equal(try await checks(ScenarioQuery(host: "db-9")), [], "unknown host")
            let page1 = try await store.scenarios(ScenarioQuery(limit: 2))
            try check.equal(page1.map(\.check), ["e", "d"], "page 1")
            let page2 = try await checks(ScenarioQuery(limit: 2, beforeID: page1.last?.id))
            try check.equal(page2, ["c", "b"], "page 2")
            try check.equal(try await checks(ScenarioQuery(host: "web-1", limit: 5, beforeID: ids["e"])), ["c", "a"],
                            "paging with a filter")
            try check.equal(try await checks(ScenarioQuery(limit: 0)), [], "limit 0")
        },
        Case("newest active scenario is the active one with the highest id") { store, check in
            try check.equal(try await store.newestActiveScenario(), nil, "empty store")
            let first = try await store.ingestOne(Fixture.alert("a", at: 0))
            let second = try await store.ingestOne(Fixture.alert("b", at: 1))
            try check.equal(try await store.newestActiveScenario()?.id, second.scenarioID, "the newest")
            _ = try await store.ingestOne(Fixture.alert("b", status: .resolved, at: 2))
            try check.equal(try await store.newestActiveScenario()?.id, first.scenarioID, "after the newest resolves")
            _ = try await store.ingestOne(Fixture.alert("a", at: 3))
            try check.equal(try await store.newestActiveScenario()?.id, first.scenarioID, "a repeat does not reorder")
        },
    ]
}
