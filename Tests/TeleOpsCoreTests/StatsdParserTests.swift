import Foundation
import Testing
import TeleOpsCore
import TeleOpsTesting

@Suite struct StatsdParserTests {
    /// Every sample line of `statsd-lines.txt` and what it means.
    static let fixtureSamples: [String: [StatsdSample]] = [
        "gorets:1|c": [StatsdSample(name: "gorets", value: .number(1), type: .counter)],
        "gorets:1|c|@0.1": [StatsdSample(name: "gorets", value: .number(1), type: .counter, sampleRate: 0.1)],
        "glork:320|ms|@0.1": [StatsdSample(name: "glork", value: .number(320), type: .timer, sampleRate: 0.1)],
        "gaugor:333|g": [StatsdSample(name: "gaugor", value: .number(333), type: .gauge)],
        "gaugor:-10|g": [StatsdSample(name: "gaugor", value: .delta(-10), type: .gauge)],
        "gaugor:+4|g": [StatsdSample(name: "gaugor", value: .delta(4), type: .gauge)],
        "uniques:765|s": [StatsdSample(name: "uniques", value: .member("765"), type: .set)],
        "gorets:1|c\\nglork:320|ms\\ngaugor:333|g\\nuniques:765|s": [
            StatsdSample(name: "gorets", value: .number(1), type: .counter),
            StatsdSample(name: "glork", value: .number(320), type: .timer),
            StatsdSample(name: "gaugor", value: .number(333), type: .gauge),
            StatsdSample(name: "uniques", value: .member("765"), type: .set),
        ],
        "page.views:1|c": [StatsdSample(name: "page.views", value: .number(1), type: .counter)],
        "fuel.level:0.5|g": [StatsdSample(name: "fuel.level", value: .number(0.5), type: .gauge)],
        "song.length:240|h|@0.5": [StatsdSample(name: "song.length", value: .number(240), type: .histogram, sampleRate: 0.5)],
        "users.uniques:1234|s": [StatsdSample(name: "users.uniques", value: .member("1234"), type: .set)],
        "users.online:1|c|#country:china": [
            StatsdSample(name: "users.online", value: .number(1), type: .counter, tags: ["country": "china"]),
        ],
        "users.online:1|c|@0.5|#country:china": [
            StatsdSample(name: "users.online", value: .number(1), type: .counter, sampleRate: 0.5, tags: ["country": "china"]),
        ],
        "custom_metric:60|g|#shell": [StatsdSample(name: "custom_metric", value: .number(60), type: .gauge, tags: ["shell": ""])],
    ]

    static func parse(_ text: String) -> StatsdParseResult {
        StatsdParser.parse(Data(text.utf8))
    }

    @Test func everyFixtureLineParses() throws {
        let text = String(decoding: try Fixtures.data("alerts/statsd-lines.txt"), as: UTF8.self)
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == Self.fixtureSamples.count)
        for line in lines {
            let expected = try #require(Self.fixtureSamples[String(line)], "no expectation for \(line)")
            // The docs write the multi-metric packet with literal \n separators: real newlines.
            let result = Self.parse(line.replacingOccurrences(of: "\\n", with: "\n"))
            #expect(result.errors.isEmpty, "\(line): \(result.errors)")
            #expect(result.samples == expected, "\(line)")
        }
    }

    @Test func severalSamplesPerKeyEachWithItsType() {
        let result = Self.parse("a:1|c:2|c\nt:1|ms:2|ms|@0.5|#host:web-1")
        #expect(result.errors.isEmpty)
        #expect(result.samples == [
            StatsdSample(name: "a", value: .number(1), type: .counter),
            StatsdSample(name: "a", value: .number(2), type: .counter),
            StatsdSample(name: "t", value: .number(1), type: .timer, tags: ["host": "web-1"]),
            StatsdSample(name: "t", value: .number(2), type: .timer, sampleRate: 0.5, tags: ["host": "web-1"]),
        ])
    }

    @Test func aBareKeyCountsOne() {
        let result = Self.parse("gorets\ngorets|#host:a")
        #expect(result.errors.isEmpty)
        #expect(result.samples == [
            StatsdSample(name: "gorets", value: .number(1), type: .counter),
            StatsdSample(name: "gorets", value: .number(1), type: .counter, tags: ["host": "a"]),
        ])
    }

    @Test func tagsWithAndWithoutValues() {
        let result = Self.parse("m:1|c|#a:b,flag,,c:d:e, spaced:x ")
        #expect(result.errors.isEmpty)
        #expect(result.samples.first?.tags == ["a": "b", "flag": "", "c": "d:e", "spaced": "x"])
    }

    @Test func numbersDistributionsAndLineEndings() {
        let result = Self.parse("a:.5|d\r\nb:-2|c\nc:1e3|h\nd:2.|ms\ne: 7 | c \n")
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.samples.map(\.value) == [.number(0.5), .number(-2), .number(1000), .number(2), .number(7)])
        #expect(result.samples.map(\.type) == [.distribution, .counter, .histogram, .timer, .counter])
    }

    @Test(arguments: [
        ("gorets:1", "the metric type is missing"),
        ("gorets:1|", "the metric type is empty"),
        ("gaugor:abc|g", "'abc' is not a number"),
        ("gaugor:|g", "the value is missing"),
        ("glork:-5|ms", "a timer (ms) value must not be negative"),
        ("gorets:1|c|@2", "bad sample rate '@2'"),
        ("gorets:1|c|@x", "bad sample rate '@x'"),
        ("gorets:1|c|@0", "bad sample rate '@0'"),
        ("gorets:1|c|0.5", "bad sample rate '0.5'"),
        ("gorets:1|x", "unknown metric type 'x'"),
        ("gorets:1|ms2", "unknown metric type 'ms2'"),
        (":1|c", "the metric name is empty"),
        ("gorets|c", "the metric name holds '|'"),
        ("my metric:1|c", "the metric name holds a space"),
        ("a@b:1|c", "or '@'"),
        ("gorets:1|c:", "a sample is empty"),
        ("gorets:1|c|@0.5|c:abc", "unexpected field 'c' after the sample rate"),
        ("gorets:1|c|#a:b|T1656581400", "unexpected field after the tags"),
        ("gorets:1|c|#:v", "a tag has an empty name"),
        ("gorets:1e999|c", "'1e999' is not a number"),
        ("gorets:0x10|c", "'0x10' is not a number"),
        ("gorets:1.2.3|c", "not a number"),
        ("gorets:nan|c", "not a number"),
    ])
    func badLines(line: String, message: String) throws {
        let result = Self.parse("good:1|c\n\(line)\nalso.good:2|g")
        #expect(result.samples.map(\.name) == ["good", "also.good"])
        let error = try #require(result.errors.first)
        #expect(result.errors.count == 1)
        #expect(error.line == 2)
        #expect(error.text == line)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func lengthLimits() {
        let longName = String(repeating: "n", count: StatsdParser.maxNameBytes + 1)
        let longLine = "x:" + Array(repeating: "1|c", count: StatsdParser.maxLineBytes / 4 + 1).joined(separator: ":")
        let result = Self.parse("\(longName):1|c\n\(longLine)\n\(longName.dropLast()):1|c")
        #expect(result.errors.map(\.line) == [1, 2])
        #expect(result.errors[0].message.contains("longer than \(StatsdParser.maxNameBytes) bytes"))
        #expect(result.errors[1].message.contains("longer than \(StatsdParser.maxLineBytes) bytes"))
        #expect(result.errors[1].text.count == StatsdParser.maxErrorTextLength)
        #expect(result.samples.count == 1)
    }

    @Test func lineNumbersCountEmptyLinesAndABadSampleRejectsItsLine() {
        let result = Self.parse("a:1|c\n\nb:1|c:2|x\n\r\nc:3|g\nd:4")
        #expect(result.samples.map(\.name) == ["a", "c"])
        #expect(result.errors.map(\.line) == [3, 6])
        #expect(result.rejectedLines == 2)
    }

    @Test func invalidUTF8IsABadLine() {
        var packet = Array("ok:1|c\n".utf8)
        packet += [0xFF, 0xFE] + Array(":1|c\nset:".utf8) + [0xC3] + Array("|s".utf8)
        let result = StatsdParser.parse(packet)
        #expect(result.samples.map(\.name) == ["ok"])
        #expect(result.errors.map(\.message) == ["the metric name is not valid UTF-8", "the set member is not valid UTF-8"])
    }

    @Test func onlyTheFirstErrorsAreKeptButAllAreCounted() {
        let packet = Array(repeating: "bad:1|x", count: StatsdParser.maxReportedErrors + 50).joined(separator: "\n")
        let result = Self.parse(packet)
        #expect(result.errors.count == StatsdParser.maxReportedErrors)
        #expect(result.rejectedLines == StatsdParser.maxReportedErrors + 50)
    }

    @Test func contiguousAndOtherCollectionsGiveTheSameResult() {
        let text = "a:1|c|@0.5|#host:x\nb:2|g\nbad|c"
        let bytes = Array(text.utf8)
        let fromData = StatsdParser.parse(Data(bytes))
        #expect(fromData == StatsdParser.parse(bytes))
        #expect(fromData == StatsdParser.parse(bytes.lazy.map { $0 }))
        #expect(fromData.samples.count == 2 && fromData.errors.count == 1)
    }

    /// Mutated packets (bytes replaced, inserted, removed, cut, lines spliced) never crash
    /// the parser, and whatever it accepts is well formed.
    @Test func mutatedPacketsNeverCrash() {
        var random = SplitMix64(seed: 0x5EED_57A7_5D)
        let seeds = Self.fixtureSamples.keys.map { $0.replacingOccurrences(of: "\\n", with: "\n") } + [
            "a:1|c:2|c|@0.5|#host:web-1,flag", "gorets", "t:3|ms|#a:b:c", "x:-1|g\ny:+1|g", "s:member|s|#k:v",
        ]
        let interesting = Array(":|@#,\n\r+-.e0123456789 a".utf8) + [0x00, 0xFF, 0xC3, 0x80]
        var accepted = 0
        for _ in 0..<4000 {
            var packet = Array(seeds[Int(random.next() % UInt64(seeds.count))].utf8)
            for _ in 0...(random.next() % 4) {
                let position = Int(random.next() % UInt64(packet.count + 1))
                let byte = interesting[Int(random.next() % UInt64(interesting.count))]
                switch random.next() % 5 {
                case 0 where position < packet.count: packet[position] = byte
                case 1: packet.insert(byte, at: position)
                case 2 where position < packet.count: packet.remove(at: position)
                case 3: packet = Array(packet.prefix(position))
                default: packet += Array("\n".utf8) + Array(seeds[Int(random.next() % UInt64(seeds.count))].utf8)
                }
            }
            let result = StatsdParser.parse(packet)
            let lineCount = packet.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            accepted += result.samples.count
            for sample in result.samples {
                #expect(!sample.name.isEmpty && sample.name.utf8.count <= StatsdParser.maxNameBytes)
                #expect(sample.sampleRate > 0 && sample.sampleRate <= 1)
                switch sample.value {
                case .number(let value), .delta(let value):
                    #expect(value.isFinite)
                    if sample.type == .timer { #expect(value >= 0) }
                case .member(let member):
                    #expect(sample.type == .set && !member.isEmpty)
                }
            }
            for error in result.errors {
                #expect(error.line >= 1 && error.line <= lineCount)
                #expect(error.text.count <= StatsdParser.maxErrorTextLength)
            }
        }
        #expect(accepted > 1000)
    }
}
