import Foundation
import Testing
import TeleOpsTesting
@testable import TeleOpsCore

@Suite struct JSONParserTests {
    // MARK: What is accepted and what is refused (after nst/JSONTestSuite's y_ and n_ cases)

    @Test(arguments: [
        ("[]", [] as JSONValue),
        ("{}", [:]),
        (" \t\r\n[ 1 ,\n2 ]\r\n ", [1, 2]),
        ("0", 0),
        ("-1", -1),
        (#""text""#, "text"),
        ("true", true),
        ("false", false),
        ("null", nil),
        ("[-0]", [-0.0]),
        ("[0.5]", [0.5]),
        ("[0.1]", [0.1]),
        ("[20e1]", [200]),
        ("[1E22]", [1e22]),
        ("[1e+2]", [100]),
        ("[1E-2]", [0.01]),
        ("[123e65]", [123e65]),
        ("[-123.456e-789]", [-0.0]),
        ("[1.7976931348623157e308]", [1.7976931348623157e308]),
        ("[2.2250738585072014e-308]", [2.2250738585072014e-308]),
        ("[4.9e-324]", [.number(.leastNonzeroMagnitude)]),
        ("[9007199254740993]", [9_007_199_254_740_992]),
        ("[123456789012345678901234567890]", [1.2345678901234568e29]),
        ("[0.30000000000000004441]", [0.30000000000000004]),
        (#"["\u0060\u012a\u12AB"]"#, ["\u{60}\u{12A}\u{12AB}"]),
        (#"["\uD801\udc37"]"#, ["\u{10437}"]),
        (#"["\ud83d\ude39\ud83d\udc8d"]"#, ["😹💍"]),
        (#"["\uDBFF\uDFFF"]"#, ["\u{10FFFF}"]),
        (#"["\"\\\/\b\f\n\r\t"]"#, ["\"\\/\u{8}\u{C}\n\r\t"]),
        (#"["a\u0000b"]"#, ["a\u{0}b"]),
        (#"["\u001F\uFFFF"]"#, ["\u{1F}\u{FFFF}"]),
        ("[\"€𝄞 é\u{7F}\u{2028}\"]", ["€𝄞 é\u{7F}\u{2028}"]),
        (#"[""]"#, [""]),
        (#"{"\u0061":1,"":0}"#, ["a": 1, "": 0]),
        (#"{"a":1,"a":2}"#, ["a": 2]),
        (#"{"a":{"b":[null,false,"x",{}]}}"#, ["a": ["b": [nil, false, "x", [:]]]]),
        ("[[[[]]]]", [[[[]]]]),
        ("\u{FEFF}{\"bom\":true}", ["bom": true]),
    ] as [(String, JSONValue)])
    func accepts(text: String, expected: JSONValue) throws {
        let value = try JSONParser.parse(Data(text.utf8))
        #expect(value == expected)
        if case .array(let items) = value, case .number(let number)? = items.first, number == 0 {
            #expect(number.sign == (text.hasPrefix("[-") ? .minus : .plus), "the sign of zero")
        }
    }

    @Test(arguments: [
        // Numbers
        ("[01]", "number is not valid JSON: 01"),
        ("[-01]", "number is not valid JSON: -01"),
        ("[+1]", "number is not valid JSON: +1"),
        ("[.5]", "number is not valid JSON: .5"),
        ("[1.]", "number is not valid JSON: 1."),
        ("[1.e1]", "number is not valid JSON: 1.e1"),
        ("[1e]", "number is not valid JSON: 1e"),
        ("[1e+]", "number is not valid JSON: 1e+"),
        ("[-]", "number is not valid JSON: -"),
        ("[- 1]", "number is not valid JSON: -"),
        ("[0x1F]", "number is not valid JSON: 0x1F"),
        ("[1.5.3]", "number is not valid JSON: 1.5.3"),
        ("[-Infinity]", "number is not valid JSON: -Infinity"),
        ("[NaN]", "unexpected 'NaN'; expected a value"),
        ("[Infinity]", "unexpected 'Infinity'; expected a value"),
        ("[1e400]", "number is out of range: 1e400"),
        ("[-123123e100000]", "number is out of range: -123123e100000"),
        // Strings
        (#"["abc"#, "unterminated string"),
        (#"["\"]"#, "unterminated string"),
        (#"["\x"]"#, #"invalid escape '\x'"#),
        (#"["\U0041"]"#, #"invalid escape '\U'"#),
        (#"["\u12"]"#, #"invalid escape '\u12': expected four hex digits"#),
        (#"["\uD800"]"#, #"lone surrogate '\uD800'"#),
        (#"["\uD800\u0041"]"#, #"lone surrogate '\uD800'"#),
        (#"["\uDC00\uD800"]"#, #"lone surrogate '\uDC00'"#),
        ("[\"a\tb\"]", "unescaped control character U+0009 in a string"),
        ("[\"a\nb\"]", "unescaped control character U+000A in a string"),
        ("[\"a\u{0}\"]", "unescaped control character U+0000 in a string"),
        ("['a']", "JSON strings take double quotes"),
        ("[\"\\\u{E9}\"]", "invalid escape '\\é'"),
        // Literals
        ("[tru]", "unexpected 'tru'; expected a value"),
        ("[True]", "unexpected 'True'; expected a value"),
        ("[nulll]", "unexpected 'nulll'; expected a value"),
        ("[truefalse]", "unexpected 'truefalse'; expected a value"),
        // Structure
        ("", "expected a value, found the end of the input"),
        (" \n ", "expected a value, found the end of the input"),
        ("[", "expected a value, found the end of the input"),
        ("[1", "expected ',' or ']' after an array element, found the end of the input"),
        ("{", "expected a string key or '}' after '{', found the end of the input"),
        (#"{"a":"#, "expected a value, found the end of the input"),
        ("[1,]", "a trailing comma before ']' is not allowed"),
        (#"{"a":1,}"#, "a trailing comma before '}' is not allowed"),
        ("[,1]", "expected a value, found ','"),
        ("[1,,2]", "expected a value, found ','"),
        ("[1 2]", "expected ',' or ']' after an array element, found '2'"),
        (#"{"a" 1}"#, "expected ':' after an object key, found '1'"),
        (#"{"a":1 "b":2}"#, #"expected ',' or '}' after an object member, found '"'"#),
        ("{a:1}", "expected a string key or '}' after '{', found 'a'"),
        ("{'a':1}", #"expected a string key or '}' after '{', found "'""#),
        (#"{"a":1,2:3}"#, "expected a string key after ',' in an object, found '2'"),
        (#"{"a":1,"b"}"#, "expected ':' after an object key, found '}'"),
        ("[1}", "expected ',' or ']' after an array element, found '}'"),
        ("]", "expected a value, found ']'"),
        ("[1]]", "unexpected ']' after the JSON value"),
        ("{}{}", "unexpected '{' after the JSON value"),
        ("[1] x", "unexpected 'x' after the JSON value"),
        ("[/* c */1]", "expected a value, found a comment (JSON has none)"),
        ("// c\n1", "expected a value, found a comment (JSON has none)"),
        // Whitespace JSON does not have, and a byte order mark out of place
        ("\u{C}[]", "expected a value, found U+000C"),
        ("[\u{A0}1]", "expected a value, found '\u{A0}' (U+00A0)"),
        ("[\u{FEFF}1]", "expected a value, found '\u{FEFF}' (U+FEFF)"),
        ("\u{FEFF}\u{FEFF}[]", "expected a value, found '\u{FEFF}' (U+FEFF)"),
    ])
    func refuses(text: String, message: String) {
        #expect {
            try JSONParser.parse(Data(text.utf8))
        } throws: { error in
            (error as? JSONParseError)?.message.contains(message) == true
        }
    }

    @Test(arguments: [
        ([0x22, 0xFF, 0x22], 1),                  // not UTF-8 at all
        ([0x22, 0xC0, 0x80, 0x22], 1),            // overlong NUL
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),      // a surrogate encoded in UTF-8
        ([0x22, 0x61, 0xE2, 0x82, 0x22], 2),      // a truncated sequence
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // beyond U+10FFFF
        ([0x5B, 0x31, 0x2C, 0x80, 0x5D], 3),      // a continuation byte outside a string
        ([0x22, 0x5C, 0xFF, 0x22], 2),            // after a backslash
    ] as [([UInt8], Int)])
    func refusesInvalidUTF8(bytes: [UInt8], offset: Int) {
        #expect {
            try JSONParser.parse(Data(bytes))
        } throws: { error in
            guard let error = error as? JSONParseError else { return false }
            return error.offset == offset && error.message.hasPrefix("invalid UTF-8") && error.message.contains("at offset \(offset)")
        }
    }

    // MARK: Where the error is

    @Test func errorsSayLineAndColumn() {
        let cases: [(String, Int, Int, Int, String)] = [
            ("{\n  \"a\" 1\n}", 2, 7, 8, "expected ':' after an object key, found '1'"),
            ("{\n  \"status\": \"firing\",\n  \"alerts\" [\n", 3, 12, 35, "expected ':' after an object key, found '['"),
            ("{\r\n  \"a\": 1,\r\n  \"b\": tru\r\n}", 3, 8, 21, "unexpected 'tru'; expected a value"),
            ("[\n\"déjà vu 💥\", x]", 2, 14, 20, "unexpected 'x'; expected a value"),
            ("\u{FEFF}[1,\r2,\r\n3 4]", 3, 3, 13, "expected ',' or ']' after an array element, found '4'"),
            ("{\"summary\": \"disk\n full\"}", 1, 18, 17, "unescaped control character U+000A in a string"),
            ("[\n  \"open", 2, 3, 4, "unterminated string"),
            ("[\"ab\\", 1, 2, 1, "unterminated string"),
            ("[\"\\u12", 1, 2, 1, "unterminated string"),
        ]
        for (text, line, column, offset, message) in cases {
            #expect {
                try JSONParser.parse(Data(text.utf8))
            } throws: { error in
                error as? JSONParseError == JSONParseError(message: message, offset: offset, line: line, column: column)
            }
        }
        let error = JSONParseError(message: "expected ':' after an object key, found '['", offset: 35, line: 3, column: 12)
        #expect(error.description == "line 3, column 12: expected ':' after an object key, found '['")
    }

    @Test func bodyErrorsCarryThePosition() {
        #expect {
            try JSONBody.parse(Data("{\n  \"host\": \"web-1\"\n  \"check\": \"disk\"\n}".utf8))
        } throws: { error in
            (error as? AlertDecodeError)?.description
                == "the body is not valid JSON: line 3, column 3: expected ',' or '}' after an object member, found '\"'"
        }
    }

    // MARK: Nesting

    /// As deep as allowed parses; one deeper, or a `[[[[…` bomb, is an error, not a stack overflow.
    @Test func nestingIsLimited() throws {
        let depth = JSONParser.maxDepth
        let deepest = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        _ = try JSONParser.parse(Data(deepest.utf8))
        let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        _ = try JSONParser.parse(Data(objects.utf8))

        for text in [
            String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1),
            String(repeating: "[", count: 100_000),
            String(repeating: #"{"a":["#, count: 50_000),
        ] {
            #expect {
                try JSONParser.parse(Data(text.utf8))
            } throws: { error in
                guard let error = error as? JSONParseError else { return false }
                return error.message == "more than 512 nested arrays and objects" && error.offset < 6 * depth
            }
        }
    }

    // MARK: The same values as JSONDecoder

    @Test func fixturesParseAsJSONDecoderReadsThem() throws {
        let names = try Fixtures.files(in: "alerts")
        #expect(names.count >= 10)
        for name in names {
            let data = try Fixtures.data(name)
            #expect(try JSONParser.parse(data) == JSONDecoder().decode(JSONValue.self, from: data), "\(name)")
        }
    }

    /// Random values, written by JSONEncoder (compact and pretty), read back as they were and
    /// as JSONDecoder reads them.
    @Test func randomValuesRoundTrip() throws {
        var random = SplitMix64(seed: 20_261_201)
        let encoder = JSONEncoder()
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        for round in 0..<3000 {
            let value = randomValue(depth: 0, using: &random)
            let data = try (round % 3 == 0 ? pretty : encoder).encode(value)
            let parsed = try JSONParser.parse(data)
            #expect(parsed == value, "\(String(decoding: data, as: UTF8.self))")
            #expect(parsed == (try JSONDecoder().decode(JSONValue.self, from: data)), "\(String(decoding: data, as: UTF8.self))")
        }
    }

    // MARK: Mutated fixtures

    /// Mutants of the fixtures never crash the parser; it accepts what JSONSerialization accepts
    /// except where it is stricter on purpose (`allowedDifference`), refuses what it refuses,
    /// and reads the same values as JSONSerialization or JSONDecoder.
    @Test func mutatedFixturesAgreeWithJSONSerialization() throws {
        var random = SplitMix64(seed: 7)
        let fixtures = try Fixtures.files(in: "alerts").map { try [UInt8](Fixtures.data($0)) }
        var accepted = 0
        for _ in 0..<3000 {
            var bytes = fixtures[Int(random.next() % UInt64(fixtures.count))]
            for _ in 0...(random.next() % 3) { mutate(&bytes, using: &random) }
            let data = Data(bytes)

            let ours: Result<JSONValue, JSONParseError>
            do throws(JSONParseError) { ours = .success(try JSONParser.parse(data)) } catch { ours = .failure(error) }
            let theirs = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            let text = String(decoding: bytes, as: UTF8.self)

            switch (ours, theirs) {
            case (.success(let value), let theirs?):
                accepted += 1
                // JSONSerialization keeps the last of duplicate keys, as we do; JSONDecoder keeps the
                // first but rounds long numbers correctly (JSONSerialization on Linux reads
                // 44.239437375411908 as 44.239437375411896).
                if value != Self.jsonValue(theirs) {
                    #expect(value == (try? JSONDecoder().decode(JSONValue.self, from: data)), "\(text)")
                }
            case (.success, nil):
                Issue.record("JSONSerialization refuses what we accept: \(text)")
            case (.failure(let error), _?):
                #expect(Self.allowedDifference(error), "we refuse what JSONSerialization accepts: \(error): \(text)")
            case (.failure, nil):
                break
            }
        }
        #expect(accepted > 100, "too few mutants are valid JSON to compare values")
    }

    /// Where JSONSerialization (and JSONDecoder) accept what RFC 8259 does not: trailing commas,
    /// and 0x00 bytes, which make them guess the text is UTF-16 or UTF-32.
    static func allowedDifference(_ error: JSONParseError) -> Bool {
        error.message.contains("trailing comma") || error.message.contains("U+0000")
    }

    /// What JSONSerialization read, as a JSONValue.
    static func jsonValue(_ object: Any) -> JSONValue? {
        switch object {
        case is NSNull:
            return .null
        case let number as NSNumber:
            return type(of: number) == type(of: NSNumber(value: true)) ? .bool(number.boolValue) : .number(number.doubleValue)
        case let text as String:
            return .string(text)
        case let items as [Any]:
            var values: [JSONValue] = []
            for item in items {
                guard let value = jsonValue(item) else { return nil }
                values.append(value)
            }
            return .array(values)
        case let members as [String: Any]:
            var values: [String: JSONValue] = [:]
            for (key, member) in members {
                guard let value = jsonValue(member) else { return nil }
                values[key] = value
            }
            return .object(values)
        default:
            return nil
        }
    }

    // MARK: Helpers

    private func mutate(_ bytes: inout [UInt8], using random: inout SplitMix64) {
        // Bytes that change JSON's structure more often than random ones do.
        let interesting = Array(#"{}[],:"\/-+.0123456789eEtfnu "#.utf8) + [0x00, 0x09, 0x0A, 0x7F, 0x80, 0xC3, 0xE2, 0xFF]
        func byte() -> UInt8 {
            random.next() % 2 == 0 ? interesting[Int(random.next() % UInt64(interesting.count))] : UInt8(truncatingIfNeeded: random.next())
        }
        guard !bytes.isEmpty else { bytes.append(byte()); return }
        let position = Int(random.next() % UInt64(bytes.count))
        switch random.next() % 5 {
        case 0: bytes[position] ^= 1 << (random.next() % 8)
        case 1: bytes[position] = byte()
        case 2: bytes.insert(byte(), at: position)
        case 3: bytes.remove(at: position)
        default: bytes.removeSubrange(position...)
        }
    }

    private func randomValue(depth: Int, using random: inout SplitMix64) -> JSONValue {
        switch random.next() % (depth < 4 ? 8 : 5) {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .number(randomNumber(using: &random))
        case 3, 4: return .string(randomString(using: &random))
        case 5, 6:
            return .array((0..<random.next() % 6).map { _ in randomValue(depth: depth + 1, using: &random) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<random.next() % 6 { object[randomString(using: &random)] = randomValue(depth: depth + 1, using: &random) }
            return .object(object)
        }
    }

    private func randomNumber(using random: inout SplitMix64) -> Double {
        switch random.next() % 6 {
        case 0: return Double(Int64(bitPattern: random.next()) % 1_000_000)
        case 1: return Double(Int64(bitPattern: random.next()) >> 11)  // up to 2^52, some above 1e15
        case 2: return Double(random.next() % 100_000) / 100
        case 3: return Double.random(in: -1e6...1e6, using: &random)
        case 4:
            let value = Double(bitPattern: random.next())
            return value.isFinite ? value : 1.5e300
        default:
            return [0.1, -0.0, 1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e21, 123456789.125, 2.5e-7].randomElement(using: &random)!
        }
    }

    private func randomString(using random: inout SplitMix64) -> String {
        let pieces: [String] = [
            "a", "Z", "7", " ", "disk", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "ß", "東京",
            "💥", "𝄞", "\u{2028}", "\u{FEFF}", "\u{FFFD}", "instance", "{", "]", ":", ",",
        ]
        var text = ""
        for _ in 0..<random.next() % 12 { text += pieces[Int(random.next() % UInt64(pieces.count))] }
        return text
    }
}

/// A small seeded generator, so a failing case comes back on every run.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
