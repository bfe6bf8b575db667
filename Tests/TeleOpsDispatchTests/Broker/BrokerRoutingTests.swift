import Foundation
import Synchronization
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

/// Which worker a host's task goes to, pinned tasks (`workerID`), listing workers by labels,
/// and what "busy" says.
@Suite(.timeLimit(.minutes(1))) struct BrokerRoutingTests {
    static func pinned(_ worker: String, host: String = "any", _ argv: [String], id: String = UUID().uuidString)
        -> TaskRequest
    {
        var pinned = request(host, argv, id: id)
        pinned.workerID = worker
        return pinned
    }

    @Test func aPinnedTaskRunsOnItsWorkerWhateverHostsThatServes() async throws {
        try await withBroker(agents: [AgentSpec(id: "web", hosts: ["web-1"]), AgentSpec(id: "db", hosts: ["db-1"])]) {
            broker, _ in
            for host in ["web-1", "db-1", "served-by-nobody"] {
                let outcome = await broker.dispatch(Self.pinned("db", host: host, ["/bin/echo", host]))
                guard case .finished(let result) = outcome else {
                    Issue.record("\(host): \(outcome)")
                    continue
                }
                #expect(result.worker == "db")
                #expect(result.output == "\(host)\n")
            }
        }
    }

    /// "aaa" sorts first and is idle: with the old rule (any worker serving the host, least
    /// loaded, lowest id) it took web-1's commands.
    @Test func aHostsOwnWorkerTakesItsTasksAndTheCatchAllTakesTheRest() async throws {
        try await withBroker(agents: [AgentSpec(id: "aaa", hosts: ["*"]), AgentSpec(id: "web", hosts: ["web-1"])]) {
            broker, _ in
            for (host, worker) in [("web-1", "web"), ("web-1", "web"), ("db-1", "aaa")] {
                let outcome = await broker.dispatch(request(host, ["/bin/echo", host]))
                guard case .finished(let result) = outcome else {
                    Issue.record("\(host): \(outcome)")
                    continue
                }
                #expect(result.worker == worker, "\(host)")
            }
        }
    }

    /// The host's worker is busy and the catch-all idle: the task waits for the host's worker.
    @Test func aHostsTaskWaitsForItsBusyWorkerRatherThanRunOnTheCatchAll() async throws {
        try await withBroker(agents: [AgentSpec(id: "aaa", hosts: ["*"], capacity: 1), AgentSpec(id: "web", hosts: ["web-1"], capacity: 1)]) {
            broker, _ in
            let first = Task { await broker.dispatch(request("web-1", ["sleep", "30"], id: "first")) }
            try await eventually("first running") { broker.state.withLock { $0.pending["first"]?.worker == "web" } }
            async let second = broker.dispatch(request("web-1", ["/bin/echo", "second"], id: "second"))
            try await eventually("second queued") { broker.state.withLock { $0.queue == ["second"] } }
            #expect(broker.registeredWorkers().first { $0.id == "aaa" }?.inFlight == 0)
            first.cancel()
            guard case .finished = await first.value, case .finished(let result) = await second else {
                Issue.record("not both finished")
                return
            }
            #expect(result.worker == "web")
        }
    }

    @Test func aTaskPinnedToAnUnknownWorkerIsRejected() async throws {
        try await withBroker(agents: [AgentSpec(id: "web"), AgentSpec(id: "db")]) { broker, _ in
            let outcome = await broker.dispatch(Self.pinned("ghost", ["/bin/true"]))
            #expect(outcome == .rejected(reason: "worker 'ghost' is not registered (registered: db, web)"))
        }
    }

    /// The first task runs until cancelled, so the checks in between do not race its end.
    @Test func aPinnedTaskWaitsForItsBusyWorkerEvenWhenAnotherIsFree() async throws {
        try await withBroker(agents: [AgentSpec(id: "solo", capacity: 1), AgentSpec(id: "spare", capacity: 1)]) {
            broker, _ in
            let first = Task { await broker.dispatch(Self.pinned("solo", ["sleep", "30"], id: "first")) }
            try await eventually("first running") { broker.state.withLock { $0.pending["first"]?.worker == "solo" } }
            async let second = broker.dispatch(Self.pinned("solo", ["/bin/echo", "second"], id: "second"))
            try await eventually("second queued") { broker.state.withLock { $0.queue == ["second"] } }
            #expect(broker.registeredWorkers().first { $0.id == "spare" }?.inFlight == 0)
            first.cancel()
            guard case .finished(let cancelled) = await first.value, case .finished(let result) = await second else {
                Issue.record("not both finished")
                return
            }
            #expect(cancelled.worker == "solo" && cancelled.cancelled)
            #expect(result.worker == "solo")
            #expect(result.output == "second\n")
        }
    }

    @Test func aPinnedTaskFindingItsWorkerFullAndTheQueueFullIsBusy() async throws {
        try await withBroker(maxQueued: 0, agents: [AgentSpec(id: "solo", capacity: 1), AgentSpec(id: "spare")]) {
            broker, _ in
            let running = Task { await broker.dispatch(Self.pinned("solo", ["sleep", "30"], id: "running")) }
            try await eventually("running") { broker.state.withLock { $0.pending["running"]?.worker == "solo" } }
            let overflow = await broker.dispatch(Self.pinned("solo", ["/bin/true"]))
            #expect(overflow == .rejected(reason:
                "busy: worker 'solo' is at capacity (1 slots) and 0 task(s) are already queued (limit 0); retry later"))
            running.cancel()
            guard case .finished = await running.value else {
                Issue.record("the running task did not finish")
                return
            }
        }
    }

    @Test func whenThePinnedWorkerIsLostItsRunningTaskIsLostAndItsQueuedOneRejected() async throws {
        try await withBroker(heartbeatTimeout: .seconds(60), agents: [AgentSpec(id: "bystander")]) { broker, endpoint in
            let release = WakeSignal()
            async let sawTask: Bool = withRawDealer(endpoint, routingID: "doomed/1") { socket in
                try socket.send(BrokerWorkerLifecycleTests.hello("doomed", capacity: 1))
                guard case .welcome = try receiveMessage(socket) else { return false }
                guard case .task = try receiveMessageBeating(socket) else { return false }
                hold(until: release)
                return true
            }
            try await eventually("doomed registered") { broker.registeredWorkers().count == 2 }
            let running = Task { await broker.dispatch(Self.pinned("doomed", ["sleep", "10"], id: "running")) }
            try await eventually("running") { broker.state.withLock { $0.pending["running"]?.worker == "doomed" } }
            let queued = Task { await broker.dispatch(Self.pinned("doomed", ["/bin/true"], id: "queued")) }
            try await eventually("queued") { broker.state.withLock { $0.queue == ["queued"] } }
            broker.workerExited(id: "doomed", reason: "killed by signal 9")
            let lost = try await withDeadline("lost") { await running.value }
            let rejected = try await withDeadline("rejected") { await queued.value }
            release.signal()
            #expect(try await sawTask)
            #expect(lost == .lost(worker: "doomed", reason: "worker 'doomed' exited: killed by signal 9"))
            #expect(rejected == .rejected(reason: "worker 'doomed' left before the task could run"))
            #expect(broker.registeredWorkers().first?.inFlight == 0, "the bystander got neither")
        }
    }

    /// The worker takes the task and stays connected but its DONE never comes (refused on the
    /// way for its size, say): the task ends as lost after its timeout and the grace, the worker
    /// is told to cancel it, and its slot is free again.
    @Test func aTaskWhoseResultNeverComesIsLostAfterItsTimeoutAndTheGrace() async throws {
        let broker = Broker(endpoint: "tcp://127.0.0.1:*", heartbeatInterval: .milliseconds(50), heartbeatTimeout: .seconds(60),
                            maxQueued: 8, resultGrace: .milliseconds(300), logger: testLogger("broker"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await broker.run() }
            let endpoint = try await withDeadline("broker bound") { try await broker.boundEndpoint() }
            async let cancelled: Bool = withRawDealer(endpoint, routingID: "mute/1") { socket in
                try socket.send(BrokerWorkerLifecycleTests.hello("mute", capacity: 1))
                guard case .welcome = try receiveMessage(socket) else { return false }
                guard case .task(let task) = try receiveMessageBeating(socket) else { return false }
                try socket.send(WireCodec.encode(.accepted(TaskRef(taskID: task.taskID))))
                guard case .cancel(let ref) = try receiveMessage(socket) else { return false }
                return ref.taskID == task.taskID
            }
            try await eventually("registered") { broker.registeredWorkers().count == 1 }
            let started = ContinuousClock.now
            let outcome = try await withDeadline("lost") {
                await broker.dispatch(request("h", ["sleep", "1"], timeout: .milliseconds(200)))
            }
            #expect(ContinuousClock.now - started >= .milliseconds(500))
            #expect(outcome == .lost(worker: "mute", reason:
                "worker 'mute' sent no result 0.3 seconds after the task's timeout of 0.2 seconds; the command may have run"))
            #expect(try await cancelled)
            #expect(broker.registeredWorkers().first?.inFlight == 0)
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// After a controller restart a worker may still run commands the new broker never sent;
    /// its HEARTBEAT's in_flight says so, and those slots are not offered until it reports
    /// them ended (instead of each new task being refused "busy" by the worker).
    @Test func slotsAWorkerReportsBusyBeyondItsKnownTasksWaitForItsNextHeartbeat() async throws {
        try await withBroker(heartbeatTimeout: .seconds(60), agents: []) { broker, endpoint in
            let freed = WakeSignal()
            async let ran: Bool = withRawDealer(endpoint, routingID: "old/1") { socket in
                try socket.send(BrokerWorkerLifecycleTests.hello("old", capacity: 1))
                guard case .welcome = try receiveMessage(socket) else { return false }
                try socket.send(WireCodec.encode(.heartbeat(Heartbeat(inFlight: 1))))  // a command from before
                hold(until: freed)
                try socket.send(WireCodec.encode(.heartbeat(Heartbeat(inFlight: 0))))  // it ended
                guard case .task(let task) = try receiveMessage(socket) else { return false }
                try socket.send(WireCodec.encode(.done(TaskResult(
                    taskID: task.taskID, action: task.action, worker: "old", exitCode: 0, signal: nil, timedOut: false,
                    durationMs: 1, output: "", truncated: false))))
                return true
            }
            try await eventually("registered, one slot taken") {
                broker.state.withLock { $0.workers["old"]?.strays == 1 }
            }
            async let outcome = broker.dispatch(request("h", ["/bin/true"], id: "new"))
            try await eventually("queued, not sent") { broker.state.withLock { $0.queue == ["new"] } }
            freed.signal()
            guard case .finished(let result) = await outcome else {
                Issue.record("not finished")
                return
            }
            #expect(result.worker == "old")
            #expect(try await ran)
        }
    }

    @Test func aWorkerThatAnswersBusyGetsTheTaskRejectedWithItsReason() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            async let answered: Bool = withRawDealer(endpoint, routingID: "full/1") { socket in
                try socket.send(BrokerWorkerLifecycleTests.hello("full", capacity: 4))
                guard case .welcome = try receiveMessage(socket) else { return false }
                guard case .task(let task) = try receiveMessageBeating(socket) else { return false }
                try socket.send(WireCodec.encode(.error(WireErrorBody(
                    code: .busy, message: "worker is at capacity (4 tasks running)", taskID: task.taskID))))
                return true
            }
            try await eventually("registered") { broker.registeredWorkers().count == 1 }
            let outcome = await broker.dispatch(request("h", ["/bin/true"]))
            #expect(try await answered)
            #expect(outcome == .rejected(reason:
                "worker 'full' refused the task: busy: worker is at capacity (4 tasks running)"))
        }
    }

    @Test func workersMatchingLabelsNeedEveryPair() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            let labelled: [(String, [String: String])] = [
                ("eu-web", ["zone": "eu", "role": "web"]), ("eu-db", ["zone": "eu", "role": "db"]),
                ("us-web", ["zone": "us", "role": "web"]), ("plain", [:]),
            ]
            let options = labelled.map { id, labels in
                var options = WorkerAgentTests.options(endpoint, id: id)
                options.labels = labels
                options.hosts = [id]
                return options
            }
            try await withAgents(options, executor: RecordingExecutor(), registeredWith: broker) {
                #expect(await broker.workers(matching: [:]).map(\.id) == ["eu-db", "eu-web", "plain", "us-web"])
                #expect(await broker.workers(matching: ["zone": "eu"]).map(\.id) == ["eu-db", "eu-web"])
                #expect(await broker.workers(matching: ["role": "web"]).map(\.id) == ["eu-web", "us-web"])
                #expect(await broker.workers(matching: ["zone": "eu", "role": "web"])
                    == [WorkerSummary(id: "eu-web", hosts: ["eu-web"], labels: ["zone": "eu", "role": "web"])])
                #expect(await broker.workers(matching: ["zone": "asia"]).isEmpty)
                #expect(await broker.workers(matching: ["zone": "eu", "rack": "7"]).isEmpty)
            }
        }
    }

    /// Fan-out by labels is the controller's job: list the workers, then send one pinned TASK each.
    @Test func fanOutIsOnePinnedTaskPerMatchingWorker() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            let options = ["a", "b", "c"].map { id in
                var options = WorkerAgentTests.options(endpoint, id: id)
                options.labels = ["tier": id == "c" ? "cache" : "app"]
                return options
            }
            try await withAgents(options, executor: RecordingExecutor(), registeredWith: broker) {
                let targets = await broker.workers(matching: ["tier": "app"])
                let workers = await withTaskGroup(of: String?.self) { group in
                    for target in targets {
                        group.addTask {
                            guard case .finished(let result) = await broker.dispatch(
                                Self.pinned(target.id, ["uptime"])) else { return nil }
                            return result.worker
                        }
                    }
                    return await group.reduce(into: [String?]()) { $0.append($1) }
                }
                #expect(workers.compactMap { $0 }.sorted() == ["a", "b"])
            }
        }
    }
}
