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
        let root = try JSONBody.parse(body)
        switch root {
        case .object:
            return [try alert(from: JSONFields(root, path: ""), receivedAt: receivedAt)]
        case .array(let items):
            guard !items.isEmpty else { throw AlertDecodeError(field: "", message: "the array holds no alerts") }
            var alerts: [Alert] = []
            alerts.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                alerts.append(try alert(from: JSONFields(item, path: "[\(index)]"), receivedAt: receivedAt))
            }
            return alerts
        default:
            throw AlertDecodeError(field: "", message: "expected an alert object or an array of them, found \(root.typeName)")
        }
    }

    private static let known: Set<String> = ["id", "host", "check", "severity", "summary", "status", "labels", "details"]

    private func alert(from object: JSONFields, receivedAt: Date) throws(AlertDecodeError) -> Alert {
        if let unknown = object.values.keys.sorted().first(where: { !Self.known.contains($0) }) {
            throw object.error(
                unknown, "is not a field of a generic alert (expected: \(Self.known.sorted().joined(separator: ", ")))")
        }
        func oneOf<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) throws(AlertDecodeError) -> T
        where T.RawValue == String {
            let text = try object.requiredString(name)
            guard let value = T(rawValue: text.lowercased()) else {
                let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
                throw object.error(name, "'\(text)' is not one of: \(allowed)")
            }
            return value
        }
        let id = try object.nonEmptyString("id", maxLength: 255)
        let host = try object.requiredString("host", maxLength: Self.maxFieldLength)
        let check = try object.requiredString("check", maxLength: Self.maxFieldLength)
        let severity = try oneOf("severity", Severity.self)
        let summary = try object.requiredString("summary", maxLength: Self.maxFieldLength)
        let status = try oneOf("status", AlertStatus.self)
        let labels = try object.stringMap("labels")
        return Alert(
            source: source, host: host, check: check, severity: severity, status: status, summary: summary,
            labels: labels, details: object["details"], idempotencyKey: id.map { "generic|\($0)" },
            receivedAt: receivedAt)
    }
}
