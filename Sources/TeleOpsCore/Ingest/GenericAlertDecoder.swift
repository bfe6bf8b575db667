import Foundation

/// The plain JSON format any script can post to `POST /v1/alerts/generic`:
///
/// ```json
/// {"host": "web-1", "check": "disk_usage", "severity": "critical",
///  "summary": "/var is 95% full", "status": "firing",
///  "labels": {"team": "storage"}, "details": {"used_pct": 95}}
/// ```
///
/// One object or an array of them. `labels` (string values), `details` (any JSON) and `id`
/// (a delivery id: a retry with the same id changes nothing) are optional; everything else
/// is required. `status` is `firing`, `resolved` or `acknowledged`. Identity: source, host and check.
public struct GenericAlertDecoder: AlertDecoder {
    public let source = "generic"
    /// Longest accepted host, check and summary, in characters.
    public static let maxFieldLength = 1024

    public init() {}

    public func decode(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> [Alert] {
        let objects = try JSONFields.objects(in: JSONBody.parse(body), expected: "an alert object or an array of them")
        guard !objects.isEmpty else { throw AlertDecodeError(field: "", message: "the array holds no alerts") }
        var alerts: [Alert] = []
        alerts.reserveCapacity(objects.count)
        for object in objects {
            alerts.append(try alert(from: object, receivedAt: receivedAt))
        }
        return alerts
    }

    private static let known: Set<String> = ["id", "host", "check", "severity", "summary", "status", "labels", "details"]

    private func alert(from object: JSONFields, receivedAt: Date) throws(AlertDecodeError) -> Alert {
        if let unknown = object.values.keys.sorted().first(where: { !Self.known.contains($0) }) {
            throw object.error(
                unknown, "is not a field of a generic alert (expected: \(Self.known.sorted().joined(separator: ", ")))")
        }
        let id = try object.nonEmptyString("id", maxLength: 255)
        let host = try object.requiredString("host", maxLength: Self.maxFieldLength)
        let check = try object.requiredString("check", maxLength: Self.maxFieldLength)
        let severity = try object.requiredOneOf("severity", Severity.self, ignoringCase: true)
        let summary = try object.requiredString("summary", maxLength: Self.maxFieldLength)
        let status = try object.requiredOneOf("status", AlertStatus.self, ignoringCase: true)
        let labels = try object.stringMap("labels")
        return Alert(
            source: source, host: host, check: check, severity: severity, status: status, summary: summary,
            labels: labels, details: object["details"], idempotencyKey: id.map { "generic|\($0)" },
            receivedAt: receivedAt)
    }
}
