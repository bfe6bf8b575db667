import Foundation
import Synchronization
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

@Suite(.timeLimit(.minutes(1))) struct WorkerAgentTests {
    static func options(_ endpoint: String, id: String = "agent", capacity: Int = 2) -> WorkerOptions {
        WorkerOptions(connect: endpoint, workerID: id, capacity: capacity, heartbeatInterval: .milliseconds(50),
                      killGrace: .milliseconds(100))
    }

    @Test func theCommandGetsTheWorkersSettingsWithTheTasksOnTop() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            var options = Self.options(endpoint)
            options.environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "SHARED": "worker"]
            options.limits = ResourceLimits(cpuSeconds: 60, addressSpaceBytes: 1 << 30, openFiles: 256, processes: 64)
            options.user = "nobody"
            options.group = "nogroup"
            let executor = RecordingExecutor()
            try await withAgent(options, executor: executor, registeredWith: broker) {
                let full = TaskRequest(
                    action: "a", host: "h", argv: ["id", "-u"], timeout: .milliseconds(1500), outputLimit: 777,
                    environment: ["SHARED": "task", "ONLY_TASK": "1"], workingDirectory: "/var/tmp", user: "daemon",
                    group: "daemon", limits: ResourceLimits(cpuSeconds: 5, processes: 8))
                let bare = TaskRequest(action: "a", host: "h", argv: ["true"], timeout: .seconds(1), outputLimit: 10)
                for request in [full, bare] {
                    guard case .finished = await broker.dispatch(request) else {
                        Issue.record("not finished")
                        return
                    }
                }
            }
            let specs = executor.specs.withLock { $0 }
            try #require(specs.count == 2)
            #expect(specs[0] == ExecSpec(
                argv: ["id", "-u"], timeout: .milliseconds(1500), killGrace: .milliseconds(100), outputLimit: 777,
                environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "SHARED": "task", "ONLY_TASK": "1"],
                workingDirectory: "/var/tmp",
                limits: ResourceLimits(cpuSeconds: 5, addressSpaceBytes: 1 << 30, openFiles: 256, processes: 8),
                user: "daemon", group: "daemon"))
            #expect(specs[1] == ExecSpec(
                argv: ["true"], timeout: .seconds(1), killGrace: .milliseconds(100), outputLimit: 10,
                environment: options.environment, workingDirectory: nil, limits: options.limits, user: "nobody",
                group: "nogroup"))
        }
    }

    /// A TASK asking for more output than a DONE can carry gets the most that fits: a DONE
    /// refused for its size would leave the task without a result.
    @Test func theOutputLimitIsHeldToWhatADoneCanCarry() {
        let options = WorkerOptions(connect: "tcp://127.0.0.1:1", workerID: "w")
        let huge = TaskRequest(action: "a", host: "h", argv: ["yes"], timeout: .seconds(1), outputLimit: 16 << 20)
        #expect(WorkerAgent.execSpec(huge, options).outputLimit == WireCodec.maxOutputLimit)
        #expect(WireCodec.maxOutputLimit * 6 + (64 << 10) <= WireCodec.maxBodyBytes)
        let modest = TaskRequest(action: "a", host: "h", argv: ["yes"], timeout: .seconds(1), outputLimit: 65536)
        #expect(WorkerAgent.execSpec(modest, options).outputLimit == 65536)
    }

    @Test func outputIsStreamedInOrderCutOnlyBetweenCharacters() async throws {
        let pause = Duration.milliseconds(30)
        let executor = ScriptedExecutor([
            (.zero, Array("line 1\n".utf8)),
            (pause, [0x68, 0xC3]), (pause, [0xA9, 0x0A]),  // "hé\n" with é split across writes
            (pause, [0xF0]), (pause, [0x9F]), (pause, [0x9A]), (pause, [0x80]),  // 🚀 one byte at a time
            (pause, Array(" done\n".utf8)),
        ])
        try await withBroker(agents: []) { broker, endpoint in
            try await withAgent(Self.options(endpoint), executor: executor, registeredWith: broker) {
                let log = ProgressLog()
                let outcome = await broker.dispatch(request("h", ["scripted"]), progress: log.handler)
                guard case .finished(let result) = outcome else {
                    Issue.record("\(outcome)")
                    return
                }
                #expect(result.output == "line 1\nhé\n🚀 done\n")
                #expect(log.text == result.output, "the chunks add up to DONE's output")
                #expect(log.all.map(\.seq) == Array(0..<log.all.count))
                #expect(log.all.first?.data.hasPrefix("line 1\n") == true)
                #expect(!log.text.contains("\u{FFFD}"), "no chunk ends inside a character: \(log.all)")
            }
        }
    }

    @Test func aFloodOfSmallWritesBecomesAFewChunks() async throws {
        let line = Array("0123456789abcde\n".utf8)
        let executor = ScriptedExecutor(Array(repeating: (Duration.zero, line), count: 4000))
        try await withBroker(agents: []) { broker, endpoint in
            try await withAgent(Self.options(endpoint), executor: executor, registeredWith: broker) {
                let log = ProgressLog()
                var flood = request("h", ["flood"])
                flood.outputLimit = 4000 * line.count
                let outcome = await broker.dispatch(flood, progress: log.handler)
                guard case .finished(let result) = outcome else {
                    Issue.record("\(outcome)")
                    return
                }
                #expect(log.text.utf8.count == 4000 * line.count)
                #expect(log.text == result.output)
                // 64,000 bytes: about eight chunks of 8 KiB, plus the first and any the 100 ms pacing adds.
                #expect(log.all.count < 40, "4,000 writes became \(log.all.count) OUTPUT messages")
                #expect(log.all.allSatisfy { $0.data.utf8.count <= 64 * 1024 })
            }
        }
    }

    @Test func noMoreThanTheOutputLimitIsStreamed() async throws {
        let executor = ScriptedExecutor(Array(repeating: (Duration.zero, Array("abcdefghij".utf8)), count: 10),
                                        honoursLimit: false)
        try await withBroker(agents: []) { broker, endpoint in
            try await withAgent(Self.options(endpoint), executor: executor, registeredWith: broker) {
                let log = ProgressLog()
                var limited = request("h", ["chatty"])
                limited.outputLimit = 25
                let outcome = await broker.dispatch(limited, progress: log.handler)
                guard case .finished(let result) = outcome else {
                    Issue.record("\(outcome)")
                    return
                }
                #expect(result.truncated)
                #expect(log.text == "abcdefghijabcdefghijabcde")
            }
        }
    }

    @Test func cancelEndsTheRunAndDoneSaysCancelled() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            try await withAgent(Self.options(endpoint), executor: WaitForCancelExecutor(), registeredWith: broker) {
                let log = ProgressLog()
                let task = Task { await broker.dispatch(request("h", ["wait"]), progress: log.handler) }
                try await eventually("the command started") { log.text == "started\n" }
                task.cancel()
                let outcome = try await withDeadline("cancelled dispatch") { await task.value }
                guard case .finished(let result) = outcome else {
                    Issue.record("\(outcome)")
                    return
                }
                #expect(result.cancelled)
                #expect(!result.timedOut)
                #expect(!result.succeeded)
                #expect(result.outcomeDescription.hasPrefix("cancelled after"))
            }
        }
    }

    /// The parent's death signal can be lost (it may arrive while the signal handlers are being
    /// set up); the worker then notices at a heartbeat that it was re-parented, kills its running
    /// command and stops without waiting for the controller.
    @Test func aWorkerWhoseParentIsGoneStopsAndKillsItsCommand() async throws {
        let parent = Mutex<pid_t>(4242)
        let executor = WaitForCancelExecutor()
        try await withBroker(agents: []) { broker, endpoint in
            var options = Self.options(endpoint)
            options.parentPID = 4242
            let agent = WorkerAgent(options: options, executor: executor, logger: testLogger("orphan"),
                                    context: .shared, currentParent: { parent.withLock { $0 } })
            let running = Task { try await agent.run() }
            defer { running.cancel() }
            try await eventually("registered") { broker.registeredWorkers().map(\.id) == ["agent"] }
            let log = ProgressLog()
            let dispatch = Task { await broker.dispatch(request("h", ["wait"]), progress: log.handler) }
            defer { dispatch.cancel() }
            try await eventually("the command started") { log.text == "started\n" }

            parent.withLock { $0 = 1 }  // re-parented to init, and no signal came
            // On timeout the deadline cancels the wait, which stops the agent, so a failure cannot hang.
            try await withDeadline("the agent stopping on its own") {
                try await withTaskCancellationHandler { try await running.value } onCancel: { running.cancel() }
            }
            let outcome = try await withDeadline("the dispatch") { await dispatch.value }
            guard case .lost = outcome else {
                Issue.record("the controller should find the worker lost, not get a DONE")
                return
            }
        }
    }

    /// Cancelling the agent (the worker told to stop at once) kills its running commands, and
    /// `run()` returns only once they are gone and reaped.
    @Test func cancellingTheAgentKillsItsCommandsBeforeItReturns() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            let agent = WorkerAgent(options: Self.options(endpoint), logger: testLogger("stopping"))
            let running = Task { try await agent.run() }
            defer { running.cancel() }
            try await eventually("registered") { broker.registeredWorkers().map(\.id) == ["agent"] }
            let log = ProgressLog()
            let dispatch = Task {
                await broker.dispatch(request("h", ["/bin/sh", "-c", "echo $$; exec sleep 300"]), progress: log.handler)
            }
            defer { dispatch.cancel() }
            try await eventually("the command started") { log.text.hasSuffix("\n") }
            let pid = try #require(pid_t(log.text.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(kill(pid, 0) == 0, "sleep is running")
            running.cancel()
            try await withDeadline("the agent stopping") { try await running.value }
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "killed and reaped before run() returned")
        }
    }

    @Test func aCommandThatEndsByItselfIsNotCancelled() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            try await withAgent(Self.options(endpoint), executor: ScriptedExecutor([]), registeredWith: broker) {
                guard case .finished(let result) = await broker.dispatch(request("h", ["quick"])) else {
                    Issue.record("not finished")
                    return
                }
                #expect(!result.cancelled)
                #expect(result.succeeded)
            }
        }
    }

    /// ACCEPTED, then the OUTPUT, then DONE, even when the command ends at once, as seen by a
    /// hand-written controller.
    @Test func acceptedGoesOutBeforeTheTasksOutputAndDone() async throws {
        let endpoint = EndpointBox()
        let executor = ScriptedExecutor([(.zero, Array("at once\n".utf8))])
        let types: [String] = try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask {
                try await withDeadline("the controller's view") {
                    try await onDedicatedThread(name: "raw-router") { () -> Result<[String], any Error> in
                        Result { try playController(publishing: endpoint) }
                    }.get()
                }
            }
            try await eventually("the raw controller bound") { endpoint.value != nil }
            let agent = WorkerAgent(options: Self.options(endpoint.value ?? ""), executor: executor,
                                    logger: testLogger("agent-order"))
            group.addTask {
                try await agent.run()
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let next { return next }
            }
            return []
        }
        #expect(types == ["ACCEPTED", "OUTPUT", "DONE"])
    }

    /// With the real executor: the first line reaches the controller while the command still
    /// runs. The command waits for a file the progress handler creates on seeing that line, so
    /// the test does not depend on timing: without streaming it runs into its timeout.
    @Test(.enabled("the process executor streams its output") { await processExecutorStreams() })
    func realCommandOutputArrivesWhileItRuns() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-seen-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        try await withBroker(agents: [AgentSpec(id: "w")]) { broker, _ in
            let log = ProgressLog()
            let script = "echo one; while [ ! -e '\(marker)' ]; do sleep 0.02; done; echo two"
            let outcome = await broker.dispatch(request("h", ["/bin/sh", "-c", script], timeout: .seconds(8)),
                                                progress: { chunk in
                log.handler(chunk)
                if chunk.data.contains("one") { _ = FileManager.default.createFile(atPath: marker, contents: nil) }
            })
            guard case .finished(let result) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(!result.timedOut, "the first line was not streamed before the command ended")
            #expect(result.output == "one\ntwo\n")
            #expect(log.text == "one\ntwo\n")
        }
    }
}

/// Whether `ProcessExecutor` hands output to `onOutput` (the streaming executor does; an older
/// one returned output with the result only).
func processExecutorStreams() async -> Bool {
    let seen = Mutex(false)
    _ = await ProcessExecutor().run(ExecSpec(argv: ["/bin/echo", "probe"], timeout: .seconds(5), outputLimit: 100)) { _ in
        seen.withLock { $0 = true }
    }
    return seen.withLock { $0 }
}

/// The endpoint a raw controller bound, for the agent to connect to.
final class EndpointBox: Sendable {
    private let endpoint = Mutex<String?>(nil)
    var value: String? { endpoint.withLock { $0 } }
    func set(_ value: String) { endpoint.withLock { $0 = value } }
}

/// A controller written by hand on a raw ROUTER: welcomes the first worker, sends it one TASK,
/// and returns the types of the worker's messages about it, up to its DONE.
func playController(publishing endpoint: EndpointBox) throws -> [String] {
    let router = try ZMQSocket(context: .shared, type: .router)
    try router.bind("tcp://127.0.0.1:*")
    endpoint.set(try router.lastEndpoint())
    var frames = try receiveFrames(router)
    let identity = frames[0]
    try router.send([identity] + WireCodec.encode(.welcome(Welcome(heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 5000))))
    try router.send([identity] + WireCodec.encode(.task(request("h", ["scripted"], id: "order"))))
    var types: [String] = []
    while types.last != "DONE" {
        frames = try receiveFrames(router)
        let message = try WireCodec.decode(Array(frames.dropFirst())).get()
        switch message {
        case .hello, .heartbeat: continue
        default: types.append(message.type)
        }
    }
    return types
}
