import Foundation

/// A strict RFC 8259 JSON parser: UTF-8 bytes in, `JSONValue` out, in one pass over the
/// buffer, with errors that say where (line, column, byte offset) and what was expected.
///
/// ```swift
/// let value = try JSONParser.parse(Data(#"{"status":"firing","alerts":[{"labels":{"job":"node"}}]}"#.utf8))
/// value["status"]                                    // .string("firing")
///
/// do {
///     _ = try JSONParser.parse(Data("{\n  \"a\" 1\n}".utf8))
/// } catch {
///     print(error)                                   // line 2, column 7: expected ':' after an object key, found '1'
/// }
/// ```
///
/// Any value may stand at the top (`42`, `"text"`), as RFC 8259 allows. Where the grammar
/// leaves a choice, or Foundation's readers are laxer, it decides:
///
/// - **Duplicate keys**: the last one wins, as with JSONSerialization, Go and JavaScript
///   (JSONDecoder, in Swift 6.3, keeps the first).
/// - **Byte order mark**: one UTF-8 BOM (`EF BB BF`) at the very start is skipped, as RFC 8259
///   §8.1 permits and JSONDecoder and JSONSerialization do; a BOM anywhere else is an
///   unexpected character.
/// - **Lone surrogates**: a `\uD800`–`\uDFFF` escape that is not a high surrogate followed by
///   a low one is an error, as with Foundation (a Swift `String` cannot hold it, and U+FFFD
///   in its place would change the text unseen).
/// - **Numbers** become the nearest `Double`. A number beyond `Double`'s range (`1e400`) is an
///   error; one too small for it (`1e-400`) reads as 0, as `strtod` reads it.
/// - **Nesting** deeper than `maxDepth` arrays and objects is an error, so `[[[[…` cannot
///   exhaust the stack.
/// - **Only UTF-8**: invalid UTF-8 is an error naming its byte offset. Foundation guesses
///   UTF-16 or UTF-32 from 0x00 bytes; here a 0x00 byte is an unexpected character.
/// - **Nothing beyond the grammar**: trailing commas (which Foundation accepts), comments,
///   single quotes, unescaped control characters (U+0000–U+001F) in strings, `NaN`,
///   `Infinity`, hexadecimal, leading zeros, `+1`, `.5` and `1.` are errors.
public enum JSONParser {
    /// How many arrays and objects may be open at once.
    public static let maxDepth = 512

    /// Parses one JSON text; whitespace may surround the value, nothing else may follow it.
    public static func parse(_ data: Data) throws(JSONParseError) -> JSONValue {
        let result = data.withUnsafeBytes { raw -> Result<JSONValue, JSONParseError> in
            do throws(JSONParseError) {
                return .success(try parse(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses one JSON text from raw UTF-8 bytes (see `parse(_: Data)`).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var reader = JSONReader(bytes: bytes.bindMemory(to: UInt8.self))
        return try reader.document()
    }
}

/// Why a JSON text was refused, and where.
///
/// ```swift
/// error.description   // line 3, column 14: expected ':' after an object key, found '"'
/// ```
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for a person: "unterminated string", "number is not valid JSON: 01".
    public let message: String
    /// Where, in bytes from the start of the input (0-based).
    public let offset: Int
    /// The line (1-based); a line ends at LF, CR LF or a lone CR.
    public let line: Int
    /// The column (1-based), counted in Unicode scalars from the start of the line.
    public let column: Int

    public var description: String { "line \(line), column \(column): \(message)" }
}

// MARK: - The reader

/// The parser's state: the bytes, the read position, how many containers are open, and for
/// strings, where the one being read opened and a buffer reused for unescaping.
private struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    var openingQuote = 0
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func document() throws(JSONParseError) -> JSONValue {
        if hasByteOrderMark { index = 3 }
        skipWhitespace()
        let value = try value()
        skipWhitespace()
        guard index == bytes.count else {
            throw error(at: index, "unexpected \(describe(at: index)) after the JSON value")
        }
        return value
    }

    var hasByteOrderMark: Bool {
        bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    // MARK: Values

    mutating func value() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw expected("a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            index += 1
            return .string(try string())
        case UInt8(ascii: "{"):
            return try object()
        case UInt8(ascii: "["):
            return try array()
        case UInt8(ascii: "t"):
            return try literal("true", .bool(true))
        case UInt8(ascii: "f"):
            return try literal("false", .bool(false))
        case UInt8(ascii: "n"):
            return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try number())
        case UInt8(ascii: "+"), UInt8(ascii: "."):
            throw invalidNumber(from: index)
        case UInt8(ascii: "'"):
            throw error(at: index, "expected a value, found a single quote; JSON strings take double quotes")
        default:
            if let word = word(at: index) { throw error(at: index, "unexpected '\(word)'; expected a value") }
            throw expected("a value")
        }
    }

    mutating func literal(_ text: StaticString, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let start = index
        let count = text.utf8CodeUnitCount
        guard bytes.count - index >= count,
              memcmp(bytes.baseAddress! + index, text.utf8Start, count) == 0,
              index + count == bytes.count || !isWordByte(bytes[index + count])
        else {
            throw error(at: start, "unexpected '\(word(at: start) ?? "")'; expected a value")
        }
        index += count
        return value
    }

    mutating func object() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object([:])
        }
        // Room for as many members as most objects in alerts have (labels, annotations), so
        // few are rehashed as they grow: a quarter less time for an Alertmanager body.
        var members = [String: JSONValue](minimumCapacity: 6)
        var afterComma = false
        while true {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                if afterComma, index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    throw error(at: index, "a trailing comma before '}' is not allowed")
                }
                throw expected(afterComma ? "a string key after ',' in an object" : "a string key or '}' after '{'")
            }
            index += 1
            let key = try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw expected("':' after an object key")
            }
            index += 1
            skipWhitespace()
            members[key] = try value()
            skipWhitespace()
            guard index < bytes.count else { throw expected("',' or '}' after an object member") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
                afterComma = true
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return .object(members)
            default:
                throw expected("',' or '}' after an object member")
            }
        }
    }

    mutating func array() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        index += 1
        skipWhitespace()
        var items: [JSONValue] = []
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(items)
        }
        while true {
            items.append(try value())
            skipWhitespace()
            guard index < bytes.count else { throw expected("',' or ']' after an array element") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    throw error(at: index, "a trailing comma before ']' is not allowed")
                }
            case UInt8(ascii: "]"):
                index += 1
                depth -= 1
                return .array(items)
            default:
                throw expected("',' or ']' after an array element")
            }
        }
    }

    mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        if depth > JSONParser.maxDepth {
            throw error(at: index, "more than \(JSONParser.maxDepth) nested arrays and objects")
        }
    }

    // MARK: Strings

    /// Reads a string whose opening quote is just before `index`, and the closing quote.
    mutating func string() throws(JSONParseError) -> String {
        let start = index
        openingQuote = start - 1
        var cursor = index
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                index = cursor + 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<cursor]), as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                return try escapedString(start: start, firstEscape: cursor)
            } else if byte < 0x20 {
                throw controlCharacter(at: cursor)
            } else if byte < 0x80 {
                cursor += 1
            } else {
                cursor = try endOfUTF8Sequence(at: cursor)
            }
        }
        throw unterminatedString()
    }

    /// The rest of a string from its first backslash, unescaped into `scratch`.
    mutating func escapedString(start: Int, firstEscape: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        var runStart = start
        var cursor = firstEscape
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<cursor]))
                if byte == UInt8(ascii: "\"") {
                    index = cursor + 1
                    return String(decoding: scratch, as: UTF8.self)
                }
                cursor = try unescape(at: cursor)
                runStart = cursor
            } else if byte < 0x20 {
                throw controlCharacter(at: cursor)
            } else if byte < 0x80 {
                cursor += 1
            } else {
                cursor = try endOfUTF8Sequence(at: cursor)
            }
        }
        throw unterminatedString()
    }

    /// Appends what the escape at `backslash` stands for to `scratch`; returns the index after it.
    mutating func unescape(at backslash: Int) throws(JSONParseError) -> Int {
        guard backslash + 1 < bytes.count else { throw unterminatedString() }
        let replacement: UInt8
        switch bytes[backslash + 1] {
        case UInt8(ascii: "\""): replacement = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): replacement = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): replacement = UInt8(ascii: "/")
        case UInt8(ascii: "b"): replacement = 0x08
        case UInt8(ascii: "f"): replacement = 0x0C
        case UInt8(ascii: "n"): replacement = 0x0A
        case UInt8(ascii: "r"): replacement = 0x0D
        case UInt8(ascii: "t"): replacement = 0x09
        case UInt8(ascii: "u"):
            return try unicodeEscape(at: backslash)
        case let other:
            if other >= 0x80 { _ = try endOfUTF8Sequence(at: backslash + 1) }
            if (0x21...0x7E).contains(other) || other >= 0x80 {
                throw error(at: backslash, "invalid escape '\\\(scalarText(at: backslash + 1))'")
            }
            throw error(at: backslash, "invalid escape: '\\' followed by \(describe(at: backslash + 1))")
        }
        scratch.append(replacement)
        return backslash + 2
    }

    /// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`, at `backslash`.
    mutating func unicodeEscape(at backslash: Int) throws(JSONParseError) -> Int {
        let unit = try hexQuad(at: backslash)
        var scalarValue = UInt32(unit)
        var end = backslash + 6
        switch unit {
        case 0xD800...0xDBFF:
            guard end + 1 < bytes.count, bytes[end] == UInt8(ascii: "\\"), bytes[end + 1] == UInt8(ascii: "u") else {
                throw loneSurrogate(unit, at: backslash)
            }
            let low = try hexQuad(at: end)
            guard (0xDC00...0xDFFF).contains(low) else { throw loneSurrogate(unit, at: backslash) }
            scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            end += 6
        case 0xDC00...0xDFFF:
            throw loneSurrogate(unit, at: backslash)
        default:
            break
        }
        // Not a surrogate, so always a valid scalar.
        let scalar = Unicode.Scalar(scalarValue)!
        scratch.append(contentsOf: UTF8.encode(scalar)!)
        return end
    }

    /// The four hex digits after `\u` at `backslash`.
    func hexQuad(at backslash: Int) throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for position in (backslash + 2)..<(backslash + 6) {
            guard position < bytes.count else { throw unterminatedString() }
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default:
                var shown = ""
                for position in (backslash + 2)..<min(backslash + 6, bytes.count) {
                    guard (0x21...0x7E).contains(bytes[position]), bytes[position] != UInt8(ascii: "\"") else { break }
                    shown.append(Character(Unicode.Scalar(bytes[position])))
                }
                throw error(at: backslash, "invalid escape '\\u\(shown)': expected four hex digits after \\u")
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    func loneSurrogate(_ unit: UInt16, at offset: Int) -> JSONParseError {
        let hex = String(unit, radix: 16, uppercase: true)
        if unit >= 0xDC00 {
            return error(at: offset, "lone surrogate '\\u\(hex)' in a string: a low surrogate must follow a high one")
        }
        return error(at: offset, "lone surrogate '\\u\(hex)' in a string: a high surrogate must be followed by a low one (\\uDC00–\\uDFFF)")
    }

    func unterminatedString() -> JSONParseError {
        error(at: openingQuote, "unterminated string")
    }

    func controlCharacter(at offset: Int) -> JSONParseError {
        error(at: offset, "unescaped control character \(describe(at: offset)) in a string")
    }

    /// The index after the well-formed multi-byte UTF-8 sequence starting at `offset`.
    func endOfUTF8Sequence(at offset: Int) throws(JSONParseError) -> Int {
        let lead = bytes[offset]
        let length: Int
        let minimum: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; minimum = 0x80
        case 0xE0...0xEF: length = 3; minimum = 0x800
        case 0xF0...0xF4: length = 4; minimum = 0x10000
        default: throw invalidUTF8(at: offset)
        }
        guard offset + length <= bytes.count else { throw invalidUTF8(at: offset) }
        var scalar = UInt32(lead) & (0xFF >> (length + 1))
        for position in (offset + 1)..<(offset + length) {
            let next = bytes[position]
            guard next & 0xC0 == 0x80 else { throw invalidUTF8(at: offset) }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else {
            throw invalidUTF8(at: offset)
        }
        return offset + length
    }

    func invalidUTF8(at offset: Int) -> JSONParseError {
        let hex = String(bytes[offset], radix: 16, uppercase: true)
        return error(at: offset, "invalid UTF-8 (byte 0x\(hex.count == 1 ? "0" : "")\(hex) at offset \(offset))")
    }

    // MARK: Numbers

    /// Reads a number: `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    mutating func number() throws(JSONParseError) -> Double {
        let start = index
        var cursor = index
        let negative = bytes[cursor] == UInt8(ascii: "-")
        if negative { cursor += 1 }

        // Up to 19 significant digits in `significand` (no overflow); more go to the slow path.
        var significand: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var exponent = 0

        guard cursor < bytes.count, isDigit(bytes[cursor]) else { throw invalidNumber(from: start) }
        if bytes[cursor] == UInt8(ascii: "0") {
            cursor += 1
            digits = 1
        } else {
            while cursor < bytes.count, isDigit(bytes[cursor]) {
                if digits < 19 { significand = significand &* 10 &+ UInt64(bytes[cursor] &- 48) }
                digits += 1
                cursor += 1
            }
        }
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ".") {
            cursor += 1
            guard cursor < bytes.count, isDigit(bytes[cursor]) else { throw invalidNumber(from: start) }
            while cursor < bytes.count, isDigit(bytes[cursor]) {
                if digits < 19 { significand = significand &* 10 &+ UInt64(bytes[cursor] &- 48) }
                digits += 1
                fractionDigits += 1
                cursor += 1
            }
        }
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "e") || bytes[cursor] == UInt8(ascii: "E") {
            cursor += 1
            var exponentNegative = false
            if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "+") || bytes[cursor] == UInt8(ascii: "-") {
                exponentNegative = bytes[cursor] == UInt8(ascii: "-")
                cursor += 1
            }
            guard cursor < bytes.count, isDigit(bytes[cursor]) else { throw invalidNumber(from: start) }
            while cursor < bytes.count, isDigit(bytes[cursor]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[cursor] &- 48) }
                cursor += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        if cursor < bytes.count, isNumberTailByte(bytes[cursor]) { throw invalidNumber(from: start) }
        index = cursor

        // Clinger's fast path: a significand below 2^53 and a power of ten up to 10^22 are both
        // exact doubles, so one multiplication or division rounds correctly.
        let scale = exponent - fractionDigits
        if digits <= 19, significand <= 1 << 53, (-22...22).contains(scale) {
            var value = Double(significand)
            if scale < 0 { value /= Self.powersOfTen[-scale] } else if scale > 0 { value *= Self.powersOfTen[scale] }
            return negative ? -value : value
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<cursor]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw error(at: start, "number is out of range: \(text.prefix(40))")
        }
        return value
    }

    static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// A byte that cannot follow a number but may have been meant as part of it (`01`, `1.`, `0x1F`).
    func isNumberTailByte(_ byte: UInt8) -> Bool {
        isWordByte(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
    }

    func invalidNumber(from start: Int) -> JSONParseError {
        var end = start
        while end < bytes.count, end - start < 40, isNumberTailByte(bytes[end]) { end += 1 }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        return error(at: start, "number is not valid JSON: \(text)")
    }

    // MARK: Errors

    func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    /// The letters, digits and underscores at `offset` (at most 40), or nil when there are none.
    func word(at offset: Int) -> String? {
        var end = offset
        while end < bytes.count, end - offset < 40, isWordByte(bytes[end]) { end += 1 }
        guard end > offset else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<end]), as: UTF8.self)
    }

    /// "expected <what>, found <what is at index>".
    func expected(_ what: String) -> JSONParseError {
        if index < bytes.count, bytes[index] >= 0x80, (try? endOfUTF8Sequence(at: index)) == nil {
            return invalidUTF8(at: index)
        }
        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "/"),
           bytes[index + 1] == UInt8(ascii: "/") || bytes[index + 1] == UInt8(ascii: "*") {
            return error(at: index, "expected \(what), found a comment (JSON has none)")
        }
        return error(at: index, "expected \(what), found \(describe(at: index))")
    }

    /// The character at `offset` for a message: `'x'`, `U+000A`, `'é' (U+00E9)` or "the end of the input".
    func describe(at offset: Int) -> String {
        guard offset < bytes.count else { return "the end of the input" }
        let byte = bytes[offset]
        switch byte {
        case UInt8(ascii: "'"): return "\"'\""
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        case 0x00...0x7F: return "U+" + hex4(UInt32(byte))
        default:
            guard (try? endOfUTF8Sequence(at: offset)) != nil else {
                return "an invalid UTF-8 byte (0x\(String(byte, radix: 16, uppercase: true)))"
            }
            let text = scalarText(at: offset)
            return "'\(text)' (U+\(hex4(text.unicodeScalars.first!.value)))"
        }
    }

    /// The one character (well-formed UTF-8) at `offset`.
    func scalarText(at offset: Int) -> String {
        let end = (try? endOfUTF8Sequence(at: offset)) ?? offset + 1
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<min(end, bytes.count)]), as: UTF8.self)
    }

    func hex4(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// An error at `offset`, with its line and column.
    func error(at offset: Int, _ message: String) -> JSONParseError {
        var line = 1
        var lineStart = hasByteOrderMark ? 3 : 0
        var position = lineStart
        while position < offset {
            let byte = bytes[position]
            if byte == 0x0A || (byte == 0x0D && (position + 1 == bytes.count || bytes[position + 1] != 0x0A)) {
                line += 1
                lineStart = position + 1
            }
            position += 1
        }
        var column = 1
        for position in lineStart..<max(lineStart, offset) where bytes[position] & 0xC0 != 0x80 {
            column += 1
        }
        return JSONParseError(message: message, offset: offset, line: line, column: column)
    }
}
