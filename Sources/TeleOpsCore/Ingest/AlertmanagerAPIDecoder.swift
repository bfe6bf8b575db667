import Foundation

/// The alert list Prometheus posts to an Alertmanager (`POST /api/v2/alerts`, Alertmanager
/// API v2 `postableAlerts`), so Prometheus can name TeleOps in `alerting.alertmanagers`:
///
/// ```json
/// [{"labels": {"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
///   "annotations": {"summary": "Disk almost full on db1"},
///   "startsAt": "2026-08-01T10:00:00Z", "endsAt": "2026-08-01T10:05:00Z",
///   "generatorURL": "http://prometheus:9090/graph?g0.expr=disk_used_pct+%3E+90"}]
/// ```
///
/// Becomes one alert per entry (host `db1`, check `DiskFull`, critical), read as
/// `AlertmanagerAlert` describes, with what differs from a notification:
///
/// - `labels` and `labels.alertname` are required, as in Alertmanager's API.
/// - There is no status: an alert is resolved when `endsAt` is present and not after the
///   time received, firing otherwise. Prometheus sets a firing alert's `endsAt` a few
///   resend intervals ahead, so `endsAt` may be up to 366 days in the future.
/// - A missing `startsAt` is the time received (as Alertmanager does).
/// - There is no fingerprint: identity is `"prometheus|" + Alert.digest` of the sorted
///   `name=value` label pairs (TeleOps's digest, not Alertmanager's label hash).
/// - The idempotency key is identity, status and `startsAt`: Prometheus re-sends each
///   firing alert every minute or so with the same `startsAt`, and those re-sends are
///   duplicates; a resolved alert re-sent for minutes is one resolve. Without `startsAt`
///   there is no key and each post counts as a repeat.
///
/// `[]` and more than 10,000 alerts are errors; one bad alert rejects the whole list
/// (the error names it: `[1].labels.alertname`).
public struct AlertmanagerAPIDecoder: AlertDecoder {
    public let source = "prometheus"

    public init() {}

    public func decode(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> [Alert] {
        let root = try JSONBody.parse(body)
        let objects = try JSONFields.alertObjects(of: root, path: "", maxCount: AlertmanagerAlert.maxAlerts)
        var alerts: [Alert] = []
        alerts.reserveCapacity(objects.count)
        for object in objects {
            let alert = try AlertmanagerAlert(object, shape: .posted, receivedAt: receivedAt)
            alerts.append(alert.alert(source: source, details: [:], receivedAt: receivedAt))
        }
        return alerts
    }
}
