import TeleOpsCore
import Foundation

/// Checks the credentials a monitoring system sends, in constant time.
///
/// Secrets are compared through their SHA-256 digests with `CRYPTO_memcmp`, so neither the
/// position of the first wrong byte nor the length of the secret shows in the timing.
///
/// ```swift
/// let auth = RequestAuthenticator(settings: sources["alertmanager"]!)
/// auth.acceptsBearer(request.headers[.authorization])   // "Bearer s3cret" → true
/// ```
public struct RequestAuthenticator: Sendable {
    /// The header a generic sender signs its body in: `sha256=<64 hex digits>`.
    public static let signatureHeader = "X-TeleOps-Signature"

    private let tokenDigests: [[UInt8]]
    private let hmacSecrets: [[UInt8]]
    private let routingKeyDigests: [[UInt8]]

    public init(settings: SourceSettings) {
        tokenDigests = settings.tokens.map { Self.sha256(Array($0.utf8)) }
        hmacSecrets = settings.hmacSecrets.map { Array($0.utf8) }
        routingKeyDigests = settings.routingKeys.map { Self.sha256(Array($0.utf8)) }
    }

    public var checksBearer: Bool { !tokenDigests.isEmpty }
    public var checksSignature: Bool { !hmacSecrets.isEmpty }
    public var checksRoutingKey: Bool { !routingKeyDigests.isEmpty }

    /// True when no token is configured, or `header` is `Bearer <one of the tokens>`.
    public func acceptsBearer(_ header: String?) -> Bool {
        guard checksBearer else { return true }
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        let presented = Self.sha256(Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8))
        return Self.matchesAny(presented, tokenDigests)
    }

    /// True when no secret is configured, or `header` is `sha256=<hex>` with the HMAC-SHA256
    /// of `body` under one of the secrets.
    public func acceptsSignature(_ header: String?, body: some Collection<UInt8>) -> Bool {
        guard checksSignature else { return true }
        guard let header, header.lowercased().hasPrefix("sha256="),
              let presented = Hex.bytes(String(header.dropFirst(7))), presented.count == 32
        else { return false }
        let bytes = Array(body)
        var matched = false
        for secret in hmacSecrets {
            // Every secret is tried, so the time does not say which one matched.
            if Self.constantTimeEqual(Self.hmacSHA256(key: secret, data: bytes), presented) { matched = true }
        }
        return matched
    }

    /// True when no routing key is configured, or `key` is one of them.
    public func acceptsRoutingKey(_ key: String) -> Bool {
        guard checksRoutingKey else { return true }
        return Self.matchesAny(Self.sha256(Array(key.utf8)), routingKeyDigests)
    }

    // MARK: Primitives

    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] { Digest.hmacSHA256(key: key, data: data) }

    public static func sha256(_ data: [UInt8]) -> [UInt8] { Digest.sha256(data) }

    /// `sha256=<hex>` for `body` under `secret`: what a generic sender puts in `X-TeleOps-Signature`.
    public static func signature(secret: String, body: some Collection<UInt8>) -> String {
        "sha256=" + Hex.string(hmacSHA256(key: Array(secret.utf8), data: Array(body)))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool { Digest.constantTimeEqual(a, b) }

    private static func matchesAny(_ digest: [UInt8], _ candidates: [[UInt8]]) -> Bool {
        var matched = false
        for candidate in candidates where constantTimeEqual(digest, candidate) { matched = true }
        return matched
    }
}
