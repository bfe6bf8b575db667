import Foundation

/// What a Grafana unified-alerting webhook contact point posts to `POST /v1/alerts/grafana`:
/// Alertmanager's webhook notification with Grafana's additions.
///
/// ```json
/// {"receiver": "My Super Webhook", "status": "firing", "orgId": 1,
///  "alerts": [{"status": "firing",
///              "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
///              "annotations": {"summary": "This alert was triggered for zone us-1"},
///              "startsAt": "2021-10-12T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
///              "generatorURL": "https://grafana/alerting/1afz29v7z/edit", "fingerprint": "c6eadffa33fcdf37",
///              "silenceURL": "https://grafana/alerting/silence/new?...", "values": {"B": 44.2, "C": 1}}],
///  "externalURL": "https://grafana/", "version": "1", "groupKey": "{}:{}", "truncatedAlerts": 0,
///  "title": "[FIRING:1]  (blue)", "state": "alerting", "message": "**Firing** ..."}
/// ```
///
/// Becomes one alert per `alerts` entry, read as `AlertmanagerAlert` describes (host from
/// `host`/`instance`/... labels, `"unknown"` in the example; check from `alertname`;
/// severity from the `severity` label, `warning` when there is none). Identity is
/// `"grafana|<fingerprint>"`, or a digest of the labels when there is no fingerprint.
/// Each alert's details hold, besides its annotations, times and URLs: `values` (or the
/// `valueString` of Grafana 9), `silenceURL`, `dashboardURL`, `panelURL`, `imageURL`
/// (those that are not empty), the notification's `orgId`, `receiver`, `groupKey`,
/// `externalURL` and `truncatedAlerts`.
///
/// `version` should be `"1"`; a body without one is accepted, Alertmanager's `"4"` is
/// pointed to `/v1/alerts/alertmanager`. `title`, `state` and `message` (deprecated by
/// Grafana) and unknown fields are ignored. One bad alert rejects the whole notification.
public struct GrafanaAlertDecoder: AlertGroupDecoder {
    public let source = "grafana"
    /// The webhook payload version Grafana's unified alerting sends.
    public static let version = "1"

    public init() {}

    public func decode(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> [Alert] {
        try decodeGroup(body, receivedAt: receivedAt).alerts
    }

    /// The notification's alerts, with how many alerts Grafana left out (`truncatedAlerts`).
    public func decodeGroup(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> AlertGroup {
        let fields = try JSONFields(JSONBody.parse(body), path: "")
        if let version = try fields.nonEmptyString("version", maxLength: 64), version != Self.version {
            let hint = version == AlertmanagerWebhookDecoder.version
                ? "; Alertmanager webhook payloads go to /v1/alerts/alertmanager" : ""
            throw fields.error(
                "version", "this endpoint takes Grafana alerting webhook version \(Self.version) payloads, found version '\(version)'\(hint)")
        }
        let orgID = try fields.int("orgId")
        let notification = try AlertmanagerNotification(fields, receivedAt: receivedAt)
        return try notification.group(source: source, receivedAt: receivedAt) { alert throws(AlertDecodeError) in
            var details: [String: JSONValue] = [:]
            details["orgId"] = orgID.map { .number(Double($0)) }
            details["values"] = alert.object["values"]
            for key in ["valueString", "silenceURL", "dashboardURL", "panelURL", "imageURL"] {
                details[key] = try alert.object.nonEmptyString(key, maxLength: AlertmanagerAlert.maxValueBytes)
                    .map(JSONValue.string)
            }
            return details
        }
    }
}
