import TeleOpsCore

/// Writes one message body as compact JSON, straight into bytes: several times cheaper than
/// `JSONEncoder`, which was the largest single cost of a dispatch round trip.
///
/// ```swift
/// var body = WireJSONWriter()
/// body.field("seq", 3)
/// body.field("task_id", "t1")
/// body.bytes   // {"seq":3,"task_id":"t1"}
/// ```
///
/// Callers write keys in sorted order, so bodies read the same as before (`JSONEncoder` with
/// `.sortedKeys`); nil optionals are left out. Strings are written as UTF-8 with `"`, `\` and
/// control characters escaped (`/` is not).
struct WireJSONWriter {
    private(set) var output: [UInt8]
    private var needsComma = false

    init(capacity: Int = 128) {
        output = []
        output.reserveCapacity(capacity)
        output.append(UInt8(ascii: "{"))
    }

    /// The finished object.
    var bytes: [UInt8] {
        var done = output
        done.append(UInt8(ascii: "}"))
        return done
    }

    mutating func field(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        self.key(key)
        JSONValue.writeString(value, to: &output)
    }

    mutating func field(_ key: StaticString, _ value: Int?) {
        guard let value else { return }
        self.key(key)
        output.append(contentsOf: String(value).utf8)
    }

    mutating func field(_ key: StaticString, _ value: Int32?) {
        field(key, value.map(Int.init))
    }

    mutating func field(_ key: StaticString, _ value: Bool) {
        self.key(key)
        output.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A finite number as Swift prints it (`12.5`, `1e-05`: both valid JSON); 0 if not finite.
    mutating func field(_ key: StaticString, _ value: Double) {
        self.key(key)
        output.append(contentsOf: (value.isFinite ? "\(value)" : "0").utf8)
    }

    mutating func field(_ key: StaticString, _ values: [String]) {
        self.key(key)
        output.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            JSONValue.writeString(value, to: &output)
        }
        output.append(UInt8(ascii: "]"))
    }

    /// An object of strings, keys sorted.
    mutating func field(_ key: StaticString, _ values: [String: String]) {
        self.key(key)
        output.append(UInt8(ascii: "{"))
        for (index, name) in values.keys.sorted().enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            JSONValue.writeString(name, to: &output)
            output.append(UInt8(ascii: ":"))
            JSONValue.writeString(values[name] ?? "", to: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    /// A nested object written by `body`.
    mutating func object(_ key: StaticString, _ body: (inout WireJSONWriter) -> Void) {
        self.key(key)
        var nested = WireJSONWriter(capacity: 64)
        body(&nested)
        output.append(contentsOf: nested.bytes)
    }

    private mutating func key(_ key: StaticString) {
        if needsComma { output.append(UInt8(ascii: ",")) }
        needsComma = true
        output.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { output.append(contentsOf: $0) }
        output.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }
}

/// Reads the fields of one message body parsed by `JSONParser`, with errors that name the
/// message and the field: `TASK body: missing field 'argv'`, `HELLO body: wrong type at
/// 'hosts': expected an array of strings, found string`.
///
/// Unknown keys are ignored; an optional field may be absent or null.
struct WireJSONReader {
    let message: String
    let path: String
    let object: [String: JSONValue]

    /// Parses `bytes`; the body must be one JSON object.
    init(_ bytes: [UInt8], message: String) throws(WireDecodeError) {
        let parsed = bytes.withUnsafeBytes { raw -> Result<JSONValue, JSONParseError> in
            do throws(JSONParseError) { return .success(try JSONParser.parse(raw)) } catch { return .failure(error) }
        }
        switch parsed {
        case .failure(let error):
            throw WireDecodeError(.badJSON, "\(message) body is not valid JSON: \(error)")
        case .success(.object(let object)):
            self.init(message: message, path: "", object: object)
        case .success(let other):
            throw WireDecodeError(.badJSON, "\(message) body must be a JSON object, found \(other.typeName)")
        }
    }

    private init(message: String, path: String, object: [String: JSONValue]) {
        self.message = message
        self.path = path
        self.object = object
    }

    func string(_ key: String) throws(WireDecodeError) -> String {
        try required(key, optionalString(key))
    }

    func optionalString(_ key: String) throws(WireDecodeError) -> String? {
        guard let value = present(key) else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, "a string", value) }
        return text
    }

    func int(_ key: String) throws(WireDecodeError) -> Int {
        try required(key, optionalInt(key))
    }

    func optionalInt(_ key: String) throws(WireDecodeError) -> Int? {
        guard let value = present(key) else { return nil }
        guard case .number(let number) = value, number.rounded() == number,
              let integer = Int(exactly: number) else { throw wrongType(key, "an integer", value) }
        return integer
    }

    func optionalInt32(_ key: String) throws(WireDecodeError) -> Int32? {
        guard let integer = try optionalInt(key) else { return nil }
        guard let small = Int32(exactly: integer) else { throw wrongType(key, "a 32-bit integer", .number(Double(integer))) }
        return small
    }

    func int32(_ key: String) throws(WireDecodeError) -> Int32 {
        try required(key, optionalInt32(key))
    }

    func double(_ key: String) throws(WireDecodeError) -> Double {
        guard let value = present(key) else { throw missing(key) }
        guard case .number(let number) = value else { throw wrongType(key, "a number", value) }
        return number
    }

    func bool(_ key: String) throws(WireDecodeError) -> Bool {
        try required(key, optionalBool(key))
    }

    func optionalBool(_ key: String) throws(WireDecodeError) -> Bool? {
        guard let value = present(key) else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(key, "true or false", value) }
        return flag
    }

    func strings(_ key: String) throws(WireDecodeError) -> [String] {
        guard let value = present(key) else { throw missing(key) }
        guard case .array(let items) = value else { throw wrongType(key, "an array of strings", value) }
        var strings: [String] = []
        strings.reserveCapacity(items.count)
        for item in items {
            guard case .string(let text) = item else { throw wrongType(key, "an array of strings", value) }
            strings.append(text)
        }
        return strings
    }

    func optionalStringMap(_ key: String) throws(WireDecodeError) -> [String: String]? {
        guard let value = present(key) else { return nil }
        guard case .object(let members) = value else { throw wrongType(key, "an object of strings", value) }
        var map: [String: String] = [:]
        for (name, member) in members {
            guard case .string(let text) = member else { throw wrongType("\(key).\(name)", "a string", member) }
            map[name] = text
        }
        return map
    }

    func optionalObject(_ key: String) throws(WireDecodeError) -> WireJSONReader? {
        guard let value = present(key) else { return nil }
        guard case .object(let members) = value else { throw wrongType(key, "an object", value) }
        return WireJSONReader(message: message, path: qualified(key) + ".", object: members)
    }

    /// The value of `key`, or nil when it is absent or null.
    private func present(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    private func required<T>(_ key: String, _ value: T?) throws(WireDecodeError) -> T {
        guard let value else { throw missing(key) }
        return value
    }

    private func qualified(_ key: String) -> String { path + key }

    private func missing(_ key: String) -> WireDecodeError {
        WireDecodeError(.badJSON, "\(message) body: missing field '\(qualified(key))'")
    }

    private func wrongType(_ key: String, _ expected: String, _ found: JSONValue) -> WireDecodeError {
        WireDecodeError(.badJSON,
                        "\(message) body: wrong type at '\(qualified(key))': expected \(expected), found \(found.typeName)")
    }
}
