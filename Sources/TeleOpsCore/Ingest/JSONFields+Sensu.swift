import Foundation

extension JSONFields {
    /// The objects of a body that holds one object or an array of them, each with its path:
    /// "" for a lone object, `[2]` for the third element of an array. An empty array gives none.
    ///
    /// ```swift
    /// let events = try JSONFields.objects(in: JSONBody.parse(body), expected: "a Sensu event or an array of them")
    /// ```
    public static func objects(in root: JSONValue, expected: String) throws(AlertDecodeError) -> [JSONFields] {
        switch root {
        case .object:
            return [try JSONFields(root, path: "")]
        case .array(let items):
            return try elements(items, path: "")
        default:
            throw AlertDecodeError(field: "", message: "expected \(expected), found \(root.typeName)")
        }
    }

    /// A string that must be exactly the raw value of one of `Value`'s cases (case-sensitive);
    /// nil when absent or null. The error lists the allowed values.
    ///
    /// ```swift
    /// enum Action: String, CaseIterable { case create, resolve }
    /// let action = try event.oneOf("action", Action.self) ?? .create  // "'open' is not one of: create, resolve"
    /// ```
    ///
    /// With `ignoringCase`, the text is trimmed and lowercased first (`" CRITICAL"` reads as
    /// `critical`); the cases' raw values must then be lowercase.
    public func oneOf<Value: RawRepresentable & CaseIterable>(
        _ key: String, _: Value.Type, ignoringCase: Bool = false
    ) throws(AlertDecodeError) -> Value? where Value.RawValue == String {
        guard let text = try string(key) else { return nil }
        let wanted = ignoringCase ? text.trimmed().lowercased() : text
        if let value = Value(rawValue: wanted) { return value }
        throw error(key, "'\(text.prefix(64))' is not one of: \(Self.allowed(Value.self))")
    }

    /// `oneOf`, but absent or null is an error that lists the allowed values.
    public func requiredOneOf<Value: RawRepresentable & CaseIterable>(
        _ key: String, _ type: Value.Type, ignoringCase: Bool = false
    ) throws(AlertDecodeError) -> Value where Value.RawValue == String {
        guard let value = try oneOf(key, type, ignoringCase: ignoringCase) else {
            throw error(key, "is required (one of: \(Self.allowed(Value.self)))")
        }
        return value
    }

    private static func allowed<Value: RawRepresentable & CaseIterable>(_: Value.Type) -> String
    where Value.RawValue == String {
        Value.allCases.map(\.rawValue).joined(separator: ", ")
    }
}
