import Foundation
import TeleOpsTesting
import Testing

/// `teleops alert send --source sensu -` as Sensu runs it as a pipe handler: the real binary,
/// the event piped to its standard input, a real server. Sensu does not run a failed handler
/// again, so the command itself must get the event through a controller that is starting or
/// refusing for a moment.
@Suite struct AlertSendAcceptanceTests {
    static let classicEvent = "Tests/Fixtures/alerts/sensu-classic-handler-stdin.json"
    static let goEvent = "Tests/Fixtures/alerts/sensu-go-event-failing.DERIVED.json"

    /// Starts `teleops alert send --source sensu ARGS -` and pipes the fixture `file` into it.
    static func pipeHandler(_ file: String, url: String, _ arguments: [String] = []) throws -> RunningProcess {
        let event = try Data(contentsOf: TeleOpsServer.repositoryRoot.appendingPathComponent(file))
        var environment = ProcessInfo.processInfo.environment
        environment["TELEOPS_TOKEN"] = nil
        let handler = try RunningProcess(
            executable: TeleOpsServer.executable,
            arguments: ["alert", "send", "--source", "sensu", "--url", url] + arguments + ["-"], environment: environment)
        handler.write(event)
        handler.closeInput()
        return handler
    }

    /// The hosts of the Sensu scenarios the server's store holds.
    static func sensuHosts(_ server: TeleOpsServer) async throws -> [String] {
        let listed = try await server.cli(["scenarios", "list", "--source", "sensu", "--json"])
        let scenarios = try #require(try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]])
        return scenarios.compactMap { $0["host"] as? String }.sorted()
    }

    @Test func thePipeHandlerPostsTheEventOnItsStandardInput() async throws {
        let server = try await TeleOpsServer()
        defer { server.stop() }
        let handler = try Self.pipeHandler(Self.classicEvent, url: server.baseURL)
        defer { handler.stop() }
        #expect(try await handler.waitForExit(timeout: .seconds(60)) == 0)
        try await handler.waitForOutputEnd()
        let answer = try #require(handler.stdout.all.first)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
        #expect(json["accepted"] as? Int == 1)
        #expect(handler.stderr.all.isEmpty, "\(handler.stderr.all)")
        #expect(try await Self.sensuHosts(server) == ["client-01"])
    }

    @Test func thePipeHandlerWaitsForAControllerThatIsStillStarting() async throws {
        let reserved = try ReservedLoopbackPort()
        let port = reserved.port
        // Generous: the server may take long to start on a loaded machine.
        let handler = try Self.pipeHandler(Self.goEvent, url: "http://127.0.0.1:\(port)", ["--retry-for", "3m"])
        defer { handler.stop() }
        // Nothing listens yet: the handler says so and keeps trying.
        let refused = try await handler.stderr.waitFor(what: "a retry", timeout: .seconds(30)) { $0.contains("retrying in") }
        #expect(refused.contains("could not reach the controller"))
        #expect(handler.isRunning)

        let server = try await TeleOpsServer(httpPort: port)
        reserved.release()
        defer { server.stop() }
        #expect(try await handler.waitForExit(timeout: .seconds(120)) == 0, "\(handler.stderr.all)")
        #expect(try await Self.sensuHosts(server) == ["sensu-centos"])
    }

    @Test func thePipeHandlerRetriesA429AfterItsRetryAfter() async throws {
        // One request, then one every 5 s: the handler, started just after the first, meets a 429.
        let server = try await TeleOpsServer(extraYAML: """
            sources:
              sensu:
                rate_limit: {per_second: 0.2, burst: 1}
            """)
        defer { server.stop() }
        let first = try await server.post(
            Data(contentsOf: TeleOpsServer.repositoryRoot.appendingPathComponent(Self.goEvent)), source: "sensu")
        #expect(first.status == 202)

        let handler = try Self.pipeHandler(Self.classicEvent, url: server.baseURL)
        defer { handler.stop() }
        #expect(try await handler.waitForExit(timeout: .seconds(60)) == 0, "\(handler.stderr.all)")
        try await handler.waitForOutputEnd()
        let retries = handler.stderr.all.filter { $0.contains("retrying in") }
        #expect(!retries.isEmpty)
        #expect(retries.allSatisfy { $0.contains("HTTP 429 (Retry-After: ") }, "\(retries)")
        #expect(try await Self.sensuHosts(server) == ["client-01", "sensu-centos"])
    }

    @Test func thePipeHandlerDoesNotRetryAnEventTheControllerRefuses() async throws {
        let server = try await TeleOpsServer()
        defer { server.stop() }
        // A Sensu event without its check.
        let event = #"{"entity":{"metadata":{"name":"web-1","namespace":"default"}}}"#
        let handler = try RunningProcess(
            executable: TeleOpsServer.executable, arguments: ["alert", "send", "--source", "sensu", "--url", server.baseURL, "-"])
        defer { handler.stop() }
        handler.write(Data(event.utf8))
        handler.closeInput()
        #expect(try await handler.waitForExit(timeout: .seconds(60)) == 1)
        try await handler.waitForOutputEnd()
        #expect(handler.stderr.all.count == 1, "\(handler.stderr.all)")
        #expect(handler.stderr.all.first?.hasPrefix("teleops alert send: HTTP 400: ") == true, "\(handler.stderr.all)")
    }
}
