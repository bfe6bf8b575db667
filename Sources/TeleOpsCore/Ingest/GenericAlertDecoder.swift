import Foundation

/// The plain JSON format any script can post to `POST /v1/alerts/generic`:
///
/// ```json
/// {"host": "web-1", "check": "disk_usage", "severity": "critical",
///  "summary": "/var is 95% full", "status": "firing",
///  "labels": {"team": "storage"}, "details": {"used_pct": 95}}
/// ```
///
/// One object or an array of them. `labels` (string values) and `details` (any JSON) are
/// optional; everything else is required. Identity: source, host and check.
public struct GenericAlertDecoder: AlertDecoder {
    public let source = "generic"
    /// Longest accepted host, check and summary, in characters.
    public static let maxFieldLength = 1024

    public init() {}

    public func decode(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> [Alert] {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            throw AlertDecodeError(field: "", message: "body is not valid JSON: \(Self.describe(error))")
        }
        switch root {
        case .object:
            return [try alert(from: root, path: "", receivedAt: receivedAt)]
        case .array(let items):
            guard !items.isEmpty else { throw AlertDecodeError(field: "", message: "the array holds no alerts") }
            var alerts: [Alert] = []
            for (index, item) in items.enumerated() {
                alerts.append(try alert(from: item, path: "[\(index)]", receivedAt: receivedAt))
            }
            return alerts
        default:
            throw AlertDecodeError(field: "", message: "expected an alert object or an array of them, found \(root.typeName)")
        }
    }

    private func alert(from value: JSONValue, path: String, receivedAt: Date) throws(AlertDecodeError) -> Alert {
        guard case .object(let object) = value else {
            throw AlertDecodeError(field: path, message: "expected an alert object, found \(value.typeName)")
        }
        func field(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
        func requiredString(_ name: String) throws(AlertDecodeError) -> String {
            guard let raw = object[name], raw != .null else {
                throw AlertDecodeError(field: field(name), message: "is required")
            }
            guard case .string(let text) = raw else {
                throw AlertDecodeError(field: field(name), message: "expected a string, found \(raw.typeName)")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw AlertDecodeError(field: field(name), message: "must not be empty") }
            guard trimmed.count <= Self.maxFieldLength else {
                throw AlertDecodeError(field: field(name), message: "is longer than \(Self.maxFieldLength) characters")
            }
            return trimmed
        }
        func oneOf<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) throws(AlertDecodeError) -> T
        where T.RawValue == String {
            let text = try requiredString(name)
            guard let value = T(rawValue: text.lowercased()) else {
                let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
                throw AlertDecodeError(field: field(name), message: "'\(text)' is not one of: \(allowed)")
            }
            return value
        }

        let known: Set<String> = ["host", "check", "severity", "summary", "status", "labels", "details"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw AlertDecodeError(
                field: field(unknown),
                message: "is not a field of a generic alert (expected: \(known.sorted().joined(separator: ", ")))")
        }
        let host = try requiredString("host")
        let check = try requiredString("check")
        let severity = try oneOf("severity", Severity.self)
        let summary = try requiredString("summary")
        let status = try oneOf("status", AlertStatus.self)

        var labels: [String: String] = [:]
        switch object["labels"] {
        case nil, .null?: break
        case .object(let entries)?:
            for (key, value) in entries {
                guard case .string(let text) = value else {
                    throw AlertDecodeError(field: field("labels.\(key)"), message: "expected a string, found \(value.typeName)")
                }
                labels[key] = text
            }
        case let other?:
            throw AlertDecodeError(field: field("labels"), message: "expected an object of strings, found \(other.typeName)")
        }
        let details = object["details"].flatMap { $0 == .null ? nil : $0 }

        return Alert(
            source: source, host: host, check: check, severity: severity, status: status, summary: summary,
            labels: labels, details: details, receivedAt: receivedAt)
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            if let underlying = context.underlyingError as NSError?,
               let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
                return detail
            }
            return context.debugDescription
        }
        return "\(error)"
    }
}
