import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TeleOpsChat
import TeleOpsCore
import TeleOpsDispatch
import TeleOpsSQLite
import TeleOpsTesting

/// Pipeline benchmarks. Prints medians and p99 of each figure, with baselines measured in the
/// same run (spawning /bin/true, one durable SQLite commit) so a noisy machine can be read
/// through ratios. Run with `make bench` (release build).
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teleops-bench")

    @Option(help: "The teleops binary to benchmark (a release build).")
    var teleops: String = ".build/release/teleops"

    @Option(help: "Alerts posted for the intake → notification figure.")
    var alerts: Int = 200

    @Option(help: "Replies sent for the reply → result figure.")
    var replies: Int = 300

    @Option(help: "Samples of each Telegram figure (spaced --chat-spacing apart).")
    var chatSamples: Int = 60

    @Option(help: "Milliseconds between Telegram samples: Telegram allows one message a second per chat.")
    var chatSpacingMilliseconds: Int = 1050

    var chatSpacing: Duration { .milliseconds(chatSpacingMilliseconds) }

    @Option(help: "Commands pushed through the broker for the throughput figure.")
    var commands: Int = 4000

    @Option(help: "Commands in flight at once for the throughput figure.")
    var concurrency: Int = 32

    @Option(help: "Timed round trips for each dispatch round-trip figure (bare ZeroMQ and broker).")
    var roundTrips: Int = 5000

    @Option(help: "Commands for each dispatch throughput figure (spawn floor and workers).")
    var spawns: Int = 4000

    @Option(help: "Rounds of the dispatch figures (each figure interleaved with its floor).")
    var dispatchRounds: Int = 3

    @Flag(help: "Measure only the dispatch figures (round trips, throughput against the spawn floor, worker memory).")
    var dispatchOnly = false

    @Flag(help: "Measure only the chat figures (baselines, end to end with the console and with Telegram).")
    var chatOnly = false

    @Option(help: ArgumentHelp(
        "Serve only the intake routes, in front of a sink that stores nothing: 'none' answers at once, 'fsync' once the alerts are synced to a file (scripts/bench/intake-floors.sh).",
        valueName: "none|fsync"))
    var intakeFloor: IntakeFloor?

    @Option(help: "The port --intake-floor listens on.")
    var intakeFloorPort = 18081

    @Option(help: "MiB written ahead into the file of --intake-floor fsync.")
    var intakeFloorFileMiB = 1024

    @OptionGroup(title: "Scenario log at scale")
    var history: HistoryOptions

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-bench-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }

        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB; \(Date().ISO8601Format())")
        if let intakeFloor { return try await serveIntakeFloor(intakeFloor, port: intakeFloorPort, scratch: scratch) }
        if dispatchOnly { return try await dispatchFigures() }
        if history.historyOnly { return try await historyFigures(scratch: scratch) }
        print("baselines")
        let spawn = await spawnBaseline()
        print(spawn.line("  spawn /bin/true (ProcessExecutor)"))
        let commit = try await commitBaseline(path: scratch.appendingPathComponent("baseline.sqlite").path)
        print(commit.line("  one durable SQLite commit (synchronous=FULL)"))

        print("end to end (teleops serve, console chat, 2 local workers)")
        let (notify, reply) = try await endToEnd(scratch: scratch)
        print(notify.line("  alert POST → console notification"))
        print(reply.line("  reply → result, action /bin/true"))

        print("end to end with Telegram (teleops serve polling a fake Bot API server on loopback)")
        let telegram = try await telegramEndToEnd(scratch: scratch)
        print(telegram.notify.line("  alert POST → sendMessage arrives"))
        print(telegram.reply.line("  reply in chat → result arrives, /bin/true"))
        if chatOnly {
            print("ratios")
            print(String(format: "  Telegram alert → sendMessage / commit: %.2f",
                         milliseconds(telegram.notify.median) / milliseconds(commit.median)))
            print(String(format: "  Telegram reply → result / (spawn + 3 commits): %.2f",
                         milliseconds(telegram.reply.median) / (milliseconds(spawn.median) + 3 * milliseconds(commit.median))))
            return
        }

        print("broker (in-process broker, 2 `teleops worker` processes)")
        let (roundTrip, rate) = try await brokerThroughput()
        print(roundTrip.line("  dispatch → result, one at a time"))
        print(String(format: "  throughput with %d in flight: %.0f commands/s (%d commands)", concurrency, rate, commands))

        print("ratios")
        print(String(format: "  reply → result / (spawn + 2 commits): %.2f", milliseconds(reply.median) / (milliseconds(spawn.median) + 2 * milliseconds(commit.median))))
        print(String(format: "  alert → notification / commit: %.2f", milliseconds(notify.median) / milliseconds(commit.median)))

        try await dispatchFigures()
    }

    func spawnBaseline() async -> Samples {
        let executor = ProcessExecutor()
        var samples = Samples()
        let clock = ContinuousClock()
        for _ in 0..<300 {
            let start = clock.now
            _ = await executor.run(ExecSpec(argv: ["/bin/true"], timeout: .seconds(5), outputLimit: 1024))
            samples.add(clock.now - start)
        }
        return samples
    }

    func commitBaseline(path: String) async throws -> Samples {
        let store = try SQLiteScenarioStore(path: path)
        let alert = Alert(source: "bench", host: "h", check: "c", severity: .info, status: .firing, summary: "s")
        let id = try await store.ingest([alert]) { _, _, _ in [] }[0].scenarioID!
        var samples = Samples()
        let clock = ContinuousClock()
        for index in 0..<200 {
            let start = clock.now
            try await store.append([NewEvent(scenarioID: id, actor: "bench", body: .note(NoteFacts(text: "note \(index)")))], outbox: [])
            samples.add(clock.now - start)
        }
        return samples
    }

    func endToEnd(scratch: URL) async throws -> (Samples, Samples) {
        let config = scratch.appendingPathComponent("bench.yaml").path
        try """
            data_dir: \(scratch.appendingPathComponent("data").path)
            http: {port: 0}
            dispatch: {endpoint: "tcp://127.0.0.1:*", local_workers: 2}
            actions:
              - {name: "true", argv: [/bin/true], timeout: 5s}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try RunningProcess(executable: teleops, arguments: ["serve", "--config", config, "--log-level", "notice"])
        defer { server.stop() }
        let listening = try await server.stderr.waitFor(what: "the server to listen", timeout: .seconds(60)) { $0.contains("listening on http://") }
        guard let range = listening.range(of: #"http://[0-9.]+:[0-9]+"#, options: .regularExpression) else {
            throw ValidationError("cannot read the port from: \(listening)")
        }
        let url = "\(listening[range])/v1/alerts/generic"
        let client = CurlHTTPClient()
        let clock = ContinuousClock()

        var notify = Samples()
        for index in 1...alerts {
            let body = Data(#"{"host":"bench-host","check":"check-\#(index)","severity":"warning","summary":"bench \#(index)","status":"firing"}"#.utf8)
            let start = clock.now
            let response = try await client.send(method: "POST", url: url, headers: ["Content-Type": "application/json"], body: body)
            guard response.status == 202 else { throw ValidationError("POST answered \(response.status)") }
            _ = try await server.stdout.waitFor(what: "announcement of #\(index)") { $0.hasPrefix("🟡 #\(index) ") }
            notify.add(clock.now - start)
        }

        var reply = Samples()
        for index in 0..<replies {
            let seen = server.stdout.count
            let start = clock.now
            server.send("#1 run true")
            _ = try await server.stdout.waitFor(what: "result \(index)", from: seen) { $0.hasPrefix("#1 true on bench-host: exit 0") }
            reply.add(clock.now - start)
        }
        server.signal(SIGTERM)
        _ = try await server.waitForExit()
        return (notify, reply)
    }

    func brokerThroughput() async throws -> (Samples, Double) {
        let broker = Broker(
            endpoint: "tcp://127.0.0.1:*", heartbeatInterval: .seconds(1), heartbeatTimeout: .seconds(5), maxQueued: 100_000,
            logger: Logger(label: "bench-broker"))
        let group = ServiceGroup(services: [broker], logger: Logger(label: "bench"))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            let endpoint = try await broker.boundEndpoint()
            let workers = try (1...2).map { index in
                try RunningProcess(executable: teleops, arguments: [
                    "worker", "--connect", endpoint, "--id", "bench-\(index)", "--host", "*", "--capacity", "16", "--log-level", "warning",
                ])
            }
            defer { workers.forEach { $0.stop() } }
            let clock = ContinuousClock()
            func request() -> TaskRequest {
                TaskRequest(action: "true", host: "bench-host", argv: ["/bin/true"], timeout: .seconds(5), outputLimit: 1024)
            }
            // Wait until both workers have registered.
            try await withDeadline(.seconds(20), what: "two workers to register") {
                while broker.registeredWorkers().count < 2 { try await Task.sleep(for: .milliseconds(10)) }
            }
            var roundTrip = Samples()
            for _ in 0..<500 {
                let start = clock.now
                guard case .finished = await broker.dispatch(request()) else { throw ValidationError("a benchmark command failed") }
                roundTrip.add(clock.now - start)
            }
            let total = commands
            let inFlight = concurrency
            let start = clock.now
            let failures = await withTaskGroup(of: Int.self) { group -> Int in
                for lane in 0..<inFlight {
                    group.addTask {
                        var failed = 0
                        for _ in stride(from: lane, to: total, by: inFlight) {
                            if case .finished = await broker.dispatch(request()) {} else { failed += 1 }
                        }
                        return failed
                    }
                }
                return await group.reduce(0, +)
            }
            let elapsed = clock.now - start
            guard failures == 0 else { throw ValidationError("\(failures) benchmark commands did not finish") }
            await group.triggerGracefulShutdown()
            return (roundTrip, Double(total) / (milliseconds(elapsed) / 1000))
        }
    }
}
