import Foundation
import Logging
import ServiceLifecycle
import TeleOpsCore
import TeleOpsDispatch
import TeleOpsSQLite
import TeleOpsTesting
import Testing

/// A thousand commands from chat with every kind of outcome, through the real responder, a
/// SQLite store on disk, the ZeroMQ broker and two workers running real processes: each one
/// is in the scenario log exactly once as dispatched and exactly once as ended, as what it was.
@Suite(.timeLimit(.minutes(3))) struct CommandAccountingTests {
    static let catalogue = ActionCatalogue([
        ActionDefinition(name: "ok", help: "", argv: ["/bin/true"], timeout: .seconds(30)),
        ActionDefinition(name: "fail", help: "", argv: ["/bin/false"], timeout: .seconds(30)),
        ActionDefinition(name: "slow", help: "", argv: ["sleep", "30"], timeout: .milliseconds(300)),
        ActionDefinition(name: "missing", help: "", argv: ["/nonexistent/teleops-no-such-program"], timeout: .seconds(30)),
        ActionDefinition(name: "long", help: "", argv: ["sleep", "300"], timeout: .seconds(120)),
    ])
    static let ana = Engineer(name: "ana", roles: [Role.responder], identities: ["memory": "u-ana"])

    /// Action of the i-th command on the busy scenario: 20 time out, 40 cannot start, a tenth fail.
    static func action(_ index: Int) -> String {
        if index % 50 == 0 { return "slow" }
        if index % 25 == 1 { return "missing" }
        if index % 10 == 3 { return "fail" }
        return "ok"
    }

    @Test func aThousandCommandsWithMixedOutcomesAreAllAccountedForInTheScenarioLog() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-accounting-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
        var quiet = Logger(label: "accounting")
        quiet.logLevel = .critical
        let broker = Broker(endpoint: "tcp://127.0.0.1:*", heartbeatInterval: .milliseconds(200),
                            heartbeatTimeout: .seconds(10), maxQueued: 2000, logger: quiet)
        let chat = MemoryChatTransport(name: "memory")
        let responder = Responder(
            transports: [chat], store: store, dispatcher: broker, directory: EngineerDirectory([Self.ana]),
            catalogue: Self.catalogue, doorbell: Doorbell(), logger: quiet)

        func alert(_ host: String) -> Alert {
            Alert(source: "generic", host: host, check: "load", severity: .critical, status: .firing, summary: "busy")
        }
        let busy = try #require(try await store.ingest([alert("web-1")]) { _, _, _ in [] }.first?.scenarioID)
        let stuck = try #require(try await store.ingest([alert("web-2")]) { _, _, _ in [] }.first?.scenarioID)
        func say(_ text: String) async {
            let ref = MessageRef(transport: "memory", chat: "chat", messageID: UUID().uuidString)
            await responder.handle(IncomingMessage(ref: ref, userID: "u-ana", displayName: "ana", text: text))
        }

        try await withThrowingTaskGroup(of: Void.self) { services in
            services.addTask { try await broker.run() }
            let endpoint = try await broker.boundEndpoint()
            for id in ["w-1", "w-2"] {
                let agent = WorkerAgent(
                    options: WorkerOptions(connect: endpoint, workerID: id, capacity: 16, heartbeatInterval: .milliseconds(200),
                                           killGrace: .milliseconds(200)),
                    logger: quiet)
                services.addTask { try await agent.run() }
            }
            try await Self.waitUntil("two workers registered") { broker.registeredWorkers().count == 2 }

            // Ten long commands on the stuck scenario, cancelled together once all run.
            let long = Task {
                await withDiscardingTaskGroup { group in
                    for _ in 0..<10 { group.addTask { await say("#\(stuck) run long") } }
                }
            }
            try await Self.waitUntil("the long commands running") {
                try await store.events(of: stuck).filter { $0.kind == .commandDispatched }.count == 10
                    && broker.registeredWorkers().map(\.inFlight).reduce(0, +) == 10
            }
            await say("#\(stuck) cancel")

            // 990 commands on the busy one, 32 at a time.
            for start in stride(from: 0, to: 990, by: 32) {
                await withDiscardingTaskGroup { batch in
                    for index in start..<min(start + 32, 990) {
                        batch.addTask { await say("#\(busy) run \(Self.action(index))") }
                    }
                }
            }
            await long.value
            services.cancelAll()
        }

        let expected = Dictionary(grouping: 0..<990, by: Self.action).mapValues(\.count)
        let events = try await store.events(of: busy)
        let dispatched = events.compactMap { if case .commandDispatched(let facts) = $0.body { facts } else { nil } }
        #expect(dispatched.count == 990)
        #expect(Set(dispatched.map(\.taskID)).count == 990, "one task id per command")
        var ended: [String: EventBody] = [:]
        for event in events {
            let taskID: String
            switch event.body {
            case .commandFinished(let result): taskID = result.taskID
            case .commandLost(let facts): taskID = facts.taskID
            case .commandRejected: Issue.record("rejected: \(event.body.summary)"); continue
            default: continue
            }
            #expect(ended.updateValue(event.body, forKey: taskID) == nil, "task \(taskID) ended twice")
        }
        #expect(Set(ended.keys) == Set(dispatched.map(\.taskID)), "every dispatched task ended, none other")
        var outcomes: [String: Int] = [:]
        for body in ended.values {
            guard case .commandFinished(let result) = body else { Issue.record("not finished: \(body.summary)"); continue }
            let endedAs = switch (result.exitCode, result.timedOut) {
            case (0, false): "ok"
            case (1, false): "fail"
            case (_, true): "slow"
            case (127, false): "missing"
            default: "something else"
            }
            #expect(endedAs == result.action, "task \(result.taskID) (\(result.action)) ended as: \(result.outcomeDescription)")
            outcomes[endedAs, default: 0] += 1
        }
        #expect(outcomes == expected, "each action ended as it should")

        let stuckEvents = try await store.events(of: stuck)
        #expect(stuckEvents.filter { $0.kind == .cancelRequested }.count == 10)
        let cancelled = stuckEvents.compactMap { if case .commandFinished(let result) = $0.body { result } else { nil } }
        #expect(cancelled.count == 10)
        #expect(cancelled.allSatisfy { $0.cancelled && !$0.timedOut && $0.signal != nil }, "\(cancelled.map(\.outcomeDescription))")
    }

    static func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TimedOutWaiting(what: what) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    struct TimedOutWaiting: Error, CustomStringConvertible {
        var what: String
        var description: String { "timed out waiting for \(what)" }
    }
}
