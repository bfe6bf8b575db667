import Foundation

/// Reads shared by the decoders of sources that send a list of alerts with label sets
/// (Alertmanager's webhook and API v2, Grafana).
extension JSONFields {
    /// The objects of the array at `key`, which must hold between 1 and `maxCount` alerts;
    /// see `JSONFields.alertObjects(of:path:maxCount:)`.
    public func alertObjects(_ key: String, maxCount: Int) throws(AlertDecodeError) -> [JSONFields] {
        guard let value = self[key] else { throw error(key, "is required") }
        return try JSONFields.alertObjects(of: value, path: path(key), maxCount: maxCount)
    }

    /// The objects of a JSON array of alerts sitting at `path` ("" for a body that is the
    /// array), each with its own path (`alerts[3]`, `[3]`).
    ///
    /// An empty array is valid JSON but a useless request, and more than `maxCount` alerts
    /// is a sender sending everything it has at once: both are errors naming `path`.
    public static func alertObjects(of value: JSONValue, path: String, maxCount: Int) throws(AlertDecodeError) -> [JSONFields] {
        guard case .array(let items) = value else {
            throw AlertDecodeError(field: path, message: "expected an array of alerts, found \(value.typeName)")
        }
        guard !items.isEmpty else { throw AlertDecodeError(field: path, message: "holds no alerts") }
        guard items.count <= maxCount else {
            throw AlertDecodeError(
                field: path, message: "holds \(items.count) alerts; at most \(maxCount) are accepted per request")
        }
        return try elements(items, path: path)
    }

    /// A label set (Prometheus labels, annotations): an object of strings, empty when absent.
    /// Names must not be empty; values may be, but none may be longer than `maxValueBytes`
    /// bytes of UTF-8 (the error names the entry: `alerts[0].annotations.description`).
    public func labelSet(_ key: String, maxValueBytes: Int) throws(AlertDecodeError) -> [String: String] {
        let entries = try stringMap(key)
        for (name, value) in entries {
            guard !name.isEmpty else { throw error(key, "has an entry with an empty name") }
            guard value.utf8.count <= maxValueBytes else {
                throw AlertDecodeError(
                    field: path("\(key).\(name)"),
                    message: "is \(value.utf8.count) bytes long; at most \(maxValueBytes) are accepted")
            }
        }
        return entries
    }
}
