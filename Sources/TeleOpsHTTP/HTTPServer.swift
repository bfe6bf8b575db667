import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TeleOpsCore

/// Where and how the HTTP server listens.
public struct HTTPSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var maxBodyBytes: Int
    /// Each alert source's settings by name (`AlertSourceName.all`); all enabled by default.
    public var sources: [String: SourceSettings]
    /// Who may read the scenario log (`/v1/scenarios`, `/scenarios`): open on loopback, tokens elsewhere.
    public var review = ReviewSettings()

    public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 1 << 20) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        sources = Dictionary(uniqueKeysWithValues: AlertSourceName.all.map { ($0, SourceSettings()) })
    }

    /// Enabled sources that accept requests without credentials.
    public var unauthenticatedSources: [String] {
        sources.filter { $0.value.enabled && !$0.value.requiresAuthentication }.keys.sorted()
    }
}

/// Builds the controller's HTTP service: alert intake, chat platform webhooks, health, and, given the
/// scenario store, the scenario review API and pages. Shared by `teleops serve` and the tests, so tests
/// exercise the routes users run.
///
/// ```swift
/// let http = buildHTTPService(settings: HTTPSettings(port: 0), sink: intake,
///                             decoders: [GenericAlertDecoder()], scenarios: store, logger: logger) { port in print(port) }
/// ```
public func buildHTTPService(
    settings: HTTPSettings, sink: any AlertSink, decoders: [any AlertDecoder], metrics: (any MetricLinesSink)? = nil,
    webhooks: [any ChatWebhook] = [], scenarios: (any ScenarioStore)? = nil, logger: Logger,
    onRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> any Service {
    let router = buildRouter(
        settings: settings, sink: sink, decoders: decoders, metrics: metrics, webhooks: webhooks, scenarios: scenarios,
        logger: logger)
    return Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "TeleOps"),
        onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
        logger: logger)
}

/// The router alone, for tests that send requests straight into it. Without `scenarios` there
/// are no review routes.
public func buildRouter(
    settings: HTTPSettings, sink: any AlertSink, decoders: [any AlertDecoder], metrics: (any MetricLinesSink)? = nil,
    webhooks: [any ChatWebhook] = [], scenarios: (any ScenarioStore)? = nil, logger: Logger
) -> Router<BasicRequestContext> {
    let router = Router()
    IngestRoutes(
        sink: sink, decoders: decoders, metrics: metrics, sources: settings.sources, maxBodyBytes: settings.maxBodyBytes,
        logger: logger
    ).register(on: router)
    ChatWebhookRoutes(webhooks: webhooks, maxBodyBytes: settings.maxBodyBytes, logger: logger).register(on: router)
    if let scenarios {
        ReviewRoutes(store: scenarios, settings: settings.review, bindHost: settings.host, logger: logger).register(on: router)
    }
    router.get("/healthz") { _, _ in Response.json(.ok, ["status": "ok"]) }
    return router
}
