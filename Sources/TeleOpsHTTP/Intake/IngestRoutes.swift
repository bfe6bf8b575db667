import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TeleOpsCore

/// Takes metric lines posted over HTTP (`POST /v1/alerts/statsd`): all-or-nothing, the
/// number of samples recorded, or an error naming the bad line.
public protocol MetricLinesSink: Sendable {
    func ingest(lines body: Data, at: Date) throws(AlertDecodeError) -> Int
}

/// The alert intake endpoints. Every request goes through the same steps, in this order,
/// and the first that fails answers:
///
/// 1. the source is known and enabled (404);
/// 2. its bearer token, when it has one (401);
/// 3. the content type is JSON (text for statsd) when one is given (415);
/// 4. the body is within `maxBodyBytes` (413), and for PagerDuty within its own 512 KB;
/// 5. the body's HMAC signature, when the source has secrets (401);
/// 6. its rate limit has a token (429 with `Retry-After`); for PagerDuty, whose credential is
///    the routing key in the body, once the event has decoded and its key is accepted;
/// 7. the body decodes (400, naming the field and, in a batch, the index; for PagerDuty, a
///    body that is not JSON is its "Unrecognized object"); a PagerDuty routing key must be
///    one of the configured ones (401);
/// 8. the intake queue takes it and the store commits it (503 with `Retry-After` when
///    overloaded or the store fails: nothing was accepted);
///
/// and only then the success answer, so that a 2xx always means the alerts are on disk.
/// The rate limit is charged only after the sender has proved who it is: a budget is the
/// source's, and requests without its credentials must not be able to spend it (and shut
/// its real sender out with 429s).
///
/// Endpoints and their dialects:
/// - `POST /v1/alerts/{source}`: TeleOps JSON; `202 {"accepted", "alerts": [{"alert_id",
///   "scenario_id", "disposition"}]}`, errors `{"error", "field"}`.
/// - `POST /v2/enqueue` (and `/v1/alerts/pagerduty`): PagerDuty Events API v2; `202
///   {"status": "success", "message": "Event processed", "dedup_key"}`, errors
///   `{"status", "message", "errors": [...]}`.
/// - `POST /api/v2/alerts`: Alertmanager API v2, as Prometheus calls it; `200` with an empty
///   body, errors are a JSON string, as Alertmanager answers.
/// - `POST /v1/alerts/statsd`: metric lines; `202 {"accepted_samples"}`.
struct IngestRoutes: Sendable {
    let sink: any AlertSink
    let decoders: [String: any AlertDecoder]
    let metrics: (any MetricLinesSink)?
    let sources: [String: SourceSettings]
    let authenticators: [String: RequestAuthenticator]
    let limiter: RateLimiter
    let maxBodyBytes: Int
    let logger: Logger

    init(
        sink: any AlertSink, decoders: [any AlertDecoder], metrics: (any MetricLinesSink)?,
        sources: [String: SourceSettings], maxBodyBytes: Int, logger: Logger
    ) {
        self.sink = sink
        self.decoders = Dictionary(decoders.map { ($0.source, $0) }, uniquingKeysWith: { first, _ in first })
        self.metrics = metrics
        self.sources = sources
        authenticators = sources.mapValues(RequestAuthenticator.init(settings:))
        var limits: [String: RateLimit] = [:]
        for (name, settings) in sources { limits[name] = settings.rateLimit }
        limiter = RateLimiter(limits: limits)
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/alerts/:source") { request, context in
            let source = try context.parameters.require("source")
            return await handle(request, source: source, dialect: source == "pagerduty" ? .pagerDuty : .teleops)
        }
        router.post("/v2/enqueue") { request, _ in await handle(request, source: "pagerduty", dialect: .pagerDuty) }
        router.post("/api/v2/alerts") { request, _ in
            await handle(request, source: "prometheus", dialect: .alertmanagerAPI)
        }
    }

    private static let signatureField = HTTPField.Name(RequestAuthenticator.signatureHeader)

    /// Which API's answers a caller expects.
    enum Dialect {
        case teleops, pagerDuty, alertmanagerAPI
    }

    func handle(_ request: Request, source: String, dialect: Dialect) async -> Response {
        do {
            return try await intake(request, source: source, dialect: dialect)
        } catch {
            // Only server-side trouble is a warning; a 429 is the limit doing its job.
            if error.status.code >= 500 {
                logger.warning("alert intake refused", metadata: ["source": "\(source)", "status": "\(error.status.code)", "error": "\(error.message)"])
            }
            return error.response(in: dialect)
        }
    }

    private func intake(_ request: Request, source: String, dialect: Dialect) async throws(IntakeFailure) -> Response {
        let isMetrics = source == "statsd"
        guard let settings = sources[source], settings.enabled, isMetrics ? metrics != nil : decoders[source] != nil else {
            let enabled = sources.filter(\.value.enabled).keys.sorted().joined(separator: ", ")
            throw IntakeFailure(.notFound, "unknown or disabled alert source '\(source)'; this server accepts: \(enabled)")
        }
        let auth = authenticators[source] ?? RequestAuthenticator(settings: SourceSettings())
        guard auth.acceptsBearer(request.headers[.authorization]) else {
            throw IntakeFailure(
                .unauthorized, "source '\(source)' requires 'Authorization: Bearer <token>' with a configured token",
                field: "Authorization")
        }
        try checkContentType(request.headers[.contentType], metrics: isMetrics)
        let pagerDuty = decoders[source] as? PagerDutyAlertDecoder
        let body = try await collectBody(request, pagerDuty: pagerDuty != nil)

        if let name = Self.signatureField, !auth.acceptsSignature(request.headers[name], body: body.readableBytesView) {
            throw IntakeFailure(
                .unauthorized,
                "source '\(source)' requires '\(RequestAuthenticator.signatureHeader): sha256=<hex HMAC-SHA256 of the body>' made with a configured secret",
                field: RequestAuthenticator.signatureHeader)
        }
        let data = Data(body.readableBytesView)
        if pagerDuty == nil { try takeRateLimitToken(source) }

        if isMetrics, let metrics {
            let count: Int
            do {
                count = try metrics.ingest(lines: data, at: Date())
            } catch {
                throw IntakeFailure(.badRequest, error.message, field: error.field)
            }
            return .json(.accepted, ["accepted_samples": count])
        }

        let alerts: [Alert]
        var dedupKey: String?
        do {
            if let pagerDuty {
                let event = try pagerDuty.decodeEvent(data, receivedAt: Date())
                guard auth.acceptsRoutingKey(event.routingKey) else {
                    throw IntakeFailure(.unauthorized, "routing_key is not one of the integration keys configured for this server", field: "routing_key")
                }
                try takeRateLimitToken(source)
                alerts = [event.alert]
                dedupKey = event.dedupKey
            } else if let grouped = decoders[source] as? any AlertGroupDecoder {
                let group = try grouped.decodeGroup(data, receivedAt: Date())
                if group.truncatedAlerts > 0 { logTruncated(group, source: source) }
                alerts = group.alerts
            } else {
                alerts = try decoders[source]!.decode(data, receivedAt: Date())
            }
        } catch let failure as IntakeFailure {
            throw failure
        } catch let error as AlertDecodeError {
            switch error.kind {
            case .invalid: throw IntakeFailure(.badRequest, error.message, field: error.field)
            case .unparseable: throw IntakeFailure(.badRequest, error.message, field: error.field, unparseable: true)
            case .tooLarge: throw IntakeFailure(.contentTooLarge, error.message, field: error.field)
            }
        } catch {
            throw IntakeFailure(.badRequest, "\(error)")
        }

        let outcomes: [IngestOutcome]
        do {
            outcomes = try await sink.accept(alerts)
        } catch let unavailable as IngestUnavailable {
            throw IntakeFailure(.serviceUnavailable, unavailable.description, retryAfter: unavailable.retryAfter)
        } catch {
            logger.error("alerts could not be stored", metadata: ["source": "\(source)", "error": "\(error)"])
            throw IntakeFailure(
                .serviceUnavailable, "the alert could not be stored, nothing was accepted; retry later (\(error))",
                retryAfter: .seconds(5))
        }
        switch dialect {
        case .teleops:
            return .json(.accepted, Accepted(accepted: outcomes.count, alerts: outcomes))
        case .pagerDuty:
            return .json(.accepted, PagerDutyAccepted(status: "success", message: "Event processed", dedupKey: dedupKey ?? ""))
        case .alertmanagerAPI:
            return Response(status: .ok)
        }
    }

    /// The sender left alerts of the group out (Alertmanager's `max_alerts`): they never
    /// reach TeleOps, and nothing but this line says so. The group key names the route and
    /// group to look at in Alertmanager.
    private func logTruncated(_ group: AlertGroup, source: String) {
        logger.warning("alert notification left alerts out (max_alerts); those never reach TeleOps", metadata: [
            "source": "\(source)", "group_key": "\(group.groupKey ?? "")", "receiver": "\(group.receiver ?? "")",
            "truncated_alerts": "\(group.truncatedAlerts)", "alerts": "\(group.alerts.count)",
        ])
    }

    /// 429 with `Retry-After` when `source` has used up its rate limit; call only once the
    /// request has passed the source's authentication.
    private func takeRateLimitToken(_ source: String) throws(IntakeFailure) {
        if let wait = limiter.take(source) {
            throw IntakeFailure(
                .tooManyRequests, "too many requests for source '\(source)'; nothing was accepted, retry after the delay",
                retryAfter: wait)
        }
    }

    private func checkContentType(_ header: String?, metrics: Bool) throws(IntakeFailure) {
        guard let header else { return }
        let type = header.split(separator: ";").first.map { $0.trimmed().lowercased() } ?? ""
        let ok = metrics
            ? type == "text/plain" || type == "application/octet-stream"
            : type == "application/json" || type == "text/json" || type.hasSuffix("+json")
        guard ok else {
            let expected = metrics ? "text/plain (statsd lines)" : "application/json"
            throw IntakeFailure(
                .unsupportedMediaType, "Content-Type '\(header)' is not accepted here; send \(expected)", field: "Content-Type")
        }
    }

    /// The body, at most `maxBodyBytes`; a PagerDuty event at most PagerDuty's 512 KB too, so
    /// that a client tested against PagerDuty gets the 413 it would get there.
    private func collectBody(_ request: Request, pagerDuty: Bool) async throws(IntakeFailure) -> ByteBuffer {
        let pagerDutyLimit = PagerDutyAlertDecoder.maxBodyBytes
        let limit = pagerDuty ? min(maxBodyBytes, pagerDutyLimit) : maxBodyBytes
        let tooLarge = limit == pagerDutyLimit && pagerDuty
            ? IntakeFailure(.contentTooLarge, "the event is larger than PagerDuty's limit of 512 KB (\(pagerDutyLimit) bytes)")
            : IntakeFailure(.contentTooLarge, "the body is larger than the limit of \(limit) bytes; send fewer alerts per request")
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge }
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw tooLarge
        }
    }
}

/// A refused request: the status, what was wrong, where, and when to retry.
struct IntakeFailure: Error {
    var status: HTTPResponse.Status
    var message: String
    var field: String?
    var retryAfter: Duration?
    /// The body is not JSON at all, which PagerDuty answers differently from an invalid event.
    var unparseable: Bool

    init(
        _ status: HTTPResponse.Status, _ message: String, field: String? = nil, retryAfter: Duration? = nil,
        unparseable: Bool = false
    ) {
        self.status = status
        self.message = message
        self.field = field.flatMap { $0.isEmpty ? nil : $0 }
        self.retryAfter = retryAfter
        self.unparseable = unparseable
    }

    func response(in dialect: IngestRoutes.Dialect) -> Response {
        var response: Response
        let detail = field.map { "\($0): \(message)" } ?? message
        switch dialect {
        case .teleops:
            response = .json(status, ErrorBody(error: detail, field: field))
        case .pagerDuty where unparseable:
            // PagerDuty's own answer, word for word (its OpenAPI `Error` example), then ours,
            // which says where the JSON broke.
            response = .json(status, PagerDutyError(
                status: "Unrecognized object", message: "Event object format is unrecognized",
                errors: ["JSON parse error", detail]))
        case .pagerDuty:
            response = .json(status, PagerDutyError(status: pagerDutyStatus, message: pagerDutyMessage, errors: [detail]))
        case .alertmanagerAPI:
            response = .json(status, detail)
        }
        if let retryAfter {
            let seconds = max(1, Int(retryAfter.secondsValue.rounded(.up)))
            response.headers[.retryAfter] = String(seconds)
        }
        if status == .unauthorized, field == "Authorization" {
            response.headers[.wwwAuthenticate] = "Bearer"
        }
        return response
    }

    private var pagerDutyStatus: String {
        switch status {
        case .badRequest: "invalid event"
        case .tooManyRequests: "throttle event"
        case .unauthorized: "unauthorized"
        case .contentTooLarge: "payload too large"
        default: "error"
        }
    }

    private var pagerDutyMessage: String {
        switch status {
        case .badRequest: "Event object is invalid"
        case .tooManyRequests: "Requests for this service are arriving too quickly; retry later"
        default: message
        }
    }
}

struct ErrorBody: Encodable {
    var error: String
    var field: String?
}

struct Accepted: Encodable {
    var accepted: Int
    var alerts: [IngestOutcome]
}

struct PagerDutyAccepted: Encodable {
    var status: String
    var message: String
    var dedupKey: String

    enum CodingKeys: String, CodingKey { case status, message, dedupKey = "dedup_key" }
}

struct PagerDutyError: Encodable {
    var status: String
    var message: String
    var errors: [String]
}

extension Response {
    static func json<Body: Encodable>(_ status: HTTPResponse.Status, _ body: Body) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data(#"{"error":"response could not be encoded"}"#.utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }
}
