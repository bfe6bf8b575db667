import Foundation
import Logging
import TeleOpsCore
import TeleOpsTesting
import Testing
@testable import TeleOpsDispatch

/// Runs a CURVE broker with key pair `server` and `allowed` worker keys on its own ZeroMQ
/// context (so its ZAP handler is its own), bound to `endpoint`; runs `body` with the endpoint
/// workers connect to, then stops it.
func withCurveBroker(
    server: CurveKeyPair, allowed: [CurvePublicKey], endpoint: String = "tcp://127.0.0.1:*",
    context: ZMQContext = ZMQContext(), logs: LogCapture = LogCapture(),
    _ body: @escaping @Sendable (Broker, String) async throws -> Void
) async throws {
    becomeSubreaper
    let broker = Broker(endpoint: endpoint, heartbeatInterval: .milliseconds(50), heartbeatTimeout: .seconds(2),
                        maxQueued: 8, curve: BrokerCurve(keyPair: server, allowedKeys: allowed), logger: logs.logger,
                        context: context)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await broker.run() }
        let bound = try await withDeadline("broker bound") { try await broker.boundEndpoint() }
        // A broker bound to every interface is reached on loopback.
        let endpoint = bound.replacingOccurrences(of: "tcp://0.0.0.0:", with: "tcp://127.0.0.1:")
        try await withDeadline("test body", .seconds(30)) { try await body(broker, endpoint) }
        group.cancelAll()
        try await group.waitForAll()
    }
}

/// A worker agent of this process with CURVE settings `curve`, logging into `logs`.
func curveAgent(_ id: String, endpoint: String, curve: WorkerCurve?, logs: LogCapture = LogCapture()) -> WorkerAgent {
    var options = WorkerOptions(connect: endpoint, workerID: id, hosts: ["*"], capacity: 2,
                                heartbeatInterval: .milliseconds(50), killGrace: .milliseconds(100))
    options.curve = curve
    return WorkerAgent(options: options, logger: logs.logger)
}

@Suite(.timeLimit(.minutes(1))) struct CurveBrokerTests {
    @Test func anAllowedWorkerRegistersAndRunsATask() async throws {
        let server = try CurveKeyPair.generate()
        let worker = try CurveKeyPair.generate()
        let logs = LogCapture()
        try await withCurveBroker(server: server, allowed: [worker.publicKey], logs: logs) { broker, endpoint in
            let agent = curveAgent("web", endpoint: endpoint, curve: WorkerCurve(serverKey: server.publicKey, keyPair: worker))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                try await eventually("worker registered") { broker.registeredWorkers().map(\.id) == ["web"] }
                let outcome = await broker.dispatch(request("web-1", ["/bin/echo", "over CURVE"]))
                group.cancelAll()
                guard case .finished(let result) = outcome else {
                    Issue.record("\(outcome)\n\(logs.lines.all.joined(separator: "\n"))")
                    return
                }
                #expect(result.output == "over CURVE\n")
                #expect(result.exitCode == 0)
            }
        }
        #expect(!logs.lines(containing: "CURVE on").isEmpty)
        #expect(logs.lines(containing: "refused").isEmpty, "\(logs.lines.all)")
    }

    @Test func anUnknownWorkerKeyIsRefusedAndLogged() async throws {
        let server = try CurveKeyPair.generate()
        let known = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let brokerLogs = LogCapture()
        let strangerLogs = LogCapture()
        try await withCurveBroker(server: server, allowed: [known.publicKey], logs: brokerLogs) { broker, endpoint in
            let intruder = curveAgent("intruder", endpoint: endpoint,
                                      curve: WorkerCurve(serverKey: server.publicKey, keyPair: stranger), logs: strangerLogs)
            let good = curveAgent("good", endpoint: endpoint, curve: WorkerCurve(serverKey: server.publicKey, keyPair: known))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await intruder.run() }
                let refusal = try await brokerLogs.lines.waitFor(what: "the broker's refusal") {
                    $0.contains("worker refused: CURVE key not allowed")
                }
                #expect(refusal.contains("public_key=\(stranger.publicKey.z85)"))
                #expect(refusal.contains("peer=127.0.0.1"))
                #expect(refusal.contains("reason=public key is not on the allowlist"))
                let seen = try await strangerLogs.lines.waitFor(what: "the worker's own diagnosis") {
                    $0.contains("refused this worker's CURVE key")
                }
                #expect(seen.contains("zap_status=400"))

                group.addTask { try await good.run() }
                try await eventually("the known worker registered") { !broker.registeredWorkers().isEmpty }
                #expect(broker.registeredWorkers().map(\.id) == ["good"])
                #expect(strangerLogs.lines(containing: "worker registered").isEmpty)
                group.cancelAll()
            }
        }
        // The intruder reconnects every 100 ms; its refusals are logged once per window.
        #expect(brokerLogs.lines(containing: "worker refused").count == 1, "\(brokerLogs.lines.all)")
        #expect(brokerLogs.lines.all.allSatisfy { !$0.contains(server.secretKey.z85) && !$0.contains(stranger.secretKey.z85) })
    }

    @Test func aWorkerPinningAnotherServerKeyNeverRegisters() async throws {
        let server = try CurveKeyPair.generate()
        let impostorServer = try CurveKeyPair.generate()
        let worker = try CurveKeyPair.generate()
        let brokerLogs = LogCapture()
        let workerLogs = LogCapture()
        try await withCurveBroker(server: server, allowed: [worker.publicKey], logs: brokerLogs) { broker, endpoint in
            let misled = curveAgent("misled", endpoint: endpoint,
                                    curve: WorkerCurve(serverKey: impostorServer.publicKey, keyPair: worker), logs: workerLogs)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await misled.run() }
                let line = try await brokerLogs.lines.waitFor(what: "the broker's handshake failure") {
                    $0.contains("worker refused: CURVE handshake failed")
                }
                #expect(line.contains("the worker pinned another server key"))
                _ = try await workerLogs.lines.waitFor(what: "the worker's diagnosis") {
                    $0.contains("check that the server key is the controller's public key")
                }
                #expect(broker.registeredWorkers().isEmpty)
                #expect(workerLogs.lines(containing: "worker registered").isEmpty)
                group.cancelAll()
            }
        }
    }

    @Test func aWorkerWithoutCurveIsRefused() async throws {
        let server = try CurveKeyPair.generate()
        let brokerLogs = LogCapture()
        try await withCurveBroker(server: server, allowed: [], logs: brokerLogs) { broker, endpoint in
            let plain = curveAgent("plain", endpoint: endpoint, curve: nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await plain.run() }
                let line = try await brokerLogs.lines.waitFor(what: "the broker's handshake failure") {
                    $0.contains("worker refused: CURVE handshake failed")
                }
                // Which side notices the mismatch first varies; the broker's line says it either way.
                #expect(line.contains("the worker does not use CURVE") || line.contains("a worker without CURVE"), "\(line)")
                #expect(broker.registeredWorkers().isEmpty)
                group.cancelAll()
            }
        }
    }

    @Test func aBrokerRefusesANonLoopbackEndpointWithoutCurve() async throws {
        let logs = LogCapture()
        let broker = Broker(endpoint: "tcp://0.0.0.0:*", heartbeatInterval: .milliseconds(50),
                            heartbeatTimeout: .seconds(2), maxQueued: 8, logger: logs.logger)
        let error = await #expect(throws: ZMQError.self) { try await broker.run() }
        #expect(error?.description.contains("'tcp://0.0.0.0:*' is not on loopback, and workers off loopback must use CURVE") == true)
        await #expect(throws: ZMQError.self) { try await broker.boundEndpoint() }
    }

    @Test func aCurveBrokerMayBindEveryInterface() async throws {
        let server = try CurveKeyPair.generate()
        let worker = try CurveKeyPair.generate()
        try await withCurveBroker(server: server, allowed: [worker.publicKey], endpoint: "tcp://0.0.0.0:*") {
            broker, endpoint in
            #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
            let agent = curveAgent("remote", endpoint: endpoint, curve: WorkerCurve(serverKey: server.publicKey, keyPair: worker))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                try await eventually("worker registered") { broker.registeredWorkers().map(\.id) == ["remote"] }
                group.cancelAll()
            }
        }
    }

    @Test func aWorkerRefusesANonLoopbackEndpointWithoutCurve() async throws {
        let logs = LogCapture()
        // TEST-NET-1: never reached, the worker refuses before connecting.
        let agent = curveAgent("plain", endpoint: "tcp://192.0.2.1:7311", curve: nil, logs: logs)
        try await withDeadline("the worker gives up") { try await agent.run() }
        let line = try #require(logs.lines(containing: "worker socket failed").first)
        #expect(line.contains("refusing to connect to 'tcp://192.0.2.1:7311'"))
        #expect(line.contains("workers off loopback must use CURVE"))
    }

    @Test func theZAPHandlerServesSeveralBrokersAndStopsWithTheLast() async throws {
        let context = ZMQContext()
        let worker = try CurveKeyPair.generate()
        let firstServer = try CurveKeyPair.generate()
        let secondServer = try CurveKeyPair.generate()
        #expect(!context.zap.isRunning)
        try await withCurveBroker(server: firstServer, allowed: [worker.publicKey], context: context) { first, firstEndpoint in
            #expect(context.zap.isRunning)
            try await withCurveBroker(server: secondServer, allowed: [], context: context) { _, secondEndpoint in
                // The second broker's allowlist is its own: the worker is refused there.
                let logs = LogCapture()
                let refused = curveAgent("w2", endpoint: secondEndpoint,
                                         curve: WorkerCurve(serverKey: secondServer.publicKey, keyPair: worker), logs: logs)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await refused.run() }
                    _ = try await logs.lines.waitFor(what: "refusal by the second broker") {
                        $0.contains("refused this worker's CURVE key")
                    }
                    group.cancelAll()
                }
            }
            #expect(context.zap.isRunning, "the first broker still needs the handler")
            let agent = curveAgent("w1", endpoint: firstEndpoint, curve: WorkerCurve(serverKey: firstServer.publicKey, keyPair: worker))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                try await eventually("worker registered with the first broker") { first.registeredWorkers().map(\.id) == ["w1"] }
                group.cancelAll()
            }
        }
        #expect(!context.zap.isRunning, "the handler thread and its socket are gone with the last broker")
    }
}

@Suite struct RefusalLogTests {
    @Test func logsEachKeyOncePerWindowAndCountsTheRest() {
        var log = RefusalLog(window: .seconds(60), maxLines: 3)
        let start = ContinuousClock.now
        #expect(log.admit(key: "a", now: start) == 0)
        for second in 1...50 { #expect(log.admit(key: "a", now: start + .seconds(second / 2)) == nil) }
        #expect(log.admit(key: "b", now: start + .seconds(30)) == 0)
        #expect(log.admit(key: "c", now: start + .seconds(30)) == 0)
        #expect(log.admit(key: "d", now: start + .seconds(30)) == nil, "at most 3 lines per window")
        #expect(log.pendingSummaryAt == start + .seconds(60))
        #expect(log.takeSummary(now: start + .seconds(59)) == nil)
        #expect(log.takeSummary(now: start + .seconds(60)) == 51)
        #expect(log.pendingSummaryAt == nil)
        #expect(log.admit(key: "a", now: start + .seconds(61)) == 0, "a new window logs the key again")
    }

    @Test func aLineAfterTheWindowCarriesWhatWasHeldBack() {
        var log = RefusalLog(window: .seconds(10), maxLines: 10)
        let start = ContinuousClock.now
        #expect(log.admit(key: "a", now: start) == 0)
        #expect(log.admit(key: "a", now: start + .seconds(1)) == nil)
        #expect(log.admit(key: "a", now: start + .seconds(2)) == nil)
        #expect(log.admit(key: "a", now: start + .seconds(11)) == 2)
        #expect(log.admit(key: "a", now: start + .seconds(12)) == nil)
    }
}
