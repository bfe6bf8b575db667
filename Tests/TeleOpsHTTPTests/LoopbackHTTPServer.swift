import Hummingbird
import Logging
import ServiceLifecycle
import TeleOpsCore
import TeleOpsTesting

/// Serves the router `makeRouter` builds (around an `IngestQueue` in front of `store`) on
/// 127.0.0.1 at a free port, runs `body` with its base URL, then shuts both down. The socket is
/// always on loopback, whatever host the router's settings name.
func withLoopbackHTTPServer(
    store: any ScenarioStore, queue: IngestQueue.Settings = IngestQueue.Settings(),
    makeRouter: (_ intake: IngestQueue, _ logger: Logger) -> Router<BasicRequestContext>,
    _ body: (_ base: String) async throws -> Void
) async throws {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let intake = IngestQueue(
        store: store, composer: NotificationComposer(catalogue: .defaults), doorbell: Doorbell(), settings: queue,
        logger: logger)
    let ports = Collector<Int>()
    let http = Application(
        router: makeRouter(intake, logger),
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: "TeleOps"),
        onServerRunning: { ports.append($0.localAddress?.port ?? 0) }, logger: logger)
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(
        services: [.init(service: intake), .init(service: http)], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let port = try await ports.waitFor(what: "the HTTP server to listen") { _ in true }
            try await body("http://127.0.0.1:\(port)")
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
