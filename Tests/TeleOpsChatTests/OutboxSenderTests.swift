import Logging
import ServiceLifecycle
import Testing
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

@Suite struct OutboxSenderTests {
    static let quick = OutboxSender.Settings(backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(20)), idleCheck: .seconds(5))

    /// Runs a sender over `store` and `chat` while `body` runs, then stops it.
    func withSender(
        store: any ScenarioStore, chat: MemoryChatTransport, doorbell: Doorbell, _ body: () async throws -> Void
    ) async throws {
        try await withSender(store: store, transports: [chat], settings: Self.quick, doorbell: doorbell, body)
    }

    func withSender(
        store: any ScenarioStore, transports: [MemoryChatTransport], settings: OutboxSender.Settings, doorbell: Doorbell,
        _ body: () async throws -> Void
    ) async throws {
        let sender = OutboxSender(store: store, transports: transports, settings: settings, doorbell: doorbell, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sender.run() }
            defer { group.cancelAll() }
            try await body()
        }
    }

    @Test func deliversInOrderAndRecordsTheAnnouncement() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        let alert = Alert(source: "generic", host: "h", check: "c", severity: .warning, status: .firing, summary: "s")
        let id = try #require(try await store.ingest([alert]) { _, outcome, _ in
            [OutboxDraft(scenarioID: outcome.scenarioID, purpose: .announcement, text: "first"),
             OutboxDraft(scenarioID: outcome.scenarioID, purpose: .reply, text: "second")]
        }.first?.scenarioID)
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "second")
        }
        #expect(chat.posted == ["first", "second"])
        #expect(chat.posts.all[1].message.replyTo == chat.posts.all[0].ref, "news about a scenario goes in its thread")
        let events = try await store.events(of: id)
        #expect(events.map(\.kind) == [.alertFired, .notified])
        #expect(events.last?.body == .notified(chat.posts.all[0].ref))
        #expect(try await store.scenarioID(for: chat.posts.all[1].ref) == id)
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    @Test func aBacklogWaitsInTheStoreNotInMemory() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        try await store.append([], outbox: (0..<40).map { OutboxDraft(scenarioID: nil, purpose: .reply, text: "m\($0)") })
        chat.setDown(ChatFailure(reason: .serverError, message: "502 Bad Gateway"))
        var settings = Self.quick
        settings.maxQueued = 6
        let sender = OutboxSender(store: store, transports: [chat], settings: settings, doorbell: doorbell, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sender.run() }
            defer { group.cancelAll() }
            doorbell.ring()
            let clock = ContinuousClock()
            // Generous waits: with the whole suite running on two cores, each of the 34
            // refills below waits for a turn of Swift's pool (10–15 s in all, seen).
            let deadline = clock.now + .seconds(30)
            while sender.queuedInMemory < 6, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            doorbell.ring()
            try await Task.sleep(for: .milliseconds(200))
            #expect(sender.queuedInMemory == 6, "read ahead up to the limit, the rest left in the store")
            chat.setDown(nil)
            _ = try await chat.waitForPost(containing: "m39", timeout: .seconds(30))
        }
        #expect(chat.posted == (0..<40).map { "m\($0)" }, "all of them, in order")
        #expect(sender.queuedInMemory == 0)
        #expect(try await store.pendingOutbox(limit: 50).isEmpty)
    }

    /// Messages committed while the sender runs come through the store's feed; when the feed
    /// dropped them (more than its capacity waited), they are read from the store instead.
    @Test func messagesTheFeedDroppedAreReadFromTheStore() async throws {
        let store = MemoryScenarioStore()
        let feed = try #require(store.outboxFeed)
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        var settings = Self.quick
        settings.maxQueued = 6
        try await withSender(store: store, transports: [chat], settings: settings, doorbell: doorbell) {
            try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "first")])
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "first")
            chat.setDown(ChatFailure(reason: .serverError, message: "502 Bad Gateway"))
            let count = feed.capacity + 20
            try await store.append([], outbox: (0..<count).map { OutboxDraft(scenarioID: nil, purpose: .reply, text: "m\($0)") })
            doorbell.ring()
            chat.setDown(nil)
            _ = try await chat.waitForPost(containing: "m\(count - 1)", timeout: .seconds(60))
            #expect(chat.posted == ["first"] + (0..<count).map { "m\($0)" }, "all of them, once each, in order")
        }
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    @Test func retriesWhatCanPassAndGivesUpOnClientErrors() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        chat.failNextPosts(with: [
            ChatFailure(reason: .rateLimited, message: "429 Too Many Requests", retryAfter: .milliseconds(10)),
            ChatFailure(reason: .serverError, message: "502 Bad Gateway"),
        ])
        try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "eventually")])
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "eventually")
        }
        #expect(chat.posted == ["eventually"])

        chat.failNextPosts(with: [ChatFailure(reason: .clientError, message: "400 Bad Request: chat not found")])
        try await store.append([], outbox: [
            OutboxDraft(scenarioID: nil, purpose: .reply, text: "doomed"),
            OutboxDraft(scenarioID: nil, purpose: .reply, text: "next"),
        ])
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "next")
        }
        #expect(chat.posted == ["eventually", "next"])
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    /// A scenario whose announcement was queued (not sent).
    private func openScenario(_ store: MemoryScenarioStore, check: String = "disk", buttons: [ChatButton] = []) async throws -> Int64 {
        let alert = Alert(source: "generic", host: "web-1", check: check, severity: .critical, status: .firing, summary: "s")
        return try #require(try await store.ingest([alert]) { _, outcome, _ in
            [OutboxDraft(scenarioID: outcome.scenarioID, purpose: .announcement, text: "announce \(check)", buttons: buttons)]
        }.first?.scenarioID)
    }

    @Test func aChatHeldUpByRateLimitsDoesNotHoldUpOthers() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        chat.failNextPosts(with: [ChatFailure(reason: .rateLimited, message: "429", retryAfter: .milliseconds(1500))])
        try await store.append([], outbox: [
            OutboxDraft(scenarioID: nil, purpose: .reply, text: "slow 1", chat: "A"),
            OutboxDraft(scenarioID: nil, purpose: .reply, text: "slow 2", chat: "A"),
        ])
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            // Chat B's message comes once chat A has met its 429 (else B could meet it first).
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while chat.pendingFailures > 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "fast", chat: "B")])
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "slow 2")
        }
        #expect(chat.posted == ["fast", "slow 1", "slow 2"], "chat B went first; chat A kept its order after its 429")
    }

    @Test func longTextIsSplitAtLineBreaksAndTrimmedPastTheLastPart() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport(maxMessageLength: 100)
        let doorbell = Doorbell()
        let id = try await openScenario(store)
        let lines = (1...12).map { "line \($0) " + String(repeating: "x", count: 30) }
        try await store.append([], outbox: [
            OutboxDraft(scenarioID: id, purpose: .reply, text: lines.prefix(6).joined(separator: "\n")),
            OutboxDraft(scenarioID: id, purpose: .reply, text: lines.joined(separator: "\n"), buttons: [ChatButton(label: "Again", command: "run disk")]),
        ])
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "scenarios show \(id)")
        }
        let posts = chat.posts.all
        #expect(posts.allSatisfy { $0.message.text.utf16.count <= 100 }, "every part fits")
        #expect(posts.count == 1 + 3 + 4, "announcement, 3 parts, then 4 parts (the most)")
        #expect(posts[1...3].map(\.message.text).joined(separator: "\n") == lines.prefix(6).joined(separator: "\n"), "nothing lost")
        #expect(posts[4].message.text.hasPrefix("line 1 "), "split at a line break")
        #expect(posts[7].message.text.hasSuffix("the full text is in the scenario log: teleops scenarios show \(id)"))
        #expect(posts[4...6].allSatisfy { $0.message.buttons.isEmpty } && posts[7].message.buttons.count == 1, "buttons on the last part")
        for post in posts.dropFirst() {
            #expect(try await store.scenarioID(for: post.ref) == id, "part \(post.ref.messageID) maps to the scenario")
            #expect(post.message.replyTo == posts[0].ref, "parts go in the announcement's thread")
        }
    }

    @Test func updatesEditTheAnnouncementOnEveryTransportAndSkipSupersededOnes() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        let id = try await openScenario(store, buttons: [ChatButton(label: "Ack", command: "#1 ack")])
        try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .announcement, text: "announce", transport: "slack")])
        try await withSender(store: store, transports: [telegram, slack], settings: Self.quick, doorbell: doorbell) {
            doorbell.ring()
            _ = try await slack.waitForPost(containing: "announce")
            _ = try await telegram.waitForPost(containing: "announce")
            try await Task.sleep(for: .milliseconds(50))
            try await store.append([], outbox: [
                OutboxDraft(scenarioID: id, purpose: .update, text: "acknowledged by ana", buttons: [ChatButton(label: "Resolve", command: "#1 resolve")]),
                OutboxDraft(scenarioID: id, purpose: .update, text: "resolved"),
            ])
            doorbell.ring()
            _ = try await telegram.edits.waitFor(what: "the last edit", timeout: .seconds(5)) { $0.text == "resolved" }
            _ = try await slack.edits.waitFor(what: "the last edit", timeout: .seconds(5)) { $0.text == "resolved" }
        }
        #expect(telegram.posts.all.first?.message.buttons.map(\.label) == ["Ack"])
        #expect(telegram.edits.all.map(\.text) == ["resolved"], "the superseded update was skipped")
        #expect(telegram.edits.all.first?.ref == telegram.posts.all.first?.ref)
        #expect(slack.edits.all.first?.buttons == [], "buttons removed")
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    @Test func keyedDraftsPostOnceThenEditThatMessageInPlace() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        let id = try await openScenario(store, buttons: [])
        let cancel = [ChatButton(label: "Cancel", command: "#1 cancel")]
        try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .reply, text: "⏳ 2 s", buttons: cancel, key: "p1")])
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            let first = try await chat.waitForPost(containing: "⏳ 2 s")
            #expect(first.buttons == cancel)
            try await store.append([], outbox: [
                OutboxDraft(scenarioID: id, purpose: .reply, text: "⏳ 4 s", buttons: cancel, key: "p1"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "⏳ 6 s", buttons: cancel, key: "p1"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "✅ done in 7 s", key: "p1"),
            ])
            doorbell.ring()
            _ = try await chat.edits.waitFor(what: "the final edit", timeout: .seconds(5)) { $0.text == "✅ done in 7 s" }
        }
        let progress = try #require(chat.posts.all.last(where: { $0.message.text == "⏳ 2 s" }))
        #expect(chat.posts.all.filter { $0.message.text.hasPrefix("⏳") }.count == 1, "posted once")
        #expect(chat.edits.all.allSatisfy { $0.ref == progress.ref }, "every edit is of that message")
        #expect(chat.edits.all.last?.buttons == [], "the final state has no Cancel button")
        #expect(chat.edits.all.count <= 3, "superseded edits waiting in the lane may be skipped")
        #expect(try await store.messages(keyed: "p1") == [progress.ref])
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    @Test func aFailingPrimaryFailsOverWithANoteAndComesBack() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        let settings = Self.failover(retry: .milliseconds(300))
        telegram.setDown(ChatFailure(reason: .serverError, message: "502 Bad Gateway"))
        let id = try await openScenario(store)
        try await withSender(store: store, transports: [telegram, slack], settings: settings, doorbell: doorbell) {
            doorbell.ring()
            let moved = try await slack.waitForPost(containing: "announce disk")
            #expect(moved.text.hasPrefix("⚠️ Sent on slack because telegram is failing (server_error: 502 Bad Gateway)."))
            try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .reply, text: "in the thread")])
            doorbell.ring()
            let reply = try await slack.waitForPost(containing: "in the thread")
            #expect(reply.replyTo == slack.posts.all.first?.ref, "later news goes to the scenario's thread on the secondary")
            telegram.setDown(nil)
            try await Task.sleep(for: .milliseconds(350))
            try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "primary again")])
            doorbell.ring()
            _ = try await telegram.waitForPost(containing: "primary again")
        }
        #expect(try await store.announcements(of: id).map(\.transport) == ["slack"])
        #expect(try await store.pendingOutbox(limit: 10).isEmpty, "nothing lost")
    }

    @Test func aClientErrorOnThePrimaryGoesToTheSecondaryAtOnce() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        var settings = Self.quick
        settings.failover = FailoverPolicy(primary: "telegram", secondary: "slack")
        telegram.failNextPosts(with: [ChatFailure(reason: .clientError, message: "403 Forbidden: bot was kicked from the group chat")])
        try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "hello")])
        try await withSender(store: store, transports: [telegram, slack], settings: settings, doorbell: doorbell) {
            doorbell.ring()
            _ = try await slack.waitForPost(containing: "hello")
        }
        #expect(telegram.posted.isEmpty)
    }

    /// A 400 about one message (an edit of a deleted message, of a message in a group that was
    /// upgraded) says nothing about the transport: however many come, the primary stays in service.
    @Test func clientErrorsAboutOneMessageLeaveThePrimaryInService() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        let settings = Self.failover(retry: .seconds(60))
        var opened: [Int64] = []
        for check in ["disk", "load", "memory"] { opened.append(try await openScenario(store, check: check)) }
        let ids = opened
        try await withSender(store: store, transports: [telegram, slack], settings: settings, doorbell: doorbell) {
            doorbell.ring()
            _ = try await telegram.waitForPost(containing: "announce memory")
            telegram.failNextEdits(with: Array(
                repeating: ChatFailure(reason: .clientError, message: "400 Bad Request: message to edit not found"), count: 3))
            // In the announcements' lane, so it comes after their three failed edits.
            try await store.append([], outbox: ids.map { OutboxDraft(scenarioID: $0, purpose: .update, text: "resolved") }
                + [OutboxDraft(scenarioID: nil, purpose: .reply, text: "after the failed edits")])
            doorbell.ring()
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while !(telegram.posted + slack.posted).contains(where: { $0.hasSuffix("after the failed edits") }), clock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(telegram.edits.all.isEmpty, "the three edits failed")
        #expect(telegram.posted.last == "after the failed edits", "the primary is still in service")
        #expect(slack.posted.isEmpty)
    }

    /// A refused token fails every call: a run of them takes the primary out of service, so its
    /// messages go to the secondary without trying it first, until `retryPrimaryAfter`.
    @Test func aRefusedTokenTakesThePrimaryOutOfService() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        let settings = Self.failover(retry: .seconds(60))
        telegram.setDown(ChatFailure(reason: .unauthorized, message: "401 Unauthorized"))
        try await store.append([], outbox: (1...3).map { OutboxDraft(scenarioID: nil, purpose: .reply, text: "m\($0)") })
        try await withSender(store: store, transports: [telegram, slack], settings: settings, doorbell: doorbell) {
            doorbell.ring()
            _ = try await slack.waitForPost(containing: "m3")
            telegram.setDown(nil)
            try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "m4")])
            doorbell.ring()
            let moved = try await slack.waitForPost(containing: "m4")
            #expect(moved.text.hasPrefix("⚠️ Sent on slack because telegram is failing (unauthorized: 401 Unauthorized)."))
        }
        #expect(telegram.posted.isEmpty, "out of service: not tried again within retry_primary_after")
    }

    /// Telegram primary, Slack secondary; failover after 3 failures, Telegram retried after `retry`.
    private static func failover(retry: Duration) -> OutboxSender.Settings {
        var settings = Self.quick
        settings.failover = FailoverPolicy(primary: "telegram", secondary: "slack", afterFailures: 3, retryPrimaryAfter: retry)
        return settings
    }

    /// Makes Telegram fail until a message goes out on Slack instead (it is then out of service).
    /// Telegram keeps failing (so a retry after `retryPrimaryAfter` takes it out again) until
    /// the test calls `setDown(nil)`.
    private func takeOutOfService(_ telegram: MemoryChatTransport, _ slack: MemoryChatTransport, _ store: MemoryScenarioStore,
                                  _ doorbell: Doorbell) async throws {
        telegram.setDown(ChatFailure(reason: .serverError, message: "502 Bad Gateway"))
        try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "while telegram fails")])
        doorbell.ring()
        _ = try await slack.waitForPost(containing: "while telegram fails")
    }

    /// Waits until the outbox holds just these texts (a full suite's load can make that seconds).
    private func waitForPending(_ store: MemoryScenarioStore, _ texts: [String]) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while try await store.pendingOutbox(limit: 10).map(\.draft.text) != texts, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until nothing is left in the outbox.
    private func waitUntilSettled(_ store: MemoryScenarioStore) async throws {
        try await waitForPending(store, [])
    }

    /// An announcement on a transport out of service is not edited then, but it is not left
    /// behind either: once the transport is back, it is edited to the scenario's last state
    /// (one edit: an edit replaces the whole message, so the states in between are skipped).
    @Test func editsOwedToATransportOutOfServiceAreMadeWhenItIsBack() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        let id = try await openScenario(store, buttons: [ChatButton(label: "Ack", command: "#1 ack")])
        try await withSender(store: store, transports: [telegram, slack], settings: Self.failover(retry: .milliseconds(500)),
                             doorbell: doorbell) {
            doorbell.ring()
            let announced = try await telegram.waitForPost(containing: "announce disk")
            #expect(announced.buttons.map(\.label) == ["Ack"])
            try await takeOutOfService(telegram, slack, store, doorbell)
            try await store.append([], outbox: [OutboxDraft(
                scenarioID: id, purpose: .update, text: "👍 Acknowledged by ana", buttons: [ChatButton(label: "Resolve", command: "#1 resolve")])])
            doorbell.ring()
            try await Task.sleep(for: .milliseconds(100))
            try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .update, text: "✅ Resolved")])
            doorbell.ring()
            try await waitForPending(store, ["✅ Resolved"])
            #expect(telegram.edits.all.isEmpty, "out of service: not edited yet")
            #expect(try await store.pendingOutbox(limit: 10).map(\.draft.text) == ["✅ Resolved"],
                    "the newest state is owed, in the outbox; the older one is settled")
            telegram.setDown(nil)
            let edit = try await telegram.edits.waitFor(what: "the owed edit", timeout: .seconds(30)) { $0.text == "✅ Resolved" }
            #expect(edit.ref == telegram.posts.all.first?.ref)
            #expect(edit.buttons == [], "no Ack button left")
            try await waitUntilSettled(store)
        }
        #expect(telegram.edits.all.map(\.text) == ["✅ Resolved"], "only the newest state")
        #expect(slack.edits.all.isEmpty, "not announced there")
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    /// The owed edit made when the transport is back can still be in flight when a newer state
    /// of the same message comes from the lane: the newer edit waits for it, so the message
    /// ends showing the newest state, not whichever call the platform finished last.
    @Test func anOwedEditInFlightIsNotOvertakenByANewerOne() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        let id = try await openScenario(store, buttons: [ChatButton(label: "Ack", command: "#1 ack")])
        try await withSender(store: store, transports: [telegram, slack], settings: Self.failover(retry: .milliseconds(300)),
                             doorbell: doorbell) {
            doorbell.ring()
            _ = try await telegram.waitForPost(containing: "announce disk")
            try await takeOutOfService(telegram, slack, store, doorbell)
            try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .update, text: "👍 Acknowledged by ana")])
            doorbell.ring()
            try await waitForPending(store, ["👍 Acknowledged by ana"])
            // Back, but the owed edit is slow to take effect.
            let gate = telegram.holdNextEdit()
            telegram.setDown(nil)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while !gate.isReached, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(gate.isReached, "the owed edit is being made")
            try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .update, text: "✅ Resolved")])
            doorbell.ring()
            try await Task.sleep(for: .milliseconds(300))
            #expect(telegram.edits.all.isEmpty, "the newer edit waits for the one in flight")
            gate.open()
            _ = try await telegram.edits.waitFor(what: "the newer edit", timeout: .seconds(30)) { $0.text == "✅ Resolved" }
            try await waitUntilSettled(store)
        }
        #expect(telegram.edits.all.map(\.text) == ["👍 Acknowledged by ana", "✅ Resolved"], "the message ends at the newest state")
    }

    /// An owed edit is an unsent outbox row, so a restart (which forgets that the transport was
    /// out of service) makes it.
    @Test func anOwedEditSurvivesARestart() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        let id = try await openScenario(store, buttons: [ChatButton(label: "Ack", command: "#1 ack")])
        try await withSender(store: store, transports: [telegram, slack], settings: Self.failover(retry: .seconds(60)), doorbell: doorbell) {
            doorbell.ring()
            _ = try await telegram.waitForPost(containing: "announce disk")
            try await takeOutOfService(telegram, slack, store, doorbell)
            try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .update, text: "👍 Acknowledged by ana")])
            doorbell.ring()
            try await Task.sleep(for: .milliseconds(200))
        }
        telegram.setDown(nil)
        #expect(telegram.edits.all.isEmpty)
        #expect(try await store.pendingOutbox(limit: 10).map(\.draft.text) == ["👍 Acknowledged by ana"])
        try await withSender(store: store, transports: [telegram, slack], settings: Self.failover(retry: .seconds(60)), doorbell: doorbell) {
            doorbell.ring()
            _ = try await telegram.edits.waitFor(what: "the owed edit", timeout: .seconds(30)) { $0.text == "👍 Acknowledged by ana" }
            try await waitUntilSettled(store)
        }
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    /// An owed edit the platform refuses once the transport is back (the message was deleted)
    /// is dropped after that one try: a client error is final.
    @Test func anOwedEditOfADeletedMessageIsTriedOnce() async throws {
        let store = MemoryScenarioStore()
        let telegram = MemoryChatTransport(name: "telegram")
        let slack = MemoryChatTransport(name: "slack")
        let doorbell = Doorbell()
        let id = try await openScenario(store)
        try await withSender(store: store, transports: [telegram, slack], settings: Self.failover(retry: .milliseconds(300)),
                             doorbell: doorbell) {
            doorbell.ring()
            _ = try await telegram.waitForPost(containing: "announce disk")
            try await takeOutOfService(telegram, slack, store, doorbell)
            telegram.failNextEdits(with: Array(
                repeating: ChatFailure(reason: .clientError, message: "400 Bad Request: message to edit not found"), count: 2))
            try await store.append([], outbox: [OutboxDraft(scenarioID: id, purpose: .update, text: "👍 Acknowledged by ana")])
            doorbell.ring()
            try await Task.sleep(for: .milliseconds(100))
            #expect(telegram.pendingEditFailures == 2, "owed, not tried while out of service")
            telegram.setDown(nil)
            try await waitUntilSettled(store)
            try await Task.sleep(for: .milliseconds(700))
        }
        #expect(telegram.pendingEditFailures == 1, "tried once when back, then dropped")
        #expect(telegram.edits.all.isEmpty)
        #expect(try await store.pendingOutbox(limit: 10).isEmpty)
    }

    /// Announcement edits count against their chat's limits like posts (a group's 20 a minute
    /// covers both), so state changes cannot spend them unseen.
    @Test func editsWaitForTheirChatsLimitsLikePosts() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport(perChat: [ChatRate(1, per: .milliseconds(200))])
        let doorbell = Doorbell()
        var opened: [Int64] = []
        for check in ["disk", "load", "memory"] { opened.append(try await openScenario(store, check: check)) }
        let ids = opened
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "announce memory")
            let clock = ContinuousClock()
            let started = clock.now
            // Three scenarios: no update supersedes another.
            try await store.append([], outbox: ids.map { OutboxDraft(scenarioID: $0, purpose: .update, text: "acknowledged \($0)") })
            doorbell.ring()
            _ = try await chat.edits.waitFor(what: "the last edit", timeout: .seconds(5)) { $0.text == "acknowledged \(ids[2])" }
            #expect(clock.now - started >= .milliseconds(390), "three edits at one per 200 ms (a burst of one) take at least 400 ms")
        }
        #expect(chat.edits.all.map(\.text) == ids.map { "acknowledged \($0)" })
    }

    /// A 429 on an edit holds its chat back as one on a post does: the chat's buckets are
    /// emptied, so the retried edit and the next post there each wait a full refill.
    @Test func aRateLimitedEditHoldsBackItsChat() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport(perChat: [ChatRate(1, per: .milliseconds(300))])
        let doorbell = Doorbell()
        let id = try await openScenario(store)
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "announce disk")
            try await Task.sleep(for: .milliseconds(350))  // the chat's token is back
            chat.failNextEdits(with: [ChatFailure(reason: .rateLimited, message: "429 Too Many Requests", retryAfter: .milliseconds(1))])
            let clock = ContinuousClock()
            let started = clock.now
            try await store.append([], outbox: [
                OutboxDraft(scenarioID: id, purpose: .update, text: "acknowledged by ana"),
                OutboxDraft(scenarioID: id, purpose: .reply, text: "after the edit"),
            ])
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "after the edit")
            #expect(clock.now - started >= .milliseconds(550), "the retried edit and the post each waited 300 ms")
        }
        #expect(chat.edits.all.map(\.text) == ["acknowledged by ana"])
    }

    @Test func aLong429StormDelaysButNeverGivesUp() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport()
        let doorbell = Doorbell()
        chat.failNextPosts(with: Array(repeating: ChatFailure(reason: .rateLimited, message: "429", retryAfter: .milliseconds(5)), count: 30))
        try await store.append([], outbox: [OutboxDraft(scenarioID: nil, purpose: .reply, text: "patient")])
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            // Thirty rounds of 429, each a pause and a retry: on a loaded machine that has taken
            // over the usual 10 s, and what is tested is that it never gives up, not how fast.
            _ = try await chat.waitForPost(containing: "patient", timeout: .seconds(60))
        }
        #expect(chat.posted == ["patient"])
    }

    @Test func chatLimitsPaceSends() async throws {
        let store = MemoryScenarioStore()
        let chat = MemoryChatTransport(perChat: [ChatRate(1, per: .milliseconds(100))])
        let doorbell = Doorbell()
        try await store.append([], outbox: (1...4).map { OutboxDraft(scenarioID: nil, purpose: .reply, text: "m\($0)") })
        let clock = ContinuousClock()
        let started = clock.now
        try await withSender(store: store, chat: chat, doorbell: doorbell) {
            doorbell.ring()
            _ = try await chat.waitForPost(containing: "m4")
        }
        #expect(clock.now - started >= .milliseconds(290), "four posts at one per 100 ms take at least 300 ms (first is free)")
    }
}
