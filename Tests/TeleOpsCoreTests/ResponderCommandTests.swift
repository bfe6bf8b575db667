import Foundation
import Testing
import TeleOpsTesting
@testable import TeleOpsCore

/// Fan-out by labels, cancel, and the progress message of a long command.
@Suite struct ResponderCommandTests {
    static let workers = [
        WorkerSummary(id: "w-1", hosts: ["web-1"], labels: ["role": "web", "zone": "eu"]),
        WorkerSummary(id: "w-2", hosts: ["web-2"], labels: ["role": "web", "zone": "us"]),
        WorkerSummary(id: "w-3", hosts: ["db-1"], labels: ["role": "db"]),
    ]

    static func result(_ request: TaskRequest, exit: Int32? = 0, signal: Int32? = nil, cancelled: Bool = false,
                       output: String = "ok\n") -> TaskOutcome {
        .finished(TaskResult(taskID: request.taskID, action: request.action, worker: request.workerID ?? "w-1",
                             exitCode: exit, signal: signal, timedOut: false, durationMs: 3, output: output,
                             truncated: false, cancelled: cancelled))
    }

    /// Runs until cancelled, then answers as a worker does for CANCEL.
    static func untilCancelled() -> ScriptedDispatcher { ScriptedDispatcher(workers: workers) { request in
        do {
            try await Task.sleep(for: .seconds(60))
            return result(request)
        } catch {
            return result(request, exit: nil, signal: 15, cancelled: true, output: "")
        }
    } }

    static func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw WaitTimeout(what: what) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    struct WaitTimeout: Error, CustomStringConvertible {
        var what: String
        var description: String { "timed out waiting for \(what)" }
    }

    @Test func runOnLabelsFansOutToEveryMatchingWorkerAndGathersOneReply() async throws {
        let fixture = ResponderFixture(dispatcher: ScriptedDispatcher(workers: Self.workers) { request in
            request.workerID == "w-2" ? Self.result(request, exit: 1, output: "boom\n") : Self.result(request, output: "up 3 days\n")
        })
        let id = try await fixture.fire()
        await fixture.say("run uptime on role=web")
        let requests = fixture.dispatcher.requests.sorted { $0.taskID < $1.taskID }
        #expect(requests.map(\.workerID) == ["w-1", "w-2"])
        #expect(requests.map(\.host) == ["web-1", "web-2"])
        #expect(Set(requests.map { $0.taskID.prefix(8) }).count == 1, "one prefix cancels the whole fan-out")
        let events = try await fixture.store.events(of: id)
        #expect(events.map(\.kind) == [.alertFired, .replyReceived, .commandDispatched, .commandDispatched, .commandFinished, .commandFinished])
        let workers = events.compactMap { if case .commandDispatched(let facts) = $0.body { facts.worker } else { nil } }
        #expect(workers.sorted() == ["w-1", "w-2"])
        let reply = try #require(try await fixture.said().last)
        #expect(reply.hasPrefix("#\(id) uptime on role=web: 2 workers, 1 ok, 1 not"))
        #expect(reply.contains("✅ w-1: exit 0") && reply.contains("up 3 days"))
        #expect(reply.contains("❌ w-2: exit 1") && reply.contains("boom"))
    }

    /// Every dispatch has an end naming its task, a rejection after dispatch included.
    @Test func aDispatchedCommandThatDidNotRunNamesItsTask() async throws {
        let fixture = ResponderFixture(outcome: { _ in .rejected(reason: "busy: all 1 worker(s) serving 'web-1' are at capacity") })
        let id = try await fixture.fire()
        await fixture.say("run uptime")
        let events = try await fixture.store.events(of: id)
        let dispatched = events.compactMap { if case .commandDispatched(let facts) = $0.body { facts.taskID } else { nil } }
        let rejected = events.compactMap { if case .commandRejected(let facts) = $0.body { facts.taskID } else { nil } }
        #expect(dispatched.count == 1)
        #expect(rejected == dispatched)
        #expect(events.last?.body.summary.contains("(task \(dispatched[0]))") == true)
    }

    @Test func runOnLabelsNobodyHasIsRefusedWithTheSelector() async throws {
        let fixture = ResponderFixture(dispatcher: ScriptedDispatcher(workers: Self.workers) { Self.result($0) })
        let id = try await fixture.fire()
        await fixture.say("run uptime on role=mail,zone=eu")
        #expect(fixture.dispatcher.requests.isEmpty)
        #expect(try await fixture.said().last == "✋ no registered worker has the labels role=mail,zone=eu")
        #expect(try await fixture.kinds(id).last == .commandRejected)
    }

    @Test func cancelStopsTheScenariosRunningCommandAndTheLogSaysWhoAndWhat() async throws {
        let fixture = ResponderFixture(dispatcher: Self.untilCancelled())
        let id = try await fixture.fire()
        let run = Task { await fixture.say("run uptime") }
        try await Self.waitFor("the command to start") { !fixture.dispatcher.requests.isEmpty }
        let taskID = try #require(fixture.dispatcher.requests.first?.taskID)
        await fixture.say("cancel \(taskID.prefix(8))")
        await run.value
        let events = try await fixture.store.events(of: id)
        let said = try await fixture.said()
        let cancel = try #require(events.first { $0.kind == .cancelRequested }, "\(said)")
        #expect(cancel.actor == "ana")
        #expect(cancel.body == .cancelRequested(CancelFacts(taskID: taskID, action: "uptime")))
        guard case .commandFinished(let result) = events.last?.body else { Issue.record("no result: \(events.map(\.kind))"); return }
        #expect(result.cancelled)
        #expect(said.contains("🛑 #\(id) cancelling uptime on web-1 (task \(taskID.prefix(8))) for ana…"))
        #expect(said.last?.hasPrefix("#\(id) uptime on web-1: cancelled after 3.0 ms") == true)
        await fixture.say("cancel")
        #expect(try await fixture.said().last == "Nothing of #\(id) is running.")
    }

    @Test func aCancelNamingAnotherTaskLeavesTheCommandRunning() async throws {
        let fixture = ResponderFixture(dispatcher: Self.untilCancelled())
        let id = try await fixture.fire()
        let run = Task { await fixture.say("run uptime") }
        try await Self.waitFor("the command to start") { !fixture.dispatcher.requests.isEmpty }
        await fixture.say("cancel zzzz")
        #expect(try await fixture.said().last == "Nothing of #\(id) with a task id starting with zzzz is running.")
        await fixture.say("#\(id) cancel")
        await run.value
        #expect(try await fixture.kinds(id).filter { $0 == .cancelRequested }.count == 1)
    }

    @Test func aLongCommandPostsProgressEditedInPlaceThenTheResult() async throws {
        let dispatcher = ScriptedDispatcher(workers: Self.workers, streaming: { request, progress in
            for line in 1...4 {
                progress?(TaskOutput(taskID: request.taskID, seq: line - 1, data: "line \(line)\n"))
                try? await Task.sleep(for: .milliseconds(120))
            }
            return Self.result(request, output: "line 1\nline 2\nline 3\nline 4\n")
        })
        let fixture = ResponderFixture(dispatcher: dispatcher, progress: ProgressSettings(delay: .milliseconds(100), interval: .milliseconds(100)))
        let id = try await fixture.fire()
        await fixture.say("run uptime")
        let taskID = try #require(fixture.dispatcher.requests.first?.taskID)
        let drafts = try await fixture.store.pendingOutbox(limit: 100).map(\.draft)
        let progress = drafts.filter { $0.key != nil }
        #expect(progress.count >= 2, "posted, then edited at least once: \(progress.map(\.text))")
        #expect(Set(progress.map(\.key)) == ["progress-\(taskID)"])
        #expect(progress.first?.text.hasPrefix("⏳ #\(id) uptime on web-1: running for") == true)
        #expect(progress.first?.buttons == [ChatButton(label: "Cancel", command: "#\(id) cancel \(taskID.prefix(8))")])
        #expect(progress.dropLast().contains { $0.text.contains("line 3") }, "the tail of the output is shown")
        let final = try #require(progress.last)
        #expect(final.text == "#\(id) uptime on web-1: exit 0 in 3.0 ms (result below)")
        #expect(final.buttons.isEmpty, "no Cancel once it has ended")
        #expect(drafts.last?.key == nil && drafts.last?.text.hasPrefix("#\(id) uptime on web-1: exit 0") == true,
                "the result is a new message after the last edit")
    }

    @Test func aQuickCommandPostsNoProgress() async throws {
        let fixture = ResponderFixture(dispatcher: ScriptedDispatcher(workers: Self.workers) { Self.result($0) })
        _ = try await fixture.fire()
        await fixture.say("run uptime")
        #expect(try await fixture.store.pendingOutbox(limit: 100).allSatisfy { $0.draft.key == nil })
    }
}

/// `CommandLedger`: which dispatches have no end.
@Suite struct CommandLedgerTests {
    static func event(_ id: Int64, scenario: Int64 = 1, _ body: EventBody) -> ScenarioEvent {
        ScenarioEvent(id: id, scenarioID: scenario, at: Date(timeIntervalSince1970: 0), actor: "t", body: body)
    }

    static func dispatched(_ id: Int64, _ task: String, scenario: Int64 = 1) -> ScenarioEvent {
        event(id, scenario: scenario, .commandDispatched(DispatchFacts(taskID: task, action: "a", argv: ["x"], host: "h")))
    }

    @Test func eachKindOfEndClosesItsTaskAndAnUnnamedRejectionTheScenariosOldest() {
        let events = [
            Self.dispatched(1, "finished"), Self.dispatched(2, "lost"), Self.dispatched(3, "rejected"),
            Self.dispatched(4, "open"), Self.dispatched(5, "old-style", scenario: 2), Self.dispatched(6, "open-2", scenario: 2),
            Self.event(7, .commandFinished(TaskResult(taskID: "finished", action: "a", worker: "w", exitCode: 0, signal: nil,
                                                      timedOut: false, durationMs: 1, output: "", truncated: false))),
            Self.event(8, .commandLost(LostFacts(taskID: "lost", action: "a", worker: "w", reason: "r"))),
            Self.event(9, .commandRejected(RefusalFacts(text: "run a", reason: "busy", taskID: "rejected"))),
            Self.event(10, scenario: 2, .commandRejected(RefusalFacts(text: "run a", reason: "busy"))),
        ]
        #expect(CommandLedger.unfinished(events).map(\.dispatch.taskID) == ["open", "open-2"])
        #expect(CommandLedger.unfinished(events).map(\.scenarioID) == [1, 2])
    }
}
