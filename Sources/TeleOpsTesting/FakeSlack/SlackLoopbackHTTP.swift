import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import TeleOpsCore

/// A Hummingbird router served on 127.0.0.1 at a free port until `stop()`. The server runs in
/// a task this type owns (a test fixture, started and stopped by the test).
final class SlackLoopbackServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    static func start(router: Router<BasicRequestContext>, name: String) async throws -> SlackLoopbackServer {
        var logger = Logger(label: name)
        logger.logLevel = .critical
        let ports = Collector<Int>()
        let app = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: name),
            onServerRunning: { channel in ports.append(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: app)], logger: logger))
        let task = Task { try await group.run() }
        do {
            let port = try await ports.waitFor(what: "\(name) to listen", timeout: .seconds(10)) { _ in true }
            return SlackLoopbackServer(port: port, group: group, task: task)
        } catch {
            task.cancel()
            throw error
        }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}
