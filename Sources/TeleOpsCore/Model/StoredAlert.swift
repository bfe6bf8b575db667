import Foundation

/// An alert as the store holds it, with the id its events name it by, in the JSON that
/// `GET /v1/scenarios/{id}` and `teleops scenarios show --json` both print: flat, snake_case,
/// times in ISO 8601 with milliseconds.
///
/// ```json
/// {"id": 7, "source": "alertmanager", "host": "db-3", "check": "PostgresDown", "severity": "critical",
///  "status": "firing", "summary": "…", "labels": {"team": "db"}, "details": null,
///  "fingerprint": "…", "received_at": "2026-11-23T01:02:03.456Z"}
/// ```
public struct StoredAlert: Encodable, Sendable {
    public var id: Int64
    public var alert: Alert

    public init(id: Int64, alert: Alert) {
        self.id = id
        self.alert = alert
    }

    /// The alerts by id, in id order.
    public static func list(_ alerts: [Int64: Alert]) -> [StoredAlert] {
        alerts.sorted { $0.key < $1.key }.map { StoredAlert(id: $0.key, alert: $0.value) }
    }

    enum CodingKeys: String, CodingKey {
        case id, source, host, check, severity, status, summary, labels, details, fingerprint
        case receivedAt = "received_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(alert.source, forKey: .source)
        try container.encode(alert.host, forKey: .host)
        try container.encode(alert.check, forKey: .check)
        try container.encode(alert.severity, forKey: .severity)
        try container.encode(alert.status, forKey: .status)
        try container.encode(alert.summary, forKey: .summary)
        try container.encode(alert.labels, forKey: .labels)
        try container.encode(alert.details, forKey: .details)
        try container.encode(alert.fingerprint, forKey: .fingerprint)
        try container.encode(alert.receivedAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)), forKey: .receivedAt)
    }
}
