import Foundation
import TeleOpsCore
import Testing

/// `trimmed()` trims what Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)` does.
@Suite struct TrimmedTests {
    /// Every scalar either side counts as white space, and a few that do not.
    static let edges: [Unicode.Scalar] = (0...0x3000).compactMap(Unicode.Scalar.init).filter {
        CharacterSet.whitespacesAndNewlines.contains($0)
    } + ["a", "é", "\u{200B}", "\u{FEFF}", "\u{180E}", "0", "-"]

    @Test func agreesWithFoundationOnEveryWhiteSpaceScalar() {
        for scalar in Self.edges {
            for text in ["\(scalar)", "\(scalar)x", "x\(scalar)", "\(scalar)x y\(scalar)\(scalar)", "\(scalar)\(scalar)"] {
                #expect(text.trimmed() == text.trimmingCharacters(in: .whitespacesAndNewlines),
                        "U+\(String(scalar.value, radix: 16)) in \(text.debugDescription)")
            }
        }
    }

    @Test func agreesWithFoundationOnRandomText() {
        var generator = SystemRandomNumberGenerator()
        let pieces = Self.edges.map { String($0) } + ["web-1", "🙂", "e\u{301}", " ", "\t", "\r\n"]
        for _ in 0..<5_000 {
            let text = (0..<Int.random(in: 0...6, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            #expect(text.trimmed() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
            #expect(text[...].trimmed() == text.trimmed())
        }
    }
}

/// `padded(to:)` lines up columns and never cuts what does not fit.
@Suite struct PaddedTests {
    @Test func padsShortTextAndKeepsLongTextWhole() {
        #expect("ab".padded(to: 4) == "ab  ")
        #expect("abcd".padded(to: 4) == "abcd")
        #expect("#1174324".padded(to: 6) == "#1174324")
        #expect("".padded(to: 0) == "")
        // Characters, not bytes: a column of names in any script lines up.
        #expect("ümit".padded(to: 6) == "ümit  ")
    }
}
