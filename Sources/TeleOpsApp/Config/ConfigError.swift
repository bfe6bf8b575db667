/// A configuration problem: which key, which line, what was expected.
///
/// ```text
/// teleops.yaml:12:14: dispatch.local_workers: expected a whole number, found 'two'
/// ```
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    /// The key path, e.g. `actions[2].timeout`.
    public var key: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        return key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
    }
}
