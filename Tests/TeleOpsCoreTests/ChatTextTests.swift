import Foundation
import Testing
@testable import TeleOpsCore
import TeleOpsTesting

@Suite struct ChatTextTests {
    @Test func shortTextIsOnePart() {
        #expect(ChatText.split("hello", limit: 10, maxParts: 3, pointer: "p") == ["hello"])
        #expect(ChatText.split("", limit: 10, maxParts: 3, pointer: "p") == [""])
    }

    @Test func splitsAtLineBreaksThenSpacesThenCharacters() {
        #expect(ChatText.split("aaaa\nbbbb\ncccc", limit: 10, maxParts: 5, pointer: "p") == ["aaaa\nbbbb", "cccc"])
        #expect(ChatText.split("aaaa bbbb cccc", limit: 10, maxParts: 5, pointer: "p") == ["aaaa bbbb ", "cccc"])
        #expect(ChatText.split("abcdefghijkl", limit: 5, maxParts: 5, pointer: "p") == ["abcde", "fghij", "kl"])
    }

    @Test func countsUTF16AndNeverBreaksACharacter() {
        let text = String(repeating: "🔥", count: 5)  // 2 UTF-16 units each
        let parts = ChatText.split(text, limit: 3, maxParts: 10, pointer: "p")
        #expect(parts == Array(repeating: "🔥", count: 5))
        #expect(ChatText.length("é🔥") == 3)
    }

    @Test func pastMaxPartsTheLastIsTrimmedWithThePointer() {
        let text = (1...20).map { "line \($0)" }.joined(separator: "\n")
        let parts = ChatText.split(text, limit: 30, maxParts: 2, pointer: "see #4")
        #expect(parts.count == 2)
        #expect(parts.allSatisfy { ChatText.length($0) <= 30 })
        #expect(parts[1].hasSuffix("\n… see #4"))
        #expect(ChatText.trim("short", limit: 30, pointer: "x") == "short")
        #expect(ChatText.trim(String(repeating: "a", count: 50), limit: 8, pointer: "a long pointer") == "\n… a lon")
    }

    @Test func randomTextIsSplitWithoutLossOrOverflow() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab c\n🔥é")
        for _ in 0..<300 {
            let text = String((0..<Int.random(in: 0...400, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let limit = Int.random(in: 2...60, using: &generator)
            let parts = ChatText.split(text, limit: limit, maxParts: 1000, pointer: "p")
            #expect(parts.allSatisfy { ChatText.length($0) <= limit }, "limit \(limit): \(parts)")
            let kept = parts.joined().filter { $0 != "\n" }
            #expect(kept == text.filter { $0 != "\n" }, "only line breaks at cuts may go")
        }
    }
}

@Suite struct ChatDurationAndGlobTests {
    @Test func durationsAsTyped() {
        #expect(ChatDuration.parse("90s") == .seconds(90))
        #expect(ChatDuration.parse("2h30m") == .seconds(9000))
        #expect(ChatDuration.parse(" 1D ") == .seconds(86_400))
        for bad in ["", "1", "h", "1x", "30m2h", "1h1h", "-1h", "0m", "1.5h"] {
            #expect(ChatDuration.parse(bad) == nil, "\(bad)")
        }
        #expect(ChatDuration.format(.seconds(9000)) == "2h30m")
        #expect(ChatDuration.format(.seconds(86_401)) == "1d1s")
    }

    @Test func globs() {
        #expect(Glob.matches("*disk*", "Disk_Usage"))
        #expect(Glob.matches("*", ""))
        #expect(Glob.matches("cpu", "CPU"))
        #expect(!Glob.matches("cpu", "cpu0"))
        #expect(Glob.matches("a*b*c", "axxbyyc"))
        #expect(!Glob.matches("a*b*c", "axxcyyb"))
        #expect(!Glob.matches("ab*ba", "aba"))
        #expect(Glob.matches("*ÜBER*", "Last über 90%"))
        #expect(!Glob.matches("*é", "cafe"))
    }

    /// The byte matcher against a plain reference (split at `*`, first part a prefix, last a
    /// suffix, the ones between in order), on random patterns and names over a small alphabet
    /// with non-ASCII letters.
    @Test func globsAgreeWithAReference() {
        func reference(_ pattern: String, _ text: String) -> Bool {
            let parts = pattern.lowercased().split(separator: "*", omittingEmptySubsequences: false).map(Array.init)
            var rest = Array(text.lowercased())
            guard rest.starts(with: parts[0]) else { return false }
            rest.removeFirst(parts[0].count)
            if parts.count == 1 { return rest.isEmpty }
            for part in parts.dropFirst().dropLast() where !part.isEmpty {
                guard let start = rest.indices.first(where: { rest[$0...].starts(with: part) }) else { return false }
                rest.removeFirst(start + part.count)
            }
            let last = parts[parts.count - 1]
            return rest.count >= last.count && Array(rest.suffix(last.count)) == last
        }
        var random = SplitMix64(seed: 22)
        let alphabet: [Character] = ["a", "b", "A", "é", "É", "ß", "-", "*"]
        func word(_ length: Int, stars: Bool) -> String {
            String((0..<length).map { _ in alphabet[Int(random.next() % UInt64(stars ? 8 : 7))] })
        }
        for _ in 0..<20_000 {
            let pattern = word(Int(random.next() % 6), stars: true)
            let text = word(Int(random.next() % 8), stars: false)
            #expect(Glob.matches(pattern, text) == reference(pattern, text), "\(pattern) against \(text)")
        }
    }

    @Test func theMostSpecificSuggestionWins() {
        let catalogue = ActionCatalogue.defaults
        #expect(catalogue.suggested(for: "disk_root")?.name == "disk")
        #expect(catalogue.suggested(for: "CPU load")?.name == "load")
        #expect(catalogue.suggested(for: "http_5xx")?.name == "uptime")
    }
}

@Suite struct RatePacerTests {
    @Test func aBucketAllowsItsBurstThenPaces() async throws {
        let pacer = RatePacer([ChatRate(3, per: .milliseconds(300))])
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<3 { try await pacer.acquire() }
        #expect(clock.now - start < .milliseconds(90), "the burst is immediate")
        try await pacer.acquire()
        #expect(clock.now - start >= .milliseconds(95), "the fourth waits for a refill (100 ms)")
        pacer.drain()
        let drained = clock.now
        try await pacer.acquire()
        #expect(clock.now - drained >= .milliseconds(95), "after a 429 the bucket starts empty")
    }

    @Test func noLimitsNeverWait() async throws {
        let pacer = RatePacer([])
        for _ in 0..<1000 { try await pacer.acquire() }
    }
}
