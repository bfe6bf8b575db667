import Foundation
import Testing
import TeleOpsChat
import TeleOpsTesting

@Suite struct SlackSignatureTests {
    struct Vector: Sendable, CustomStringConvertible {
        var name: String
        var secret: String
        var timestamp: String
        var body: String
        var signature: String
        var description: String { name }
    }

    /// protocols.md 2.3: Slack's documented vector (a slash-command body) and a computed JSON one.
    static let vectors = [
        Vector(
            name: "Slack docs (form body)", secret: "8f742231b10e8888abcd99yyyzzz85a5", timestamp: "1531420618",
            body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
            signature: "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
        Vector(
            name: "computed (JSON body)", secret: "test-signing-secret", timestamp: "1700000000",
            body: #"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#,
            signature: "v0=911a0af9989156589b0b79ce70d19190c9c25a2ef0d3ab3162d40daf96390f51"),
    ]

    private func at(_ timestamp: String, plus seconds: Double = 0) -> Date {
        Date(timeIntervalSince1970: Double(timestamp)! + seconds)
    }

    @Test(arguments: vectors) func referenceVectorsAreAccepted(_ vector: Vector) throws {
        let signer = SlackSignature(secret: vector.secret)
        #expect(signer.signature(timestamp: vector.timestamp, body: Array(vector.body.utf8)) == vector.signature)
        try signer.verify(signature: vector.signature, timestamp: vector.timestamp, body: Array(vector.body.utf8), now: at(vector.timestamp, plus: 42))
        // Upper-case hex is the same signature.
        let upper = "v0=" + vector.signature.dropFirst(3).uppercased()
        try signer.verify(signature: upper, timestamp: vector.timestamp, body: Array(vector.body.utf8), now: at(vector.timestamp))
    }

    @Test(arguments: vectors) func theFakeSignsLikeSlack(_ vector: Vector) {
        #expect(FakeSlackSigning.signature(secret: vector.secret, timestamp: vector.timestamp, body: Array(vector.body.utf8)) == vector.signature)
    }

    @Test func theFakeAndTheTransportAgreeOnOtherBodies() {
        var generator = SplitMix64(seed: 7)
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000] {
            let body = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let secret = String(repeating: "k", count: length % 90)   // also longer than a block
            #expect(FakeSlackSigning.signature(secret: secret, timestamp: "1", body: body)
                == SlackSignature(secret: secret).signature(timestamp: "1", body: body), "length \(length)")
        }
    }

    @Test(arguments: vectors) func tamperedRequestsAreRefused(_ vector: Vector) {
        let signer = SlackSignature(secret: vector.secret)
        let body = Array(vector.body.utf8)
        let now = at(vector.timestamp)
        #expect(throws: SlackSignatureError.mismatch) {
            try signer.verify(signature: vector.signature, timestamp: vector.timestamp, body: body + [UInt8(ascii: " ")], now: now)
        }
        #expect(throws: SlackSignatureError.mismatch) {
            let other = String(Int(vector.timestamp)! + 1)
            try signer.verify(signature: vector.signature, timestamp: other, body: body, now: now)
        }
        #expect(throws: SlackSignatureError.mismatch) {
            try SlackSignature(secret: vector.secret + "x").verify(signature: vector.signature, timestamp: vector.timestamp, body: body, now: now)
        }
        var flipped = Array(vector.signature)
        flipped[flipped.count - 1] = flipped.last == "0" ? "1" : "0"
        #expect(throws: SlackSignatureError.mismatch) {
            try signer.verify(signature: String(flipped), timestamp: vector.timestamp, body: body, now: now)
        }
    }

    @Test func missingAndMalformedHeadersSayWhichHeader() {
        let signer = SlackSignature(secret: "s")
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let cases: [(String?, String?, SlackSignatureError)] = [
            ("v0=00", nil, .missingTimestamp),
            ("v0=00", "yesterday", .malformedTimestamp("yesterday")),
            (nil, "1700000000", .missingSignature),
            ("sha256=abcd", "1700000000", .malformedSignature),
            ("v0=" + String(repeating: "zz", count: 32), "1700000000", .malformedSignature),
            ("v0=abcd", "1700000000", .malformedSignature),
        ]
        for (signature, timestamp, expected) in cases {
            #expect(throws: expected) { try signer.verify(signature: signature, timestamp: timestamp, body: [], now: now) }
        }
        #expect(SlackSignatureError.missingSignature.description.contains("X-Slack-Signature"))
        #expect(SlackSignatureError.missingTimestamp.description.contains("X-Slack-Request-Timestamp"))
    }

    @Test(arguments: [-301.0, 301, 3600, -86_400]) func timestampsOutsideFiveMinutesAreRefused(_ offset: Double) throws {
        let vector = Self.vectors[0]
        let signer = SlackSignature(secret: vector.secret)
        let error = #expect(throws: SlackSignatureError.self) {
            try signer.verify(signature: vector.signature, timestamp: vector.timestamp, body: Array(vector.body.utf8),
                              now: at(vector.timestamp, plus: offset))
        }
        guard case .stale? = error else {
            Issue.record("expected stale, got \(String(describing: error))")
            return
        }
        #expect(error?.description.contains("5 minutes") == true)
    }

    @Test(arguments: [-300.0, 0, 299, 300]) func timestampsWithinFiveMinutesAreAccepted(_ offset: Double) throws {
        let vector = Self.vectors[1]
        try SlackSignature(secret: vector.secret).verify(
            signature: vector.signature, timestamp: vector.timestamp, body: Array(vector.body.utf8), now: at(vector.timestamp, plus: offset))
    }
}
