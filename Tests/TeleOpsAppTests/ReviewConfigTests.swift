import Foundation
import Testing
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
@testable import TeleOpsApp

/// The `review:` section of the configuration.
@Suite struct ReviewConfigTests {
    @Test func tokensComeFromTheFileAndTheList() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("review-\(UUID().uuidString).tokens").path
        try "first-token-0123456789abcdef\n\n  second-token-0123456789abcdef  \n".write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let config = try ConfigLoader.parse(yaml: """
            review:
              tokens: ["listed-token-0123456789abcdef"]
              tokens_file: \(file)
            """)
        #expect(config.http.review.tokens == [
            "listed-token-0123456789abcdef", "first-token-0123456789abcdef", "second-token-0123456789abcdef",
        ])
    }

    @Test(arguments: [
        ("review:\n  tokens: [short]", "<config>:2:12: review.tokens[0]: is too short to be a token (at least 16 characters)"),
        ("review:\n  token: abcdefghijklmnopqrstuvwxyz", "<config>:2:3: review.token: unknown key; expected one of: tokens, tokens_file"),
        ("review:\n  tokens: []", "<config>:2:3: review: names no token; give tokens_file (one token per line) or tokens"),
        ("review:\n  tokens_file: /nonexistent/review.tokens", "<config>:2:16: review.tokens_file: cannot read '/nonexistent/review.tokens'"),
        ("review: yes", "<config>:1:9: review: expected a mapping, found 'yes'"),
    ])
    func aBadReviewSectionIsNamedWithItsLine(yaml: String, message: String) {
        #expect {
            try ConfigLoader.parse(yaml: yaml)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func offLoopbackWithoutATokenTheServerStillStarts() throws {
        let sources = AlertSourceName.all.map { "  \($0): {enabled: false}" }.joined(separator: "\n")
        let config = try ConfigLoader.parse(yaml: "http:\n  host: 0.0.0.0\nsources:\n\(sources)")
        #expect(config.http.host == "0.0.0.0")
        #expect(config.http.review.tokens.isEmpty, "review stays off (403 with how to configure it); intake works")
    }
}
