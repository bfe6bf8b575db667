/// A statsd metric type: the field after the value (`gorets:1|c`).
///
/// `h` (DogStatsD histogram) and `d` (distribution) are kept apart from `ms` only so labels can
/// say what was sent; the engine treats all three as timers.
public enum StatsdMetricType: String, Sendable, CaseIterable {
    case counter = "c"
    case gauge = "g"
    case timer = "ms"
    case histogram = "h"
    case set = "s"
    case distribution = "d"
}

/// The value of one statsd sample.
public enum StatsdValue: Sendable, Hashable {
    /// A counter increment, timer/histogram/distribution value, or gauge value to set.
    case number(Double)
    /// A signed gauge value (`+4`, `-10`): added to the gauge if it exists, else set (as in Etsy statsd).
    case delta(Double)
    /// A set member: any text.
    case member(String)
}

/// One sample of one statsd line: `users.online:1|c|@0.5|#country:china` gives
/// name `users.online`, value 1, type counter, rate 0.5, tags `["country": "china"]`.
///
/// Flag tags (`#shell`) have the value `""`.
public struct StatsdSample: Sendable, Hashable {
    public var name: String
    public var value: StatsdValue
    public var type: StatsdMetricType
    /// In (0, 1]; 1 when the line gives none.
    public var sampleRate: Double
    public var tags: [String: String]

    public init(name: String, value: StatsdValue, type: StatsdMetricType, sampleRate: Double = 1, tags: [String: String] = [:]) {
        self.name = name
        self.value = value
        self.type = type
        self.sampleRate = sampleRate
        self.tags = tags
    }
}

/// A line that could not be read: its 1-based number in the packet, its text (cut to
/// `StatsdParser.maxErrorTextLength` characters) and what is wrong with it.
public struct StatsdLineError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var text: String
    public var message: String

    public init(line: Int, text: String, message: String) {
        self.line = line
        self.text = text
        self.message = message
    }

    public var description: String { "line \(line): \(message) in '\(text)'" }
}

/// What one packet or body held: the samples of every good line, and the bad lines.
public struct StatsdParseResult: Sendable, Equatable {
    public var samples: [StatsdSample] = []
    /// The first `StatsdParser.maxReportedErrors` bad lines.
    public var errors: [StatsdLineError] = []
    /// Every bad line, including those not kept in `errors`.
    public var rejectedLines = 0

    public init(samples: [StatsdSample] = [], errors: [StatsdLineError] = [], rejectedLines: Int = 0) {
        self.samples = samples
        self.errors = errors
        self.rejectedLines = rejectedLines
    }
}

/// Reads the statsd line protocol, with the DogStatsD tag suffix.
///
/// ```swift
/// let result = StatsdParser.parse(Data("gorets:1|c|@0.1\nglork:320|ms|#host:web-1\n".utf8))
/// result.samples.count  // 2
/// ```
///
/// The rules are those of the Etsy reference server (`stats.js`), with a few deliberate
/// differences:
/// - The packet is split on `\n` (a `\r` before it is dropped too); empty lines are skipped.
/// - The tag suffix is split off at the first `|#`; tags are split on `,`, `k:v` becomes
///   `k` = `v` (split at the first `:`), a bare `flag` becomes `flag` = `""`.
/// - The rest is split on `:`: the first part is the name, each further part is a sample
///   `value|type[|@rate]`, so `key:1|c:2|c` is two counter samples.
/// - A bare key (`gorets`) counts as the counter increment `gorets:1|c`. (Etsy pushes the
///   value `1` but then finds no type and drops the line; the documented intent is a count.)
/// - Types are `c`, `g`, `ms`, `h`, `s`, `d`. Etsy counts any other type as a counter; here
///   an unknown type is a bad line, because a typo would otherwise turn into silent counts.
/// - `g` takes a signed number (a sign makes it a delta), `ms` a number ≥ 0, `s` any text,
///   the others any number. Numbers are decimal (`12`, `-0.5`, `.5`, `1e3`) and finite;
///   Etsy's JavaScript `isNaN` test would also take `0x10` or `Infinity`.
/// - A sample rate is `@` and a number in (0, 1]; Etsy takes any `@<digits and dots>`.
/// - Fields after the rate are bad lines, not ignored: DogStatsD's newer `|c:` (container)
///   and `|T` (timestamp) fields, events (`_e{…}`) and service checks (`_sc|…`) are not
///   supported. Neither is DogStatsD's `name:v1:v2|d`: every `:`-part needs its own type.
/// - A line is good or bad as a whole: one bad sample rejects every sample of its line,
///   while the other lines of the packet still count.
public enum StatsdParser {
    /// Longest accepted line, in bytes.
    public static let maxLineBytes = 8192
    /// Longest accepted metric name, in bytes.
    public static let maxNameBytes = 255
    /// Bad lines kept in `StatsdParseResult.errors`; the rest are only counted.
    public static let maxReportedErrors = 100
    /// A bad line's text in an error is cut to this many characters.
    public static let maxErrorTextLength = 200

    public static func parse(_ bytes: some Collection<UInt8>) -> StatsdParseResult {
        if let result = bytes.withContiguousStorageIfAvailable({ parse(buffer: $0) }) { return result }
        return Array(bytes).withUnsafeBufferPointer { parse(buffer: $0) }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) -> StatsdParseResult {
        var result = StatsdParseResult()
        var lineNumber = 0
        var start = 0
        while start < buffer.count {
            lineNumber += 1
            var stop = start
            while stop < buffer.count, buffer[stop] != Byte.newline { stop += 1 }
            var end = stop
            if end > start, buffer[end - 1] == Byte.carriageReturn { end -= 1 }
            if end > start {
                let line = Line(bytes: buffer, range: start..<end)
                let mark = result.samples.count
                do {
                    try line.read(into: &result.samples)
                } catch {
                    result.samples.removeSubrange(mark...)
                    result.rejectedLines += 1
                    if result.errors.count < maxReportedErrors {
                        result.errors.append(StatsdLineError(line: lineNumber, text: line.excerpt, message: error.message))
                    }
                }
            }
            start = stop + 1
        }
        return result
    }
}

private enum Byte {
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let colon = UInt8(ascii: ":")
    static let pipe = UInt8(ascii: "|")
    static let hash = UInt8(ascii: "#")
    static let at = UInt8(ascii: "@")
    static let comma = UInt8(ascii: ",")
    static let plus = UInt8(ascii: "+")
    static let minus = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

private struct LineProblem: Error {
    var message: String
}

/// One non-empty line of a packet, as a range of the packet's bytes.
private struct Line {
    let bytes: UnsafeBufferPointer<UInt8>
    let range: Range<Int>

    /// The line as text for an error message, cut to `maxErrorTextLength` characters.
    var excerpt: String {
        // Four bytes per character at most: decode no more than can be shown.
        let shown = range.lowerBound..<min(range.upperBound, range.lowerBound + StatsdParser.maxErrorTextLength * 4)
        return String(text(shown).prefix(StatsdParser.maxErrorTextLength))
    }

    func read(into samples: inout [StatsdSample]) throws(LineProblem) {
        guard range.count <= StatsdParser.maxLineBytes else {
            throw LineProblem(message: "the line is longer than \(StatsdParser.maxLineBytes) bytes")
        }
        var bodyEnd = range.upperBound
        var tags: [String: String] = [:]
        if let marker = firstTagMarker() {
            bodyEnd = marker
            tags = try readTags(marker + 2..<range.upperBound)
        }
        let colon = firstIndex(of: Byte.colon, in: range.lowerBound..<bodyEnd)
        let name = try readName(range.lowerBound..<(colon ?? bodyEnd))
        guard let colon else {
            samples.append(StatsdSample(name: name, value: .number(1), type: .counter, tags: tags))
            return
        }
        var partStart = colon + 1
        while true {
            let partEnd = firstIndex(of: Byte.colon, in: partStart..<bodyEnd) ?? bodyEnd
            samples.append(try readSample(partStart..<partEnd, name: name, tags: tags))
            guard partEnd < bodyEnd else { return }
            partStart = partEnd + 1
        }
    }

    // MARK: Parts

    private func readName(_ part: Range<Int>) throws(LineProblem) -> String {
        guard !part.isEmpty else { throw LineProblem(message: "the metric name is empty") }
        guard part.count <= StatsdParser.maxNameBytes else {
            throw LineProblem(message: "the metric name is longer than \(StatsdParser.maxNameBytes) bytes")
        }
        for index in part {
            let byte = bytes[index]
            if byte == Byte.pipe {
                throw LineProblem(message: "the metric name holds '|'; expected name:value|type")
            }
            if byte == Byte.at || byte <= Byte.space || byte == 0x7F {
                throw LineProblem(message: "the metric name holds a space, control character or '@'")
            }
        }
        return try validText(part, what: "the metric name")
    }

    /// `value|type[|@rate]`.
    private func readSample(_ part: Range<Int>, name: String, tags: [String: String]) throws(LineProblem) -> StatsdSample {
        let valueEnd = firstIndex(of: Byte.pipe, in: part)
        let valueText = trimmed(part.lowerBound..<(valueEnd ?? part.upperBound))
        guard let valueEnd else {
            throw LineProblem(message: valueText.isEmpty ? "a sample is empty; expected value|type" : "the metric type is missing; expected value|type")
        }
        let typeEnd = firstIndex(of: Byte.pipe, in: valueEnd + 1..<part.upperBound) ?? part.upperBound
        let typeText = trimmed(valueEnd + 1..<typeEnd)
        guard let type = metricType(typeText) else {
            let found = typeText.isEmpty ? "the metric type is empty" : "unknown metric type '\(text(typeText))'"
            throw LineProblem(message: "\(found); expected one of: c, g, ms, h, s, d")
        }
        var rate = 1.0
        if typeEnd < part.upperBound {
            let rateEnd = firstIndex(of: Byte.pipe, in: typeEnd + 1..<part.upperBound) ?? part.upperBound
            if rateEnd < part.upperBound {
                throw LineProblem(message: "unexpected field '\(text(rateEnd + 1..<part.upperBound))' after the sample rate; DogStatsD |c: and |T fields are not supported")
            }
            rate = try readRate(trimmed(typeEnd + 1..<rateEnd))
        }
        guard !valueText.isEmpty else { throw LineProblem(message: "the value is missing") }
        let value: StatsdValue
        switch type {
        case .set:
            value = .member(try validText(valueText, what: "the set member"))
        case .gauge:
            let number = try readNumber(valueText)
            let signed = bytes[valueText.lowerBound] == Byte.plus || bytes[valueText.lowerBound] == Byte.minus
            value = signed ? .delta(number) : .number(number)
        case .timer:
            let number = try readNumber(valueText)
            guard number >= 0 else { throw LineProblem(message: "a timer (ms) value must not be negative, found \(text(valueText))") }
            value = .number(number)
        case .counter, .histogram, .distribution:
            value = .number(try readNumber(valueText))
        }
        return StatsdSample(name: name, value: value, type: type, sampleRate: rate, tags: tags)
    }

    private func readRate(_ field: Range<Int>) throws(LineProblem) -> Double {
        let problem = LineProblem(message: "bad sample rate '\(text(field))'; expected @ and a number greater than 0 and at most 1, such as @0.1")
        guard field.count > 1, bytes[field.lowerBound] == Byte.at,
              let rate = number(field.lowerBound + 1..<field.upperBound), rate > 0, rate <= 1
        else { throw problem }
        return rate
    }

    /// `k:v,flag,...` up to the end of the line.
    private func readTags(_ part: Range<Int>) throws(LineProblem) -> [String: String] {
        if firstIndex(of: Byte.pipe, in: part) != nil {
            throw LineProblem(message: "unexpected field after the tags; DogStatsD |c: and |T fields are not supported")
        }
        var tags: [String: String] = [:]
        var start = part.lowerBound
        while start <= part.upperBound {
            let end = firstIndex(of: Byte.comma, in: start..<part.upperBound) ?? part.upperBound
            let tag = trimmed(start..<end)
            if !tag.isEmpty {
                let colon = firstIndex(of: Byte.colon, in: tag)
                let key = tag.lowerBound..<(colon ?? tag.upperBound)
                guard !key.isEmpty else { throw LineProblem(message: "a tag has an empty name") }
                var value = ""
                if let colon { value = try validText(colon + 1..<tag.upperBound, what: "a tag") }
                tags[try validText(key, what: "a tag")] = value
            }
            start = end + 1
        }
        return tags
    }

    private func readNumber(_ field: Range<Int>) throws(LineProblem) -> Double {
        guard let value = number(field) else {
            throw LineProblem(message: "'\(text(field))' is not a number")
        }
        return value
    }

    // MARK: Bytes

    /// A finite decimal number: `[+-]digits[.digits][e[+-]digits]`, or `.5`.
    private func number(_ field: Range<Int>) -> Double? {
        var index = field.lowerBound
        let end = field.upperBound
        if index < end, bytes[index] == Byte.plus || bytes[index] == Byte.minus { index += 1 }
        var digits = 0
        while index < end, Byte.isDigit(bytes[index]) { index += 1; digits += 1 }
        if index < end, bytes[index] == Byte.dot {
            index += 1
            while index < end, Byte.isDigit(bytes[index]) { index += 1; digits += 1 }
        }
        guard digits > 0 else { return nil }
        if index < end, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < end, bytes[index] == Byte.plus || bytes[index] == Byte.minus { index += 1 }
            var exponentDigits = 0
            while index < end, Byte.isDigit(bytes[index]) { index += 1; exponentDigits += 1 }
            guard exponentDigits > 0 else { return nil }
        }
        guard index == end, let value = Double(text(field)), value.isFinite else { return nil }
        return value
    }

    private func metricType(_ field: Range<Int>) -> StatsdMetricType? {
        switch field.count {
        case 1:
            switch bytes[field.lowerBound] {
            case UInt8(ascii: "c"): .counter
            case UInt8(ascii: "g"): .gauge
            case UInt8(ascii: "h"): .histogram
            case UInt8(ascii: "s"): .set
            case UInt8(ascii: "d"): .distribution
            default: nil
            }
        case 2:
            bytes[field.lowerBound] == UInt8(ascii: "m") && bytes[field.lowerBound + 1] == UInt8(ascii: "s") ? .timer : nil
        default:
            nil
        }
    }

    private func firstTagMarker() -> Int? {
        var index = range.lowerBound
        while index + 1 < range.upperBound {
            if bytes[index] == Byte.pipe, bytes[index + 1] == Byte.hash { return index }
            index += 1
        }
        return nil
    }

    private func firstIndex(of byte: UInt8, in part: Range<Int>) -> Int? {
        var index = part.lowerBound
        while index < part.upperBound {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// `part` without surrounding spaces and tabs.
    private func trimmed(_ part: Range<Int>) -> Range<Int> {
        var lower = part.lowerBound
        var upper = part.upperBound
        while lower < upper, bytes[lower] == Byte.space || bytes[lower] == Byte.tab { lower += 1 }
        while upper > lower, bytes[upper - 1] == Byte.space || bytes[upper - 1] == Byte.tab { upper -= 1 }
        return lower..<upper
    }

    private func text(_ part: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[part]), as: UTF8.self)
    }

    private func validText(_ part: Range<Int>, what: String) throws(LineProblem) -> String {
        guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[part]), as: UTF8.self) else {
            throw LineProblem(message: "\(what) is not valid UTF-8")
        }
        return text
    }
}
