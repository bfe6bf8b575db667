/// Telegram's `parse_mode: "HTML"`, as TDLib parses it (`td/telegram/MessageEntity.cpp`
/// `parse_html`; error texts from its `test/message_entities.cpp`): the visible text, or the
/// error detail that follows `Bad Request: can't parse entities: `.
///
/// Entities: `&lt;` `&gt;` `&amp;` `&quot;` (the `;` may be left out) and numeric `&#NN;` /
/// `&#xHH;`. Telegram keeps any other `&` as written; with `strictEntities` a `&` that starts
/// no entity is an error instead, which catches text that was not escaped.
///
/// ```swift
/// try FakeTelegramHTML.visibleText("<b>disk</b> &lt;95%&gt;")  // "disk <95%>"
/// ```
public enum FakeTelegramHTML {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// TDLib's message, e.g. `Unsupported start tag "p" at byte offset 0`.
        public var detail: String
        public var description: String { detail }
    }

    /// The tags Telegram accepts (`span` only with `class="tg-spoiler"`).
    public static let supportedTags: Set<String> = [
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "tg-spoiler", "span",
        "blockquote", "tg-emoji",
    ]

    public static func visibleText(_ html: String, strictEntities: Bool = false) throws(ParseError) -> String {
        let bytes = Array(html.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var open: [String] = []
        var index = 0

        func fail(_ detail: String) -> ParseError { ParseError(detail: detail) }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "&") {
                if let (scalar, length) = try entity(bytes, at: index) {
                    output.append(contentsOf: Array(String(Character(scalar)).utf8))
                    index += length
                } else if strictEntities {
                    throw fail("Unsupported HTML entity at byte offset \(index)")
                } else {
                    output.append(byte)
                    index += 1
                }
                continue
            }
            guard byte == UInt8(ascii: "<") else {
                output.append(byte)
                index += 1
                continue
            }
            let begin = index
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
                // End tag: `</name>` or `</>`, closing the innermost open tag.
                guard let top = open.last else { throw fail("Unexpected end tag at byte offset \(begin)") }
                index += 1
                let nameStart = index
                while index < bytes.count, bytes[index] != UInt8(ascii: ">"), !isSpace(bytes[index]) { index += 1 }
                let name = String(decoding: bytes[nameStart..<index], as: UTF8.self).lowercased()
                while index < bytes.count, isSpace(bytes[index]) { index += 1 }
                guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else {
                    throw fail("Unclosed end tag at byte offset \(begin)")
                }
                index += 1
                if !name.isEmpty, name != top {
                    throw fail("Unmatched end tag at byte offset \(begin), expected \"</\(top)>\", found \"</\(name)>\"")
                }
                open.removeLast()
                continue
            }
            // Start tag: a name, then attributes `name=value`, `name="value"` or `name='value'`.
            let nameStart = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ">"), !isSpace(bytes[index]) { index += 1 }
            guard index < bytes.count else { throw fail("Unclosed start tag at byte offset \(begin)") }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self).lowercased()
            guard supportedTags.contains(name) else { throw fail("Unsupported start tag \"\(name)\" at byte offset \(begin)") }
            var attributes: [String: String] = [:]
            while true {
                while index < bytes.count, isSpace(bytes[index]) { index += 1 }
                guard index < bytes.count else { throw fail("Unclosed start tag \"\(name)\" at byte offset \(begin)") }
                if bytes[index] == UInt8(ascii: ">") {
                    index += 1
                    break
                }
                let attributeStart = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: ">"), !isSpace(bytes[index]) {
                    index += 1
                }
                let attribute = String(decoding: bytes[attributeStart..<index], as: UTF8.self).lowercased()
                guard !attribute.isEmpty else { throw fail("Empty attribute name in the tag \"\(name)\" at byte offset \(begin)") }
                while index < bytes.count, isSpace(bytes[index]) { index += 1 }
                guard index < bytes.count else { throw fail("Unclosed start tag \"\(name)\" at byte offset \(begin)") }
                guard bytes[index] == UInt8(ascii: "=") else {
                    throw fail("Expected equal sign in declaration of an attribute of the tag \"\(name)\" at byte offset \(begin)")
                }
                index += 1
                while index < bytes.count, isSpace(bytes[index]) { index += 1 }
                guard index < bytes.count else { throw fail("Unclosed start tag \"\(name)\" at byte offset \(begin)") }
                let quote = bytes[index]
                if quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") {
                    let valueStart = index + 1
                    guard let end = bytes[valueStart...].firstIndex(of: quote) else {
                        throw fail("Unclosed start tag at byte offset \(begin)")
                    }
                    attributes[attribute] = String(decoding: bytes[valueStart..<end], as: UTF8.self)
                    index = end + 1
                } else {
                    let valueStart = index
                    while index < bytes.count, bytes[index] != UInt8(ascii: ">"), !isSpace(bytes[index]) { index += 1 }
                    guard index < bytes.count else { throw fail("Unexpected end of name token at byte offset \(valueStart)") }
                    attributes[attribute] = String(decoding: bytes[valueStart..<index], as: UTF8.self)
                }
            }
            if name == "span", attributes["class"] != "tg-spoiler" {
                throw fail("Tag \"span\" must have class \"tg-spoiler\" at byte offset \(begin)")
            }
            open.append(name)
        }
        if let unclosed = open.last { throw fail("Can't find end tag corresponding to start tag \"\(unclosed)\"") }
        return String(decoding: output, as: UTF8.self)
    }

    /// The character an entity at `start` stands for and its length in bytes, or nil when the
    /// `&` starts no entity Telegram knows.
    private static func entity(_ bytes: [UInt8], at start: Int) throws(ParseError) -> (Unicode.Scalar, Int)? {
        var index = start + 1
        if index < bytes.count, bytes[index] == UInt8(ascii: "#") {
            index += 1
            var hex = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "x") || bytes[index] == UInt8(ascii: "X") {
                hex = true
                index += 1
            }
            let digitsStart = index
            var value: UInt32 = 0
            while index < bytes.count, let digit = digitValue(bytes[index], hex: hex), index - digitsStart < 8 {
                value = value * (hex ? 16 : 10) + digit
                index += 1
            }
            guard index > digitsStart else { return nil }
            if index < bytes.count, digitValue(bytes[index], hex: hex) != nil { return nil }  // too many digits
            if index < bytes.count, bytes[index] == UInt8(ascii: ";") { index += 1 }
            if (0xD800...0xDFFF).contains(value) {
                throw ParseError(detail: "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units")
            }
            guard value > 0, let scalar = Unicode.Scalar(value) else { return nil }
            return (scalar, index - start)
        }
        let nameStart = index
        while index < bytes.count, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[index]) { index += 1 }
        let named: [String: Unicode.Scalar] = ["lt": "<", "gt": ">", "amp": "&", "quot": "\""]
        guard let scalar = named[String(decoding: bytes[nameStart..<index], as: UTF8.self)] else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ";") { index += 1 }
        return (scalar, index - start)
    }

    private static func digitValue(_ byte: UInt8, hex: Bool) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f") where hex: UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F") where hex: UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
