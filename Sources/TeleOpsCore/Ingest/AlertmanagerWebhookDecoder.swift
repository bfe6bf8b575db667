import Foundation

/// What Prometheus Alertmanager's `webhook_config` receiver posts to
/// `POST /v1/alerts/alertmanager`: one notification (version 4) about a group of alerts,
/// firing and resolved ones mixed.
///
/// ```json
/// {"receiver": "oncall-im", "status": "firing",
///  "alerts": [{"status": "firing",
///              "labels": {"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
///              "annotations": {"summary": "Disk almost full on db1"},
///              "startsAt": "2026-08-01T10:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
///              "generatorURL": "http://prometheus:9090/graph?g0.expr=...", "fingerprint": "1a30ba71cca2921f"}],
///  "notification_reason": "first notification", "externalURL": "http://alertmanager:9093",
///  "version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "truncatedAlerts": 0}
/// ```
///
/// Becomes one alert per `alerts` entry (host `db1`, check `DiskFull`, critical), read as
/// `AlertmanagerAlert` describes: each alert's own `status`; identity
/// `"alertmanager|<fingerprint>"`, or a digest of its labels when an Alertmanager older
/// than 0.19 sends no fingerprint; an idempotency key that makes a resend of the group
/// (a retry, `repeat_interval`) a duplicate. Each alert's details also hold the
/// notification's `receiver`, `groupKey`, `externalURL`, `truncatedAlerts` and
/// `notification_reason`; `decodeGroup` returns `truncatedAlerts` as well, which the route
/// logs as a warning when it is not 0 (Alertmanager's `max_alerts` left alerts out).
///
/// `version` must be `"4"` (Grafana's `"1"` is pointed to `/v1/alerts/grafana`); `alerts`
/// must hold 1 to 10,000 alerts; the group-level `status`, `groupLabels`, `commonLabels`,
/// `commonAnnotations`, `routeLabels` and any newer fields are not needed and ignored.
/// One bad alert rejects the whole notification (Alertmanager does not retry a 4xx).
public struct AlertmanagerWebhookDecoder: AlertGroupDecoder {
    public let source = "alertmanager"
    /// The only webhook payload version Alertmanager has sent since 0.7.
    public static let version = "4"

    public init() {}

    public func decode(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> [Alert] {
        try decodeGroup(body, receivedAt: receivedAt).alerts
    }

    /// The notification's alerts, with how many alerts Alertmanager left out (`max_alerts`).
    public func decodeGroup(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> AlertGroup {
        let root = try JSONBody.parse(body)
        if case .array = root {
            throw AlertDecodeError(
                field: "",
                message: "expected an Alertmanager webhook notification (an object), found an array; alert lists as Prometheus posts them go to /api/v2/alerts")
        }
        let fields = try JSONFields(root, path: "")
        let version = try fields.nonEmptyString("version", maxLength: 64)
        guard version == Self.version else {
            let found = version.map { "found version '\($0)'" } ?? "no version was sent"
            throw fields.error(
                "version",
                "this endpoint takes Alertmanager webhook version \(Self.version) payloads, \(found); Grafana alerting payloads go to /v1/alerts/grafana")
        }
        return try AlertmanagerNotification(fields, receivedAt: receivedAt).group(source: source, receivedAt: receivedAt)
    }
}
