import Foundation
import Logging
import Testing
import TeleOpsTesting
@testable import TeleOpsCore

/// The responder alone: memory store, memory chat, a scripted dispatcher. Messages are handed
/// to `handle` directly; what it says is read from the outbox it fills.
struct ResponderFixture {
    let store = MemoryScenarioStore()
    let chat = MemoryChatTransport(name: "memory")
    let dispatcher: ScriptedDispatcher
    let responder: Responder

    static let ana = Engineer(name: "ana", roles: [Role.responder], identities: ["memory": "u-ana"])
    static let viewer = Engineer(name: "vic", roles: [], identities: ["memory": "u-vic"])
    static let bo = Engineer(name: "bo", roles: [Role.responder], identities: ["memory": "u-bo"])

    init(outcome: @escaping @Sendable (TaskRequest) -> TaskOutcome = ResponderFixture.succeed) {
        self.init(dispatcher: ScriptedDispatcher { outcome($0) })
    }

    init(dispatcher: ScriptedDispatcher, progress: ProgressSettings = .standard) {
        self.dispatcher = dispatcher
        responder = Responder(
            transports: [chat], store: store, dispatcher: dispatcher, directory: EngineerDirectory([Self.ana, Self.viewer, Self.bo]),
            catalogue: .defaults, doorbell: Doorbell(), progress: progress, logger: Logger(label: "test"))
    }

    static let succeed: @Sendable (TaskRequest) -> TaskOutcome = { request in
        .finished(TaskResult(taskID: request.taskID, action: request.action, worker: "w1", exitCode: 0, signal: nil,
                             timedOut: false, durationMs: 2.5, output: "Filesystem  Size\n/dev/vda  252G\n", truncated: false))
    }

    @discardableResult
    func fire(host: String = "web-1", check: String = "disk") async throws -> Int64 {
        let alert = Alert(source: "generic", host: host, check: check, severity: .critical, status: .firing, summary: "\(check) on \(host)")
        let outcomes = try await store.ingest([alert]) { _, _, _ in [] }
        return try #require(outcomes.first?.scenarioID)
    }

    func say(_ text: String, from user: String = "u-ana", replyTo: MessageRef? = nil) async {
        let ref = MessageRef(transport: "memory", chat: "chat", messageID: UUID().uuidString)
        await responder.handle(IncomingMessage(ref: ref, userID: user, displayName: user, text: text, replyTo: replyTo))
    }

    /// What the responder queued to say, in order.
    /// What the responder said (new messages), oldest first.
    func said() async throws -> [String] {
        try await store.pendingOutbox(limit: 100).filter { $0.draft.purpose != .update }.map(\.draft.text)
    }

    /// The announcement edits it queued, oldest first.
    func updates() async throws -> [OutboxDraft] {
        try await store.pendingOutbox(limit: 100).filter { $0.draft.purpose == .update }.map(\.draft)
    }

    func kinds(_ scenario: Int64) async throws -> [EventKind] {
        try await store.events(of: scenario).map(\.kind)
    }
}

@Suite struct ResponderTests {
    @Test func runDispatchesToTheScenarioHostAndLogsEveryStep() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire(host: "db-7")
        await fixture.say("run disk /var")

        let request = try #require(fixture.dispatcher.requests.first)
        #expect(request.host == "db-7")
        #expect(request.argv == ["df", "-h", "/var"])
        #expect(request.timeoutMs == 15_000)
        #expect(try await fixture.kinds(id) == [.alertFired, .replyReceived, .commandDispatched, .commandFinished])
        let events = try await fixture.store.events(of: id)
        #expect(events[1].actor == "ana")
        guard case .commandFinished(let result) = events[3].body else { Issue.record("no result event"); return }
        #expect(result.output.contains("/dev/vda"))
        let said = try await fixture.said()
        #expect(said.count == 1)
        #expect(said[0].hasPrefix("#\(id) disk on db-7: exit 0 in 2.5 ms"))
        #expect(said[0].contains("/dev/vda  252G"))
    }

    @Test func aStrangerIsRefusedAndTheRefusalLogged() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        await fixture.say("run disk", from: "u-mallory")
        #expect(fixture.dispatcher.requests.isEmpty)
        let events = try await fixture.store.events(of: id)
        guard case .replyRefused(let refusal) = events.last?.body else { Issue.record("no refusal event"); return }
        #expect(refusal.userID == "u-mallory")
        #expect(refusal.text == "run disk")
        #expect(try await fixture.said() == ["Sorry, only engineers listed in the TeleOps configuration may issue commands."])
    }

    @Test func rolesAreChecked() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        await fixture.say("ack", from: "u-vic")
        await fixture.say("status", from: "u-vic")
        #expect(try await fixture.store.scenario(id: id)?.status == .open)
        let said = try await fixture.said()
        #expect(said[0] == "✋ ack needs the 'responder' role, which vic does not have")
        #expect(said[1].hasPrefix("#\(id) open · critical · web-1 disk"))
    }

    @Test(arguments: [
        ("run reboot", "unknown action 'reboot'; available: uptime, disk, load, memory, who"),
        ("run disk relative", "path 'relative' must be an absolute path"),
        ("run disk /a /b", "too many arguments for disk"),
        ("frobnicate", "unknown command 'frobnicate'"),
    ])
    func badCommandsAreRejectedAndLogged(text: String, reason: String) async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        await fixture.say(text)
        #expect(fixture.dispatcher.requests.isEmpty)
        #expect(try await fixture.kinds(id).last == .commandRejected)
        #expect(try await fixture.said().first?.contains(reason) == true)
    }

    @Test func replyPicksItsScenario() async throws {
        let fixture = ResponderFixture()
        let first = try await fixture.fire(host: "a")
        let second = try await fixture.fire(host: "b")
        await fixture.say("note newest")
        await fixture.say("#\(first) note by number")
        let announcement = MessageRef(transport: "memory", chat: "chat", messageID: "out-1")
        let queued = try await fixture.store.append([], outbox: [OutboxDraft(scenarioID: first, purpose: .announcement, text: "x")])
        #expect(queued.isEmpty)
        let pending = try await fixture.store.pendingOutbox(limit: 10)
        try await fixture.store.markSent(outboxID: try #require(pending.last?.id), as: announcement)
        await fixture.say("note by thread", replyTo: announcement)

        func notes(_ id: Int64) async throws -> [String] {
            try await fixture.store.events(of: id).compactMap { if case .note(let note) = $0.body { note.text } else { nil } }
        }
        #expect(try await notes(second) == ["newest"])
        #expect(try await notes(first) == ["by number", "by thread"])
        await fixture.say("#99 status")
        #expect(try await fixture.said().last == "There is no scenario #99.")
    }

    @Test func ackThenResolve() async throws {
        let fixture = ResponderFixture()
        let id = try await fixture.fire()
        await fixture.say("ack")
        await fixture.say("ack")
        #expect(try await fixture.store.scenario(id: id)?.acknowledgedBy == "ana")
        await fixture.say("resolve rotated logs")
        let scenario = try #require(try await fixture.store.scenario(id: id))
        #expect(scenario.status == .resolved)
        #expect(try await fixture.kinds(id) == [.alertFired, .replyReceived, .acknowledged, .replyReceived, .resolved])
        let said = try await fixture.said()
        #expect(said == [
            "👍 #\(id) acknowledged by ana.", "#\(id) is already acknowledged by ana.", "✅ #\(id) resolved by ana: rotated logs",
        ])
        let updates = try await fixture.updates()
        #expect(updates.count == 2, "one edit of the announcement per state change, none for the refused second ack")
        #expect(updates.first?.text.hasSuffix("👍 Acknowledged by ana") == true)
        #expect(updates.first?.buttons.map(\.label) == ["Resolve", "Silence 1h", "▶ disk"], "no Ack once acknowledged")
        #expect(updates.first?.buttons.first?.command == "#\(id) resolve", "buttons name their scenario")
        #expect(updates.last?.text.contains("✅ Resolved at") == true)
        #expect(updates.last?.buttons == [], "no buttons once resolved")
        await fixture.say("run disk")
        #expect(try await fixture.said().last?.contains("No open scenario") == true)
    }

    @Test func lostAndRejectedOutcomesAreReported() async throws {
        let lost = ResponderFixture { _ in .lost(worker: "w2", reason: "worker w2 exited (killed by signal 9)") }
        let id = try await lost.fire()
        await lost.say("run uptime")
        #expect(try await lost.kinds(id).last == .commandLost)
        #expect(try await lost.said().last?.contains("was lost: worker w2 exited (killed by signal 9)") == true)

        let rejected = ResponderFixture { _ in .rejected(reason: "no worker serves host 'web-1'") }
        let other = try await rejected.fire()
        await rejected.say("run uptime")
        #expect(try await rejected.kinds(other).last == .commandRejected)
        #expect(try await rejected.said().last == "#\(other) uptime did not run: no worker serves host 'web-1'")
    }

    @Test func helpNeedsNoScenario() async throws {
        let fixture = ResponderFixture()
        await fixture.say("help")
        let said = try await fixture.said()
        #expect(said.count == 1)
        #expect(said[0].contains("run ACTION [on LABEL=VALUE[,…]] [ARGS]"))
        #expect(said[0].contains("cancel [TASK]"))
        #expect(said[0].contains("disk [path]"))
    }
}
