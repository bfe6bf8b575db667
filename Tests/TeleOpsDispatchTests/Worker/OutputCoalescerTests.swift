import Foundation
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

@Suite struct OutputCoalescerTests {
    struct Boundary: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var complete: Int
        var testDescription: String { name }
    }

    static let boundaries: [Boundary] = [
        Boundary(name: "empty", bytes: [], complete: 0),
        Boundary(name: "ASCII", bytes: Array("abc".utf8), complete: 3),
        Boundary(name: "whole é", bytes: Array("aé".utf8), complete: 3),
        Boundary(name: "half of é", bytes: [0x61, 0xC3], complete: 1),
        Boundary(name: "two thirds of ✓", bytes: [0x61, 0xE2, 0x9C], complete: 1),
        Boundary(name: "one third of ✓", bytes: [0xE2], complete: 0),
        Boundary(name: "whole ✓", bytes: Array("✓".utf8), complete: 3),
        Boundary(name: "three quarters of 🚀", bytes: [0x21, 0xF0, 0x9F, 0x9A], complete: 1),
        Boundary(name: "whole 🚀", bytes: Array("x🚀".utf8), complete: 5),
        Boundary(name: "stray continuation bytes", bytes: [0x61, 0x80, 0x80, 0x80, 0x80], complete: 5),
        Boundary(name: "invalid byte 0xFF", bytes: [0x61, 0xFF], complete: 2),
        Boundary(name: "invalid sequence of the right length", bytes: [0xE0, 0x80, 0x80], complete: 3),
    ]

    @Test(arguments: boundaries)
    func completePrefix(_ case_: Boundary) {
        #expect(OutputCoalescer.completePrefixLength(case_.bytes) == case_.complete)
    }

    /// Whatever the pieces and whenever chunks are taken, the chunks, decoded one by one, give
    /// exactly the text of the whole output (so none was cut inside a character), numbered 0, 1, 2, ….
    @Test(arguments: 0..<25)
    func chunksDecodeToTheWholeOutput(seed: Int) {
        var random = SeededRandom(seed: UInt64(seed) + 1)
        let alphabet = ["a", "é", "✓", "🚀", "\n", "ж", "\u{0}"].map { Array($0.utf8) }
        var whole: [UInt8] = []
        for _ in 0..<Int.random(in: 50...400, using: &random) {
            whole += Int.random(in: 0..<20, using: &random) == 0
                ? [UInt8.random(in: 0x80...0xFF, using: &random)]  // now and then a byte that is not UTF-8
                : alphabet.randomElement(using: &random)!
        }
        let start = ContinuousClock.now
        var coalescer = OutputCoalescer(taskID: "t", limit: whole.count)
        var chunks: [TaskOutput] = []
        var offset = 0
        var now = start
        while offset < whole.count {
            let size = min(whole.count - offset, Int.random(in: 1...9, using: &random))
            _ = coalescer.append(Array(whole[offset..<offset + size]), now: now)
            offset += size
            now += .milliseconds(Int.random(in: 0...60, using: &random))
            if let due = coalescer.due(now: now), due <= now, let chunk = coalescer.take(final: false, now: now) {
                chunks.append(chunk)
            }
        }
        if let last = coalescer.take(final: true, now: now) { chunks.append(last) }
        #expect(chunks.map(\.seq) == Array(0..<chunks.count))
        #expect(chunks.map(\.data).joined() == String(decoding: whole, as: UTF8.self))
        let empty = coalescer.take(final: true, now: now)
        #expect(empty == nil)
    }

    @Test func firstBytesAreDueAtOnceThenAtMostEveryInterval() throws {
        let t0 = ContinuousClock.now
        var coalescer = OutputCoalescer(taskID: "t", limit: 1 << 20)
        #expect(coalescer.due(now: t0) == nil)
        var wake = coalescer.append(Array("one\n".utf8), now: t0)
        #expect(wake, "a new deadline wakes the socket thread")
        #expect(coalescer.due(now: t0) == t0)
        var chunk = coalescer.take(final: false, now: t0)
        #expect(chunk == TaskOutput(taskID: "t", seq: 0, data: "one\n"))

        let t1 = t0 + .milliseconds(10)
        wake = coalescer.append(Array("two\n".utf8), now: t1)
        #expect(wake)
        wake = coalescer.append(Array("three\n".utf8), now: t1)
        #expect(!wake, "the deadline is already known")
        #expect(coalescer.due(now: t1) == t0 + OutputCoalescer.interval)
        let t2 = t0 + OutputCoalescer.interval
        chunk = coalescer.take(final: false, now: t2)
        #expect(chunk == TaskOutput(taskID: "t", seq: 1, data: "two\nthree\n"))

        // A flood: due at once when flushBytes are pending, however recent the last chunk.
        let t3 = t2 + .milliseconds(1)
        wake = coalescer.append([UInt8](repeating: 0x78, count: OutputCoalescer.flushBytes - 1), now: t3)
        #expect(wake)
        #expect(coalescer.due(now: t3) == t2 + OutputCoalescer.interval)
        wake = coalescer.append([0x78], now: t3)
        #expect(wake, "reaching flushBytes wakes the socket thread")
        #expect(coalescer.due(now: t3) == t3)
        chunk = coalescer.take(final: false, now: t3)
        #expect(chunk?.data.utf8.count == OutputCoalescer.flushBytes)
        #expect(chunk?.seq == 2)
    }

    @Test func anIncompleteCharacterWaitsAndIsNotDue() throws {
        let t0 = ContinuousClock.now
        var coalescer = OutputCoalescer(taskID: "t", limit: 100)
        var wake = coalescer.append([0xE2, 0x9C], now: t0)
        #expect(!wake, "nothing sendable yet: no wake-up")
        #expect(coalescer.due(now: t0) == nil, "no deadline, so the socket thread does not spin")
        var chunk = coalescer.take(final: false, now: t0)
        #expect(chunk == nil)
        wake = coalescer.append([0x93, 0x0A], now: t0)
        #expect(wake)
        chunk = coalescer.take(final: false, now: t0)
        #expect(chunk?.data == "✓\n")
        _ = coalescer.append([0xF0, 0x9F], now: t0)
        chunk = coalescer.take(final: true, now: t0)
        #expect(chunk?.data == "\u{FFFD}", "at the end, an unfinished character is sent as U+FFFD, as DONE decodes it")
    }

    @Test func neverTakesMoreThanTheLimit() throws {
        let t0 = ContinuousClock.now
        var coalescer = OutputCoalescer(taskID: "t", limit: 5)
        _ = coalescer.append(Array("abc".utf8), now: t0)
        _ = coalescer.append(Array("defgh".utf8), now: t0)
        let wake = coalescer.append(Array("ijk".utf8), now: t0)
        #expect(!wake)
        #expect(coalescer.accepted == 5)
        let chunk = coalescer.take(final: true, now: t0)
        #expect(chunk?.data == "abcde")
    }
}

/// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
struct SeededRandom: RandomNumberGenerator {
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
