import Foundation
import TeleOpsCore

/// Slack's request signing (docs.slack.dev/authentication/verifying-requests-from-slack):
/// `X-Slack-Signature: v0=` + hex HMAC-SHA256, keyed with the signing secret, of
/// `v0:<X-Slack-Request-Timestamp>:<raw body>`; requests more than five minutes from now are
/// refused, so a captured request cannot be replayed later.
///
/// The comparison is constant time (`CRYPTO_memcmp` over the 32-byte digests).
///
/// ```swift
/// let signer = SlackSignature(secret: "8f742231b10e8888abcd99yyyzzz85a5")
/// signer.signature(timestamp: "1531420618", body: body)   // "v0=a2114d57…"
/// try signer.verify(signature: header, timestamp: "1531420618", body: body, now: Date())
/// ```
public struct SlackSignature: Sendable {
    public static let signatureHeader = "X-Slack-Signature"
    public static let timestampHeader = "X-Slack-Request-Timestamp"

    private let key: [UInt8]
    public let replayWindow: Duration

    public init(secret: String, replayWindow: Duration = SlackSettings.replayWindow) {
        key = Array(secret.utf8)
        self.replayWindow = replayWindow
    }

    /// `v0=<64 lower-case hex digits>` for `body` sent at `timestamp` (epoch seconds as sent).
    public func signature(timestamp: String, body: some Collection<UInt8>) -> String {
        "v0=" + Hex.string(digest(timestamp: timestamp, body: body))
    }

    /// Checks a request's two headers against its raw body; throws what was wrong.
    public func verify(signature: String?, timestamp: String?, body: some Collection<UInt8>, now: Date) throws(SlackSignatureError) {
        guard let timestamp, !timestamp.isEmpty else { throw .missingTimestamp }
        guard let seconds = Int64(timestamp) else { throw .malformedTimestamp(timestamp) }
        let age = Int64(now.timeIntervalSince1970.rounded(.down)) - seconds
        if abs(age) > replayWindow.components.seconds { throw .stale(timestamp: timestamp, ageSeconds: age) }
        guard let signature, !signature.isEmpty else { throw .missingSignature }
        guard signature.hasPrefix("v0="), let presented = Hex.bytes(String(signature.dropFirst(3))), presented.count == 32 else {
            throw .malformedSignature
        }
        let expected = digest(timestamp: timestamp, body: body)
        guard Digest.constantTimeEqual(expected, presented) else { throw .mismatch }
    }

    private func digest(timestamp: String, body: some Collection<UInt8>) -> [UInt8] {
        var message = Array("v0:\(timestamp):".utf8)
        message.append(contentsOf: body)
        return Digest.hmacSHA256(key: key, data: message)
    }
}

/// Why a request did not pass `SlackSignature.verify`; `description` names the header.
public enum SlackSignatureError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingTimestamp
    case malformedTimestamp(String)
    /// The timestamp is further than the replay window from now (`ageSeconds` < 0: in the future).
    case stale(timestamp: String, ageSeconds: Int64)
    case missingSignature
    case malformedSignature
    case mismatch

    /// A short code for the JSON error body.
    public var code: String {
        switch self {
        case .missingTimestamp, .malformedTimestamp: "invalid_timestamp"
        case .stale: "stale_timestamp"
        case .missingSignature, .malformedSignature, .mismatch: "invalid_signature"
        }
    }

    public var description: String {
        let timestamp = SlackSignature.timestampHeader
        let signature = SlackSignature.signatureHeader
        return switch self {
        case .missingTimestamp: "the \(timestamp) header is missing"
        case .malformedTimestamp(let value): "\(timestamp) '\(value)' is not epoch seconds"
        case .stale(let value, let age):
            "\(timestamp) \(value) is \(abs(age)) s in the \(age >= 0 ? "past" : "future"); requests more than 5 minutes from now are refused as possible replays (check both clocks)"
        case .missingSignature: "the \(signature) header is missing"
        case .malformedSignature: "\(signature) is not v0= followed by 64 hex digits"
        case .mismatch: "\(signature) does not match the body: check the signing secret (Basic Information → App Credentials)"
        }
    }
}
