import Foundation

/// PagerDuty Events API v2 events (the body of `POST https://events.pagerduty.com/v2/enqueue`)
/// posted to `POST /v1/alerts/pagerduty`, so any tool that can page PagerDuty can page here:
///
/// ```json
/// {"routing_key": "e93facc04764012d7bfb002500d5d1a6", "event_action": "trigger",
///  "dedup_key": "srv01/mysql",
///  "payload": {"summary": "DISK at 99% on machine prod-datapipe03.example.com",
///              "source": "prod-datapipe03.example.com", "severity": "critical", "component": "mysql"}}
/// {"routing_key": "e93facc04764012d7bfb002500d5d1a6", "event_action": "resolve", "dedup_key": "srv01/mysql"}
/// ```
///
/// One event object per body (at most `maxBodyBytes`, PagerDuty's limit: a larger body throws
/// an error of kind `tooLarge`, which the route answers with 413; a body that is not JSON,
/// kind `unparseable`, gets PagerDuty's "Unrecognized object"). `routing_key` (at
/// most `maxRoutingKeyLength`) and `event_action` (`trigger`, `acknowledge` or `resolve`) are
/// required; `dedup_key` (at most `maxDedupKeyLength`) is required for `acknowledge` and
/// `resolve`. A `trigger` without one gets a generated key, as on PagerDuty; ours is
/// `teleops-` and a digest of the event's content rather than a random UUID, so that a retry
/// of the same event is answered with the same key (and is a duplicate); the route answers
/// it in `{"status": "success", "message": "Event processed", "dedup_key": ...}` (see
/// `decodeEvent`).
///
/// - trigger: `payload` with `summary` (at most `maxSummaryLength`, longer is rejected as
///   PagerDuty does), `source` and `severity` (`critical`, `error`, `warning`, `info`) is
///   required; `payload.timestamp` (ISO 8601, `2015-07-17T08:42:58.315+0000`) is checked when
///   present. Host: `payload.source`; check: `payload.component`, else `class`, else `group`,
///   else `event`. Status: firing.
/// - acknowledge / resolve: no payload is read (PagerDuty ignores it). Host and check are
///   empty (the scenario, found by fingerprint, keeps its own), severity `info`, status
///   `acknowledged` / `resolved`, summary "resolved via PagerDuty (dedup_key srv01/mysql)".
/// - fingerprint: `pagerduty|<digest of routing_key>|<dedup_key>`: events for one alert must
///   use the routing key of its trigger, as on PagerDuty.
/// - labels: `component`, `group` and `class` when present.
/// - details: `custom_details` (as given), `client`, `client_url`, `links`, `images`,
///   `timestamp` (as given), `event_action`, `dedup_key` and `routing_key_digest`.
/// - idempotency key: `pagerduty|` and a digest of the routing key, `event_action`, the given
///   `dedup_key` and the canonical JSON (sorted keys) of `payload`, `links`, `images`, `client`
///   and `client_url`: a retry of the same event has the same key, a changed event does not.
///
/// The routing key is a secret: the alert holds only its digest (`Alert.digest`), never the
/// key, and no error message quotes it. Unknown fields are ignored.
public struct PagerDutyAlertDecoder: AlertDecoder {
    public let source = "pagerduty"
    /// PagerDuty's limit on an event body: 512 KB.
    public static let maxBodyBytes = 512 * 1024
    /// Longest accepted `routing_key` (PagerDuty's integration keys have 32 characters).
    public static let maxRoutingKeyLength = 64
    /// Longest accepted `dedup_key`, PagerDuty's limit.
    public static let maxDedupKeyLength = 255
    /// Longest accepted `payload.summary`, PagerDuty's limit.
    public static let maxSummaryLength = 1024
    /// Longest accepted `payload.source`, `component`, `group` and `class`.
    public static let maxFieldLength = 1024

    /// PagerDuty's `event_action`.
    private enum Action: String, CaseIterable {
        case trigger, acknowledge, resolve
    }

    public init() {}

    public func decode(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> [Alert] {
        [try decodeEvent(body, receivedAt: receivedAt).alert]
    }

    /// Decodes one event with what the route needs besides the alert: the dedup key to answer
    /// with (the given one, or the one generated for a trigger without it) and the routing
    /// key to authenticate the sender by.
    ///
    /// ```swift
    /// let event = try PagerDutyAlertDecoder().decodeEvent(body, receivedAt: Date())
    /// // check event.routingKey, then answer 202 {"status": "success", "message": "Event processed", "dedup_key": event.dedupKey}
    /// ```
    public func decodeEvent(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> PagerDutyEvent {
        guard body.count <= Self.maxBodyBytes else {
            throw AlertDecodeError(
                field: "", message: "the event is larger than PagerDuty's limit of 512 KB (\(Self.maxBodyBytes) bytes)",
                kind: .tooLarge)
        }
        let root = try JSONBody.parse(body)
        guard case .object = root else {
            throw AlertDecodeError(field: "", message: "expected a PagerDuty event object, found \(root.typeName)")
        }
        let event = try JSONFields(root, path: "")
        let routingKey = try event.requiredString("routing_key", maxLength: Self.maxRoutingKeyLength)
        let action = try event.requiredOneOf("event_action", Action.self)
        let givenDedupKey = try event.nonEmptyString("dedup_key", maxLength: Self.maxDedupKeyLength)
        let routingKeyDigest = Alert.digest([routingKey])

        var details: [String: JSONValue] = [
            "event_action": .string(action.rawValue), "routing_key_digest": .string(routingKeyDigest),
        ]
        let content = ["payload", "links", "images", "client", "client_url"].map { Self.canonical(event[$0]) }
        let dedupKey: String
        var alert: Alert
        switch action {
        case .trigger:
            dedupKey = givenDedupKey ?? "teleops-" + Alert.digest([routingKey] + content)
            alert = try triggerAlert(event, details: &details, receivedAt: receivedAt)
        case .acknowledge, .resolve:
            guard let givenDedupKey else {
                throw event.error("dedup_key", "is required for \(action.rawValue) events: it names the alert to \(action.rawValue)")
            }
            dedupKey = givenDedupKey
            let past = action == .acknowledge ? "acknowledged" : "resolved"
            alert = Alert(
                source: source, host: "", check: "", severity: .info, status: action == .acknowledge ? .acknowledged : .resolved,
                summary: "\(past) via PagerDuty (dedup_key \(dedupKey))", receivedAt: receivedAt)
        }
        details["dedup_key"] = .string(dedupKey)
        alert.details = .object(details)
        alert.fingerprint = "pagerduty|\(routingKeyDigest)|\(dedupKey)"
        alert.idempotencyKey = "pagerduty|" + Alert.digest([routingKey, action.rawValue, givenDedupKey ?? ""] + content)
        return PagerDutyEvent(alert: alert, dedupKey: dedupKey, routingKey: routingKey)
    }

    /// The alert of a trigger, without fingerprint and idempotency key; adds to `details`.
    private func triggerAlert(
        _ event: JSONFields, details: inout [String: JSONValue], receivedAt: Date
    ) throws(AlertDecodeError) -> Alert {
        let payload = try event.requiredObject("payload")
        let summary = try payload.requiredString("summary", maxLength: Self.maxSummaryLength)
        let host = try payload.requiredString("source", maxLength: Self.maxFieldLength)
        let severity = try payload.requiredOneOf("severity", PagerDutySeverity.self).severity
        if try payload.rfc3339("timestamp", receivedAt: receivedAt) != nil {
            details["timestamp"] = payload["timestamp"]
        }
        var labels: [String: String] = [:]
        for key in ["component", "group", "class"] {
            labels[key] = try payload.nonEmptyString(key, maxLength: Self.maxFieldLength)
        }
        details["custom_details"] = payload["custom_details"]
        for key in ["client", "client_url"] {
            details[key] = try event.string(key).map(JSONValue.string)
        }
        for link in try event.objects("links") {
            guard try link.string("href") != nil else { throw link.error("href", "is required") }
            _ = try link.string("text")
        }
        for image in try event.objects("images") {
            guard try image.string("src") != nil else { throw image.error("src", "is required") }
            _ = try image.string("href")
            _ = try image.string("alt")
        }
        details["links"] = event["links"]
        details["images"] = event["images"]
        return Alert(
            source: source, host: host, check: labels["component"] ?? labels["class"] ?? labels["group"] ?? "event",
            severity: severity, status: .firing, summary: summary, labels: labels, receivedAt: receivedAt)
    }

    /// PagerDuty's `payload.severity`, in the order its documentation lists them.
    private enum PagerDutySeverity: String, CaseIterable {
        case critical, error, warning, info

        var severity: Severity {
            switch self {
            case .critical: .critical
            case .error: .error
            case .warning: .warning
            case .info: .info
            }
        }
    }

    /// `value` as JSON with sorted keys, the same text for the same value; "" when absent.
    private static func canonical(_ value: JSONValue?) -> String {
        guard let value else { return "" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// One decoded PagerDuty event: the alert, plus what the route needs to authenticate the
/// sender and to answer as PagerDuty does.
///
/// `description` shows the routing key's digest only, so the event can be logged.
public struct PagerDutyEvent: Sendable, Equatable, CustomStringConvertible {
    public var alert: Alert
    /// The event's `dedup_key`, or the one generated for a trigger without it (`teleops-` and
    /// a digest of the event's content, the same for a retry): the `dedup_key` of the 202 answer.
    public var dedupKey: String
    /// The integration key the sender used, to authenticate it. A secret: compare it, never
    /// log or store it (the alert holds only its digest).
    public var routingKey: String

    public init(alert: Alert, dedupKey: String, routingKey: String) {
        self.alert = alert
        self.dedupKey = dedupKey
        self.routingKey = routingKey
    }

    public var description: String {
        "PagerDutyEvent(\(alert.status.rawValue), dedup_key: \(dedupKey), routing_key digest: \(Alert.digest([routingKey])))"
    }
}
