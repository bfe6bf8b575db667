import Foundation

/// Parses a request body as JSON for a decoder, with errors that say what was wrong.
///
/// Invalid UTF-8 is reported with its byte offset before JSON parsing is tried, so a
/// monitoring system that sends Latin-1 hears exactly that. The JSON itself is read by
/// `JSONParser` (strict RFC 8259), whose errors name the line and column.
public enum JSONBody {
    public static func parse(_ body: Data) throws(AlertDecodeError) -> JSONValue {
        guard !body.isEmpty else { throw AlertDecodeError(field: "", message: "the body is empty; expected JSON", kind: .unparseable) }
        if let offset = firstInvalidUTF8(body) {
            throw AlertDecodeError(
                field: "", message: "the body is not valid UTF-8 (first bad byte at offset \(offset))", kind: .unparseable)
        }
        do throws(JSONParseError) {
            return try JSONParser.parse(body)
        } catch {
            throw AlertDecodeError(field: "", message: "the body is not valid JSON: \(error.description)", kind: .unparseable)
        }
    }

    /// The offset of the first byte that is not part of a well-formed UTF-8 sequence, or nil.
    public static func firstInvalidUTF8(_ data: Data) -> Int? {
        data.withUnsafeBytes { raw -> Int? in
            let bytes = raw.bindMemory(to: UInt8.self)
            var index = 0
            let count = bytes.count
            while index < count {
                let lead = bytes[index]
                if lead < 0x80 {
                    index += 1
                    continue
                }
                let length: Int
                var minimum: UInt32
                switch lead {
                case 0xC2...0xDF: length = 2; minimum = 0x80
                case 0xE0...0xEF: length = 3; minimum = 0x800
                case 0xF0...0xF4: length = 4; minimum = 0x10000
                default: return index
                }
                guard index + length <= count else { return index }
                var scalar = UInt32(lead) & (0xFF >> (length + 1))
                for offset in 1..<length {
                    let next = bytes[index + offset]
                    guard next & 0xC0 == 0x80 else { return index }
                    scalar = scalar << 6 | UInt32(next & 0x3F)
                }
                if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return index }
                index += length
            }
            return nil
        }
    }
}

/// Typed reads from one JSON object, each error naming the field's full path
/// (`alerts[2].labels.instance`), so a decoder never has to build paths by hand.
///
/// ```swift
/// let event = try JSONFields(JSONBody.parse(body), path: "")
/// let entity = try event.requiredObject("entity")
/// let host = try entity.requiredObject("metadata").requiredString("name")  // error field: "entity.metadata.name"
/// ```
public struct JSONFields: Sendable {
    public let path: String
    public let values: [String: JSONValue]

    /// Fails unless `value` is an object; `path` is where it sits in the body ("" for the root).
    public init(_ value: JSONValue, path: String) throws(AlertDecodeError) {
        guard case .object(let values) = value else {
            throw AlertDecodeError(field: path, message: "expected an object, found \(value.typeName)")
        }
        self.path = path
        self.values = values
    }

    /// The path of `key` inside this object.
    public func path(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// The value at `key`, nil when absent or `null`.
    public subscript(key: String) -> JSONValue? {
        switch values[key] {
        case nil, .null?: nil
        case let value?: value
        }
    }

    public func error(_ key: String, _ message: String) -> AlertDecodeError {
        AlertDecodeError(field: path(key), message: message)
    }

    private func wrongType(_ key: String, expected: String, found value: JSONValue) -> AlertDecodeError {
        error(key, "expected \(expected), found \(value.typeName)")
    }

    // MARK: Strings

    /// A string, nil when absent or null.
    public func string(_ key: String) throws(AlertDecodeError) -> String? {
        guard let value = self[key] else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, expected: "a string", found: value) }
        return text
    }

    /// A non-empty string (after trimming), at most `maxLength` characters.
    public func requiredString(_ key: String, maxLength: Int = 1024) throws(AlertDecodeError) -> String {
        guard let text = try nonEmptyString(key, maxLength: maxLength) else {
            throw error(key, self[key] == nil ? "is required" : "must not be empty")
        }
        return text
    }

    /// A trimmed string, nil when absent, null or blank; an error when longer than `maxLength`.
    public func nonEmptyString(_ key: String, maxLength: Int = 1024) throws(AlertDecodeError) -> String? {
        guard let text = try string(key) else { return nil }
        let trimmed = text.trimmed()
        guard !trimmed.isEmpty else { return nil }
        guard trimmed.count <= maxLength else { throw error(key, "is longer than \(maxLength) characters") }
        return trimmed
    }

    /// An object whose values are all strings (labels, annotations); empty when absent.
    public func stringMap(_ key: String) throws(AlertDecodeError) -> [String: String] {
        guard let value = self[key] else { return [:] }
        guard case .object(let entries) = value else { throw wrongType(key, expected: "an object of strings", found: value) }
        var result: [String: String] = [:]
        result.reserveCapacity(entries.count)
        for (name, entry) in entries {
            guard case .string(let text) = entry else {
                throw AlertDecodeError(field: path("\(key).\(name)"), message: "expected a string, found \(entry.typeName)")
            }
            result[name] = text
        }
        return result
    }

    // MARK: Numbers and booleans

    public func number(_ key: String) throws(AlertDecodeError) -> Double? {
        guard let value = self[key] else { return nil }
        guard case .number(let number) = value else { throw wrongType(key, expected: "a number", found: value) }
        return number
    }

    /// An integer (a JSON number with no fraction, within `range`), nil when absent or null.
    public func int(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(AlertDecodeError) -> Int? {
        guard let number = try number(key) else { return nil }
        guard number.rounded() == number, number >= -9.0e18, number <= 9.0e18, range.contains(Int(number)) else {
            if range == Int.min...Int.max { throw error(key, "expected an integer, found \(number)") }
            throw error(key, "expected an integer from \(range.lowerBound) to \(range.upperBound), found \(number)")
        }
        return Int(number)
    }

    public func bool(_ key: String) throws(AlertDecodeError) -> Bool? {
        guard let value = self[key] else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(key, expected: "true or false", found: value) }
        return flag
    }

    // MARK: Nested values

    /// A nested object, nil when absent or null.
    public func object(_ key: String) throws(AlertDecodeError) -> JSONFields? {
        guard let value = self[key] else { return nil }
        guard case .object = value else { throw wrongType(key, expected: "an object", found: value) }
        return try JSONFields(value, path: path(key))
    }

    public func requiredObject(_ key: String) throws(AlertDecodeError) -> JSONFields {
        guard let object = try object(key) else { throw error(key, "is required") }
        return object
    }

    /// A nested array, nil when absent or null.
    public func array(_ key: String) throws(AlertDecodeError) -> [JSONValue]? {
        guard let value = self[key] else { return nil }
        guard case .array(let items) = value else { throw wrongType(key, expected: "an array", found: value) }
        return items
    }

    /// The objects of the array at `key`, each with its path (`alerts[3]`); empty when absent.
    public func objects(_ key: String) throws(AlertDecodeError) -> [JSONFields] {
        guard let items = try array(key) else { return [] }
        return try Self.elements(items, path: path(key))
    }

    /// Each item of an array sitting at `path`, as an object with its own path (`alerts[3]`, `[3]`).
    public static func elements(_ items: [JSONValue], path: String) throws(AlertDecodeError) -> [JSONFields] {
        var result: [JSONFields] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            result.append(try JSONFields(item, path: "\(path)[\(index)]"))
        }
        return result
    }

    // MARK: Times

    /// An RFC 3339 time (`2026-08-01T10:00:00.123456789Z`), checked with `AlertTime.check`.
    /// Go's zero time (`0001-01-01T00:00:00Z`, "not set") reads as nil.
    public func rfc3339(
        _ key: String, receivedAt: Date, maxFuture: TimeInterval = AlertTime.maxFuture
    ) throws(AlertDecodeError) -> Date? {
        guard let text = try string(key) else { return nil }
        guard let date = RFC3339.parse(text) else {
            throw error(key, "'\(text.prefix(64))' is not an RFC 3339 time such as 2026-08-01T10:00:00Z")
        }
        if date == RFC3339.goZeroTime { return nil }
        try AlertTime.check(date, field: path(key), receivedAt: receivedAt, maxFuture: maxFuture)
        return date
    }

    /// A time in seconds since 1970 (Sensu), checked with `AlertTime.check`; 0 reads as nil (unset).
    public func epochSeconds(_ key: String, receivedAt: Date) throws(AlertDecodeError) -> Date? {
        guard let seconds = try number(key), seconds != 0 else { return nil }
        let date = Date(timeIntervalSince1970: seconds)
        try AlertTime.check(date, field: path(key), receivedAt: receivedAt)
        return date
    }
}

/// The range of times an alert may carry: anything else is a clock or encoding fault at the
/// sender (seconds sent as milliseconds, a zero date), reported rather than stored.
public enum AlertTime {
    /// 2000-01-01T00:00:00Z.
    public static let earliest = Date(timeIntervalSince1970: 946_684_800)
    /// How far ahead of our clock an event time may be (clock skew): one day.
    public static let maxFuture: TimeInterval = 86_400

    public static func check(
        _ date: Date, field: String, receivedAt: Date, maxFuture: TimeInterval = maxFuture
    ) throws(AlertDecodeError) {
        if date < earliest {
            throw AlertDecodeError(field: field, message: "\(date.ISO8601Format()) is before 2000-01-01; check the sender's clock and units")
        }
        if date > receivedAt.addingTimeInterval(maxFuture) {
            throw AlertDecodeError(
                field: field,
                message: "\(date.ISO8601Format()) is more than \(Int(maxFuture / 3600)) hours in the future; check the sender's clock and units")
        }
    }
}

/// RFC 3339 / ISO 8601 timestamps as monitoring systems write them: any number of
/// fractional digits (Go writes nanoseconds), `Z`, `±HH:MM` or `±HHMM` (PagerDuty's examples).
public enum RFC3339 {
    /// `0001-01-01T00:00:00Z`, which Go writes for an unset time.
    public static let goZeroTime = Date(timeIntervalSince1970: -62_135_596_800)

    public static func parse(_ text: String) -> Date? {
        var utf8 = Array(text.utf8)
        guard utf8.count >= 19 else { return nil }
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= utf8.count else { return nil }
            var value = 0
            for index in start..<(start + count) {
                let byte = utf8[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        if utf8[10] == UInt8(ascii: "t") || utf8[10] == UInt8(ascii: " ") { utf8[10] = UInt8(ascii: "T") }
        guard let year = digits(0, 4), utf8[4] == UInt8(ascii: "-"), let month = digits(5, 2), utf8[7] == UInt8(ascii: "-"),
              let day = digits(8, 2), utf8[10] == UInt8(ascii: "T"), let hour = digits(11, 2), utf8[13] == UInt8(ascii: ":"),
              let minute = digits(14, 2), utf8[16] == UInt8(ascii: ":"), let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
              second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < utf8.count, utf8[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < utf8.count, utf8[index] >= 48, utf8[index] <= 57 {
                fraction += Double(utf8[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < utf8.count else { return nil }
        var offset = 0
        switch utf8[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = utf8[index] == UInt8(ascii: "-") ? -1 : 1
            guard let hours = digits(index + 1, 2) else { return nil }
            var minutesStart = index + 3
            if minutesStart < utf8.count, utf8[minutesStart] == UInt8(ascii: ":") { minutesStart += 1 }
            guard let minutes = digits(minutesStart, 2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
            index = minutesStart + 2
        default:
            return nil
        }
        guard index == utf8.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
        return Date(timeIntervalSince1970: seconds + fraction)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
