import Foundation
import Yams

/// A YAML node with the key path and position it came from, so every error can say where.
struct YAMLValue {
    let node: Node
    let key: String
    let file: String

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, key: key, line: node.mark?.line, column: node.mark?.column, message: message)
    }

    private var found: String {
        switch node {
        case .scalar(let scalar): "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected text, found \(found)") }
        return scalar.string
    }

    func int(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            throw error("expected a whole number, found \(found)")
        }
        guard range.contains(value) else {
            throw error("\(value) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func bool() throws(ConfigError) -> Bool {
        guard case .scalar(let scalar) = node else { throw error("expected true or false, found \(found)") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, found \(found)")
        }
    }

    /// `250ms`, `10s`, `5m`, `1h`, or a bare number of seconds.
    func duration() throws(ConfigError) -> Duration {
        let text = try string().trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, seconds) in units where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count)), number > 0 {
                return .milliseconds(Int64((number * seconds * 1000).rounded()))
            }
        }
        if let number = Double(text), number > 0 { return .milliseconds(Int64((number * 1000).rounded())) }
        throw error("expected a positive duration such as 500ms, 10s, 5m or 1h, found '\(text)'")
    }

    func list() throws(ConfigError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw error("expected a list, found \(found)") }
        return sequence.enumerated().map { YAMLValue(node: $0.element, key: "\(key)[\($0.offset)]", file: file) }
    }

    func strings() throws(ConfigError) -> [String] {
        var values: [String] = []
        for item in try list() { values.append(try item.string()) }
        return values
    }

    /// A mapping of text to text (environment variables, labels).
    func stringMap() throws(ConfigError) -> [String: String] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping, found \(found)") }
        var values: [String: String] = [:]
        for (keyNode, valueNode) in mapping {
            let name = keyNode.string ?? ""
            values[name] = try YAMLValue(node: valueNode, key: key.isEmpty ? name : "\(key).\(name)", file: file).string()
        }
        return values
    }

    /// The mapping's fields; `allowed` lists the keys this mapping may have.
    func fields(allowed: [String]) throws(ConfigError) -> Fields {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping, found \(found)") }
        var entries: [String: YAMLValue] = [:]
        for (keyNode, valueNode) in mapping {
            let name = keyNode.string ?? ""
            let path = key.isEmpty ? name : "\(key).\(name)"
            guard allowed.contains(name) else {
                throw ConfigError(
                    file: file, key: path, line: keyNode.mark?.line, column: keyNode.mark?.column,
                    message: "unknown key; expected one of: \(allowed.joined(separator: ", "))")
            }
            entries[name] = YAMLValue(node: valueNode, key: path, file: file)
        }
        return Fields(entries: entries, owner: self)
    }
}

/// The fields of one mapping.
struct Fields {
    let entries: [String: YAMLValue]
    let owner: YAMLValue

    subscript(name: String) -> YAMLValue? { entries[name] }

    func required(_ name: String) throws(ConfigError) -> YAMLValue {
        guard let value = entries[name] else {
            let path = owner.key.isEmpty ? name : "\(owner.key).\(name)"
            throw ConfigError(file: owner.file, key: path, line: owner.node.mark?.line, column: owner.node.mark?.column,
                              message: "is required")
        }
        return value
    }
}
