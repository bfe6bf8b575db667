import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TeleOpsCore

/// statsd intake as a service: receives UDP packets into the engine (when `udpHost` is set)
/// and, every `evaluationInterval`, evaluates the rules and hands the changes to the sink.
///
/// Without UDP it only evaluates, for lines posted over HTTP (`StatsdEngine.ingest(lines:at:)`).
/// Alerts the sink cannot take go back to the engine (`requeue`) and are handed on at the next
/// evaluation. On graceful shutdown it closes the socket, evaluates a last time and hands on
/// what is waiting; if the sink still fails then, those alerts are lost (and logged).
///
/// Before anything else it seeds the engine from `store` (`StatsdEngine.seed(from:at:)`):
/// the statsd scenarios still active were firing when the process stopped, and their series
/// must be firing again to resolve them when the metric is back to normal. If the store
/// cannot be read, it says so and goes on: those scenarios then wait for an engineer.
///
/// ```swift
/// let engine = StatsdEngine(settings: settings)
/// let statsd = StatsdListener(settings: settings, engine: engine, sink: intake, logger: logger) { port in print(port) }
/// try await ServiceGroup(services: [statsd], logger: logger).run()
/// ```
public final class StatsdListener: Service {
    /// Bad packets are logged at debug; a warning at most this often.
    public static let warningInterval: Duration = .seconds(60)

    public let settings: StatsdSettings
    public let engine: StatsdEngine
    private let sink: any AlertSink
    private let store: (any ScenarioStore)?
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let onBound: @Sendable (_ port: Int) async -> Void

    /// `engine` is shared with the HTTP route; `store` seeds it at start (nil: nothing to
    /// seed); `now` is the evaluation clock; `onBound` is called with the UDP port once the
    /// socket is bound (useful with port 0).
    public init(
        settings: StatsdSettings, engine: StatsdEngine, sink: any AlertSink, store: (any ScenarioStore)? = nil, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() },
        onBound: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) {
        self.settings = settings
        self.engine = engine
        self.sink = sink
        self.store = store
        self.logger = logger
        self.now = now
        self.onBound = onBound
    }

    public func run() async throws {
        await seedFromStore()
        if let host = settings.udpHost {
            let channel = try await bind(host: host, port: settings.udpPort)
            let port = channel.channel.localAddress?.port ?? settings.udpPort
            logger.info("statsd listening on UDP", metadata: ["host": "\(host)", "port": "\(port)"])
            await onBound(port)
            try await channel.executeThenClose { inbound in
                try await cancelWhenGracefulShutdown {
                    try await withThrowingDiscardingTaskGroup { group in
                        group.addTask { try await self.receive(inbound) }
                        group.addTask { await self.evaluateUntilCancelled() }
                    }
                }
            }
        } else {
            await cancelWhenGracefulShutdown { await self.evaluateUntilCancelled() }
        }
        await evaluateAndDeliver(last: true)
    }

    /// Marks the series of the active statsd scenarios firing, before the first evaluation.
    private func seedFromStore() async {
        guard let store, !engine.rules.isEmpty else { return }
        do {
            let seed = try await engine.seed(from: store, at: now())
            if seed.series > 0 {
                logger.info("statsd series firing before the restart are firing again; they resolve when their values clear",
                            metadata: ["series": "\(seed.series)"])
            }
            if !seed.orphans.isEmpty {
                logger.warning(
                    "active statsd scenarios whose rule is not configured (or past max_series): nothing will resolve them",
                    metadata: ["scenarios": "\(seed.orphans.prefix(20).joined(separator: ", "))", "count": "\(seed.orphans.count)"])
            }
        } catch {
            logger.error(
                "statsd scenarios active before the restart could not be read; they will not resolve by themselves",
                metadata: ["error": "\(error)"])
        }
    }

    private func bind(host: String, port: Int) async throws -> NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, Never> {
        // One byte more than the limit, so a larger datagram shows up as too large, not cut.
        let allocator = FixedSizeRecvByteBufferAllocator(capacity: settings.maxPacketBytes + 1)
        return try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: allocator)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, Never>(wrappingChannelSynchronously: channel)
                }
            }
    }

    private func receive(_ inbound: NIOAsyncChannelInboundStream<AddressedEnvelope<ByteBuffer>>) async throws {
        var warnings = ThrottledWarning(interval: Self.warningInterval)
        do {
            for try await envelope in inbound {
                let packet = envelope.data.readableBytesView
                guard packet.count <= settings.maxPacketBytes else {
                    warnings.log("statsd packet dropped: larger than max_packet_bytes", logger: logger, metadata: [
                        "from": "\(envelope.remoteAddress)", "bytes": "\(packet.count)", "limit": "\(settings.maxPacketBytes)",
                    ])
                    continue
                }
                let result = engine.record(packet: packet, at: now())
                if let first = result.errors.first {
                    warnings.log("statsd packet with bad lines; its good lines were taken", logger: logger, metadata: [
                        "from": "\(envelope.remoteAddress)", "bad_lines": "\(result.rejectedLines)", "first": "\(first)",
                    ])
                }
            }
        } catch is CancellationError {
            // Graceful shutdown.
        }
    }

    private func evaluateUntilCancelled() async {
        while true {
            do {
                try await Task.sleep(for: settings.evaluationInterval)
            } catch {
                return
            }
            await evaluateAndDeliver(last: false)
        }
    }

    /// One evaluation; alerts the sink cannot take go back to the engine for the next one.
    private func evaluateAndDeliver(last: Bool) async {
        let alerts = engine.evaluate(at: now())
        guard !alerts.isEmpty else { return }
        do {
            _ = try await sink.accept(alerts)
            for alert in alerts {
                logger.info("statsd rule \(alert.status.rawValue)", metadata: [
                    "rule": "\(alert.check)", "host": "\(alert.host)", "summary": "\(alert.summary)",
                ])
            }
        } catch {
            engine.requeue(alerts)
            logger.error(
                last ? "statsd alerts could not be stored before shutdown; they are lost"
                    : "statsd alerts could not be stored; they are kept and handed on at the next evaluation",
                metadata: ["alerts": "\(alerts.count)", "error": "\(error)"])
        }
    }
}

/// Logs a recurring problem as a warning at most once per `interval` (saying how many were
/// only logged at debug since), and at debug otherwise, so a noisy client cannot flood the log.
struct ThrottledWarning {
    let interval: Duration
    private var lastWarning: ContinuousClock.Instant?
    private var sinceWarning = 0

    init(interval: Duration) {
        self.interval = interval
    }

    mutating func log(_ message: Logger.Message, logger: Logger, metadata: Logger.Metadata) {
        let now = ContinuousClock.now
        if let lastWarning, lastWarning.duration(to: now) < interval {
            sinceWarning += 1
            logger.debug(message, metadata: metadata)
            return
        }
        var metadata = metadata
        if sinceWarning > 0 { metadata["more_since_last_warning"] = "\(sinceWarning)" }
        logger.warning(message, metadata: metadata)
        lastWarning = now
        sinceWarning = 0
    }
}

/// Metric lines posted over HTTP go to the same engine as UDP packets.
extension StatsdEngine: MetricLinesSink {}
