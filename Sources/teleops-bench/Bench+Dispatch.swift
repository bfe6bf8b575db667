import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TeleOpsCore
import TeleOpsDispatch
import TeleOpsTesting

/// The dispatch path against its floors:
/// - round trip: libzmq DEALER → ROUTER echo → DEALER on tcp loopback (the floor) vs dispatch →
///   TASK → an in-process `WorkerAgent` whose executor returns at once → ACCEPTED, DONE → outcome;
/// - throughput: `/bin/true` through two `teleops worker` processes with 2, 8, 32 and 64
///   commands in flight vs posix_spawn + waitpid in a loop (the floor), on 2 threads and on 32:
///   the floor is the faster of the two;
/// - the resident memory of an idle `teleops worker`.
///
/// The machine is shared, so each figure is measured `dispatchRounds` times, interleaved with
/// its floor, and the ratios are taken within a round.
extension Bench {
    struct DispatchRound {
        var bare: Samples
        var broker: Samples
        /// Commands per second of the spawn loop on 2 threads and on 32.
        var spawnFloors: (two: Double, many: Double)
        /// The faster of the two: what a ratio is taken against.
        var spawnFloor: Double { max(spawnFloors.two, spawnFloors.many) }
        /// Commands per second by commands in flight (2 workers × capacity).
        var throughput: [(inFlight: Int, rate: Double)]

        var roundTripRatio: Double { milliseconds(broker.median) / milliseconds(bare.median) }
        var roundTripRatioP99: Double { milliseconds(broker.p99) / milliseconds(bare.p99) }
    }

    func dispatchFigures() async throws {
        print("dispatch (\(dispatchRounds) rounds; each figure and its floor measured in the same round)")
        var rounds: [DispatchRound] = []
        for index in 1...max(1, dispatchRounds) {
            let bare = try await bareRoundTrips(roundTrips)
            let broker = try await brokerRoundTrips(roundTrips)
            let floors = (two: await spawnFloor(spawns, threads: 2), many: await spawnFloor(spawns, threads: 32))
            var throughput: [(Int, Double)] = []
            for capacity in [1, 4, 16, 32] {
                throughput.append((2 * capacity, try await workerThroughput(spawns, capacity: capacity)))
            }
            let round = DispatchRound(bare: bare, broker: broker, spawnFloors: floors, throughput: throughput)
            let floor = round.spawnFloor
            rounds.append(round)
            print("  round \(index)")
            print(bare.line("    bare DEALER/ROUTER round trip (floor)"))
            print(broker.line("    broker round trip, executor returns at once"))
            print(String(format: "    spawn /bin/true, 2 threads                       %6.0f commands/s", floors.two))
            print(String(format: "    spawn /bin/true, 32 threads                      %6.0f commands/s", floors.many))
            for (inFlight, rate) in throughput {
                print(String(format: "    /bin/true via 2 workers, %2d in flight            %6.0f commands/s (%.2f of the floor)",
                             inFlight, rate, rate / floor))
            }
            print(String(format: "    broker / bare round trip: median %.2f, p99 %.2f", round.roundTripRatio,
                         round.roundTripRatioP99))
        }
        let rss = try await idleWorkerRSS()
        print("  idle `teleops worker` resident memory (VmRSS, 2 s after registering): \(rss) KiB")
        func summary(_ values: [Double]) -> String {
            let sorted = values.sorted()
            return String(format: "%.2f [%.2f–%.2f]", sorted[sorted.count / 2], sorted.first ?? 0, sorted.last ?? 0)
        }
        print("ratios (dispatch; median of the rounds [range])")
        print("  broker / bare round trip, median: \(summary(rounds.map(\.roundTripRatio)))")
        print("  broker / bare round trip, p99: \(summary(rounds.map(\.roundTripRatioP99)))")
        for (index, inFlight) in (rounds.first?.throughput.map(\.inFlight) ?? []).enumerated() {
            print("  throughput / spawn floor, \(inFlight) in flight: "
                + summary(rounds.map { $0.throughput[index].rate / $0.spawnFloor }))
        }
    }

    /// One DEALER sends a 32-byte message, a ROUTER on another thread echoes it: `count` timed
    /// round trips after 200 untimed ones.
    func bareRoundTrips(_ count: Int) async throws -> Samples {
        try await onThread("bench-dealer") {
            var stop: [Int32] = [-1, -1]
            guard pipe(&stop) == 0 else { throw ValidationError("pipe failed: errno \(errno)") }
            defer { close(stop[0]); close(stop[1]) }
            let bound = Handoff<Result<String, any Error>>()
            let echoDone = Handoff<Void>()
            let stopRead = stop[0]
            let echo = Thread {
                do {
                    let router = try ZMQSocket(context: .shared, type: .router)
                    try router.bind("tcp://127.0.0.1:*")
                    bound.put(.success(try router.lastEndpoint()))
                    while !(try router.poll(alongside: stopRead, timeoutMs: -1).fd) {
                        while let frames = try router.receive() { try router.send(frames) }
                    }
                } catch {
                    bound.put(.failure(error))
                }
                echoDone.put(())
            }
            echo.name = "bench-router"
            echo.start()
            defer {
                var one: UInt8 = 1
                _ = write(stop[1], &one, 1)
                echoDone.take()
            }
            let endpoint = try bound.take().get()
            let dealer = try ZMQSocket(context: .shared, type: .dealer)
            try dealer.connect(endpoint)
            let payload = [UInt8](repeating: 0x2A, count: 32)
            let clock = ContinuousClock()
            var samples = Samples()
            for index in 0..<(200 + count) {
                let start = clock.now
                try dealer.send([payload])
                var reply: [[UInt8]]?
                while reply == nil {
                    _ = try dealer.poll(alongside: stopRead, timeoutMs: -1)
                    reply = try dealer.receive()
                }
                if index >= 200 { samples.add(clock.now - start) }
            }
            return samples
        }
    }

    /// `dispatch` one task at a time to an in-process worker whose executor returns at once:
    /// the broker, the wire protocol and the agent, without a process.
    func brokerRoundTrips(_ count: Int) async throws -> Samples {
        try await withBrokerService { broker, endpoint in
            let agent = WorkerAgent(
                options: WorkerOptions(connect: endpoint, workerID: "instant", capacity: 1),
                executor: InstantExecutor(), logger: Logger(label: "bench-agent"))
            return try await withThrowingTaskGroup(of: Samples?.self) { group in
                group.addTask {
                    try await agent.run()
                    return nil
                }
                defer { group.cancelAll() }
                try await withDeadline(.seconds(20), what: "the worker to register") {
                    while broker.registeredWorkers().isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                }
                let request = TaskRequest(taskID: "", action: "noop", host: "bench-host", argv: ["noop"],
                                          timeout: .seconds(5), outputLimit: 1024)
                let clock = ContinuousClock()
                var samples = Samples()
                for index in 0..<(200 + count) {
                    var next = request
                    next.taskID = "rt-\(index)"
                    let start = clock.now
                    guard case .finished = await broker.dispatch(next) else {
                        throw ValidationError("a round trip did not finish")
                    }
                    if index >= 200 { samples.add(clock.now - start) }
                }
                return samples
            }
        }
    }

    /// Commands per second when `threads` threads each posix_spawn /bin/true and wait for it.
    func spawnFloor(_ count: Int, threads: Int) async -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        await withTaskGroup(of: Void.self) { group in
            for lane in 0..<threads {
                group.addTask {
                    let share = count / threads + (lane < count % threads ? 1 : 0)
                    _ = try? await onThread("bench-spawn-\(lane)") { spawnTrueRepeatedly(share) }
                }
            }
        }
        return Double(count) / (milliseconds(clock.now - start) / 1000)
    }

    /// `/bin/true` through two `teleops worker` processes of `capacity` each, with as many
    /// commands in flight as they have slots; commands per second.
    func workerThroughput(_ count: Int, capacity: Int) async throws -> Double {
        try await withBrokerService { broker, endpoint in
            let workers = try (1...2).map { index in
                try RunningProcess(executable: teleops, arguments: [
                    "worker", "--connect", endpoint, "--id", "bench-\(index)", "--host", "*", "--capacity", "\(capacity)",
                    "--log-level", "warning",
                ])
            }
            defer { workers.forEach { $0.stop() } }
            try await withDeadline(.seconds(20), what: "two workers to register") {
                while broker.registeredWorkers().count < 2 { try await Task.sleep(for: .milliseconds(10)) }
            }
            let inFlight = 2 * capacity
            let clock = ContinuousClock()
            let start = clock.now
            let failures = await withTaskGroup(of: Int.self) { group -> Int in
                for lane in 0..<inFlight {
                    group.addTask {
                        var failed = 0
                        for _ in stride(from: lane, to: count, by: inFlight) {
                            let request = TaskRequest(action: "true", host: "bench-host", argv: ["/bin/true"],
                                                      timeout: .seconds(5), outputLimit: 1024)
                            guard case .finished(let result) = await broker.dispatch(request), result.exitCode == 0 else {
                                failed += 1
                                continue
                            }
                        }
                        return failed
                    }
                }
                return await group.reduce(0, +)
            }
            let elapsed = clock.now - start
            guard failures == 0 else { throw ValidationError("\(failures) of \(count) commands did not exit 0") }
            return Double(count) / (milliseconds(elapsed) / 1000)
        }
    }

    /// VmRSS in KiB of a `teleops worker` that registered and then sat idle for two seconds.
    func idleWorkerRSS() async throws -> Int {
        try await withBrokerService { broker, endpoint in
            let worker = try RunningProcess(executable: teleops, arguments: [
                "worker", "--connect", endpoint, "--id", "idle", "--host", "*", "--log-level", "warning",
            ])
            defer { worker.stop() }
            try await withDeadline(.seconds(20), what: "the worker to register") {
                while broker.registeredWorkers().isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            }
            try await Task.sleep(for: .seconds(2))
            let status = try String(contentsOfFile: "/proc/\(worker.pid)/status", encoding: .utf8)
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            else { throw ValidationError("no VmRSS line in /proc/\(worker.pid)/status") }
            return kib
        }
    }

    /// Runs a broker on tcp://127.0.0.1:* for the duration of `body`.
    func withBrokerService<T: Sendable>(_ body: @escaping @Sendable (Broker, String) async throws -> T) async throws -> T {
        let broker = Broker(endpoint: "tcp://127.0.0.1:*", heartbeatInterval: .seconds(1), heartbeatTimeout: .seconds(5),
                            maxQueued: 100_000, logger: Logger(label: "bench-broker"))
        let group = ServiceGroup(services: [broker], logger: Logger(label: "bench"))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            let result = try await body(broker, try await broker.boundEndpoint())
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }
}

/// An executor that runs nothing and is done at once: the broker round trip without a process.
/// `start` completes on the caller's thread (the agent's socket thread), as an executor with no
/// work has no reason to hand anything to another thread; the hop to a real executor's thread
/// is part of the throughput figures, which run `/bin/true`.
struct InstantExecutor: Executor {
    static let result = ExecResult(exitCode: 0, signal: nil, timedOut: false, duration: .zero, output: [], truncated: false)

    func run(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?) async -> ExecResult { Self.result }

    func start(_ spec: ExecSpec, onOutput: (@Sendable ([UInt8]) -> Void)?,
               completion: @escaping @Sendable (ExecResult) -> Void) -> ExecStop {
        completion(Self.result)
        return ExecStop {}
    }
}

/// posix_spawn /bin/true and waitpid for it, `count` times, on the calling thread.
func spawnTrueRepeatedly(_ count: Int) {
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { free(argv[0]) }
    for _ in 0..<count {
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/true", nil, nil, argv, environ) == 0 else { continue }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

/// Runs blocking `body` on a new thread (never on Swift's cooperative pool) and returns its result.
func onThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = name
        thread.start()
    }
}

/// One value handed from one thread to another that blocks until it arrives.
final class Handoff<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func put(_ newValue: Value) {
        value.withLock { $0 = newValue }
        ready.signal()
    }

    /// Blocks the calling thread (a dedicated one) until `put`.
    @discardableResult
    func take() -> Value {
        while true {
            ready.wait()
            if let value = value.withLock({ $0 }) { return value }
        }
    }
}
