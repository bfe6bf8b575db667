import Foundation
import TeleOpsCore

/// JSON as the fake writes it: objects keep their field order, so error bodies read
/// `ok, error_code, description, parameters` as the Bot API server writes them.
indirect enum FakeJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([FakeJSON])
    case object([(String, FakeJSON)])

    static func == (lhs: FakeJSON, rhs: FakeJSON) -> Bool { lhs.text == rhs.text }

    var text: String {
        var output = ""
        write(to: &output)
        return output
    }

    private func write(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .int(let number): output += String(number)
        case .string(let text): Self.writeString(text, to: &output)
        case .array(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                item.write(to: &output)
            }
            output += "]"
        case .object(let members):
            output += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { output += "," }
                Self.writeString(key, to: &output)
                output += ":"
                value.write(to: &output)
            }
            output += "}"
        }
    }

    private static func writeString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case let control where control.value < 0x20:
                output += "\\u" + String(repeating: "0", count: 4 - String(control.value, radix: 16).count)
                    + String(control.value, radix: 16)
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }

    /// A parsed `JSONValue` (request parameters echoed back, updates injected by a test).
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .number(let number):
            self = number.rounded() == number && abs(number) < 9e15 ? .int(Int64(number)) : .string(String(number))
        case .string(let text): self = .string(text)
        case .array(let items): self = .array(items.map(FakeJSON.init))
        case .object(let members): self = .object(members.keys.sorted().map { ($0, FakeJSON(members[$0]!)) })
        }
    }
}

/// A Bot API error answer: the HTTP status equals `error_code`.
struct FakeTelegramError: Error {
    var code: Int
    var description: String
    var parameters: [(String, FakeJSON)] = []
    var headers: [String: String] = [:]

    static func badRequest(_ text: String) -> FakeTelegramError { FakeTelegramError(code: 400, description: "Bad Request: \(text)") }

    var body: FakeJSON {
        var members: [(String, FakeJSON)] = [("ok", .bool(false)), ("error_code", .int(Int64(code))), ("description", .string(description))]
        if !parameters.isEmpty { members.append(("parameters", .object(parameters))) }
        return .object(members)
    }
}

/// A method's parameters from the query string, a form body or a JSON body, read as the Bot
/// API server reads them: numbers may come as strings, objects as JSON-serialized strings.
public struct FakeTelegramParams: Sendable, Equatable {
    public var values: [String: JSONValue]

    public init(_ values: [String: JSONValue] = [:]) {
        self.values = values
    }

    public subscript(key: String) -> JSONValue? { values[key] }

    func string(_ key: String) -> String? {
        switch values[key] {
        case .string(let text)?: text
        case .number(let number)?: number.rounded() == number ? String(Int64(number)) : String(number)
        case .bool(let flag)?: flag ? "true" : "false"
        default: nil
        }
    }

    func int(_ key: String) throws(FakeTelegramError) -> Int64? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let number)? where number.rounded() == number: return Int64(number)
        case .string(let text)?:
            if text.isEmpty { return nil }
            if let number = Int64(text) { return number }
        default: break
        }
        throw .badRequest("invalid \(key) specified")
    }

    func bool(_ key: String) -> Bool {
        switch values[key] {
        case .bool(let flag)?: flag
        case .string(let text)?: ["true", "1"].contains(text.lowercased())
        case .number(let number)?: number != 0
        default: false
        }
    }

    /// An object or array parameter, given as JSON or as a JSON-serialized string.
    func structured(_ key: String) throws(FakeTelegramError) -> JSONValue? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let text)?:
            if text.isEmpty { return nil }
            do {
                return try JSONParser.parse(Data(text.utf8))
            } catch {
                throw .badRequest("can't parse \(key) JSON object")
            }
        case let value?: return value
        }
    }

    /// Parameters from a query string or a form body (`a=1&b=%7B%7D`).
    static func form(_ text: String) -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            values[decode(parts[0])] = .string(parts.count > 1 ? decode(parts[1]) : "")
        }
        return values
    }
}
