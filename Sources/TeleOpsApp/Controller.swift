import Foundation
import Logging
import ServiceLifecycle
import TeleOpsChat
import TeleOpsCore
import TeleOpsDispatch
import TeleOpsHTTP
import TeleOpsSQLite

/// The running controller: its services in dependency order and the parts tests look at.
public struct Controller: Sendable {
    public let store: SQLiteScenarioStore
    public let broker: Broker
    public let group: ServiceGroup
}

/// Wires a controller from a configuration: the one function `teleops serve`, the acceptance
/// tests and the benchmarks share.
///
/// Service order is dependency order (ServiceGroup starts them in order and stops them in
/// reverse): broker, local workers, the chat transports (console, Telegram, Slack), outbox
/// sender, responder, the intake queue, statsd (UDP and rule evaluation), and HTTP last, so on
/// SIGTERM HTTP and statsd stop taking input first, the queue commits what it holds, and the
/// stages behind it drain.
///
/// ```swift
/// let controller = try buildController(config: TeleOpsConfig(), workerExecutable: "/usr/local/bin/teleops", logger: logger)
/// try await controller.group.run()
/// ```
public func buildController(
    config: TeleOpsConfig, workerExecutable: String, logger: Logger,
    console: ConsoleTransport? = nil,
    onHTTPRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) throws -> Controller {
    let store = try SQLiteScenarioStore(path: config.databasePath)
    let doorbell = Doorbell()
    let (curve, localKeys) = try LocalWorkerKeys.forController(config.dispatch, dataDirectory: config.dataDirectory)
    let broker = Broker(
        endpoint: config.dispatch.endpoint, heartbeatInterval: config.dispatch.heartbeatInterval,
        heartbeatTimeout: config.dispatch.heartbeatTimeout, maxQueued: config.dispatch.maxQueued, curve: curve,
        logger: logger.labelled("broker"))
    let chat = buildChat(config: config, store: store, console: console, logger: logger)
    chat.console?.continueNumbering(
        after: try store.highestMessageNumber(transport: ConsoleTransport.transportName, prefix: ConsoleTransport.postedPrefix))

    let composer = NotificationComposer(catalogue: config.actions, routing: config.chat.outbox.routing)
    let intake = IngestQueue(
        store: store, composer: composer, doorbell: doorbell, settings: config.intake, logger: logger.labelled("intake"))
    let responder = Responder(
        transports: chat.transports, store: store, dispatcher: broker, directory: EngineerDirectory(config.engineers),
        catalogue: config.actions, doorbell: doorbell, logger: logger.labelled("responder"))
    let sender = OutboxSender(
        store: store, transports: chat.transports, settings: config.chat.outbox, doorbell: doorbell,
        logger: logger.labelled("outbox"))
    let statsd = StatsdListener(
        settings: config.statsd, engine: StatsdEngine(settings: config.statsd), sink: intake, store: store,
        logger: logger.labelled("statsd"))
    let http = buildHTTPService(
        settings: config.http, sink: intake, decoders: alertDecoders, metrics: statsd.engine, webhooks: chat.webhooks,
        scenarios: store, logger: logger.labelled("http"), onRunning: onHTTPRunning)

    var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: broker)]
    if config.dispatch.localWorkers > 0 {
        services.append(.init(service: LocalWorkers(
            broker: broker, executable: workerExecutable, count: config.dispatch.localWorkers,
            capacity: config.dispatch.workerCapacity, heartbeatInterval: config.dispatch.heartbeatInterval,
            user: config.dispatch.workerUser, group: config.dispatch.workerGroup, keys: localKeys,
            logger: logger.labelled("workers"))))
    }
    services += chat.services.map { .init(service: $0) }
    services += [
        .init(service: sender), .init(service: responder), .init(service: intake),
        .init(service: statsd), .init(service: http),
        .init(service: RetentionService(store: store, settings: config.retention, logger: logger.labelled("retention"))),
        .init(service: SearchIndexer(store: store, logger: logger.labelled("search-index"))),
        .init(service: WALCheckpointer(store: store, logger: logger.labelled("checkpoint"))),
    ]
    var groupConfig = ServiceGroupConfiguration(services: services, logger: logger)
    groupConfig.gracefulShutdownSignals = [.sigterm, .sigint]
    return Controller(store: store, broker: broker, group: ServiceGroup(configuration: groupConfig))
}

/// The chat transports of a configuration: the primary first (announcements go there), then
/// the others; the console is always among them, for a local operator.
struct ChatParts {
    var console: ConsoleTransport?
    var transports: [any ChatTransport] = []
    var services: [any Service] = []
    var webhooks: [any ChatWebhook] = []
}

func buildChat(config: TeleOpsConfig, store: any ScenarioStore, console: ConsoleTransport?, logger: Logger) -> ChatParts {
    var parts = ChatParts()
    let console = console ?? ConsoleTransport(operatorID: config.console.operatorID)
    parts.console = console
    var byPlatform: [ChatConfig.Platform: any ChatTransport] = [.console: console]
    parts.services.append(console)
    if let settings = config.chat.telegram {
        let telegram = TelegramTransport(settings: settings, inbox: store, logger: logger.labelled("telegram"))
        byPlatform[.telegram] = telegram
        parts.services.append(telegram)
        if case .webhook = settings.receive { parts.webhooks.append(telegram.webhook) }
    }
    if let settings = config.chat.slack {
        let slack = SlackTransport(settings: settings, inbox: store, logger: logger.labelled("slack"))
        byPlatform[.slack] = slack
        parts.services.append(slack)
        if settings.receiveMode == .eventsAPI { parts.webhooks += slack.webhooks }
    }
    let order = [config.chat.primary] + ChatConfig.Platform.allCases.filter { $0 != config.chat.primary }
    parts.transports = order.compactMap { byPlatform[$0] }
    return parts
}

extension Logger {
    /// A logger for one part of the controller, sharing this one's handler and level.
    func labelled(_ part: String) -> Logger {
        var logger = self
        logger[metadataKey: "part"] = "\(part)"
        return logger
    }
}

/// Every alert source's decoder, one line each.
public let alertDecoders: [any AlertDecoder] = [
    GenericAlertDecoder(),
    SensuAlertDecoder(),
    AlertmanagerWebhookDecoder(),
    AlertmanagerAPIDecoder(),
    GrafanaAlertDecoder(),
    PagerDutyAlertDecoder(),
]
