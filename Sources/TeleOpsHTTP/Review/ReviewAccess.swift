import Foundation
import TeleOpsCore

/// Who may read the scenario log over HTTP (`review:` in the configuration).
///
/// Configured tokens are always required, wherever the server listens (so that a reverse
/// proxy on the same host does not open the log to everyone). Without tokens, reading is open
/// on a loopback bind and refused on any other, while alert intake keeps working.
///
/// ```swift
/// var settings = HTTPSettings(host: "0.0.0.0")
/// settings.review.tokens = ["5d1f0c8e6a2b4f7e9c3a1d0b"]   // Authorization: Bearer 5d1f…
/// ```
public struct ReviewSettings: Sendable, Equatable {
    /// Accepted `Authorization: Bearer …` tokens; more than one while a token is rotated.
    public var tokens: [String] = []

    public init(tokens: [String] = []) {
        self.tokens = tokens
    }
}

/// Decides whether a request may read the scenario log, comparing credentials in constant time.
///
/// A browser signs in once with a token (`POST /scenarios/login`) and then carries a session
/// cookie: an HMAC-SHA256 of a fixed label under the token, so the token itself never sits in
/// the browser, and removing a token from the configuration signs out every browser that used it.
struct ReviewAccess: Sendable {
    /// The session cookie's name.
    static let cookieName = "teleops_review"
    /// How long a browser stays signed in: one on-call shift.
    static let cookieMaxAge = 12 * 3600
    private static let sessionLabel = Array("teleops review session v1".utf8)

    enum Decision: Equatable {
        case allowed
        /// Tokens are configured and the request carried none.
        case missingCredentials
        /// Tokens are configured and the request's token or cookie matches none of them.
        case wrongCredentials
        /// Off loopback with no token configured: nobody may read.
        case notConfigured
    }

    /// The address the server listens on, for the messages.
    let bindHost: String
    private let tokenDigests: [[UInt8]]
    private let sessionValues: [[UInt8]]
    private let openOnLoopback: Bool

    init(settings: ReviewSettings, bindHost: String) {
        self.bindHost = bindHost
        tokenDigests = settings.tokens.map { Digest.sha256(Array($0.utf8)) }
        sessionValues = settings.tokens.map { Array(Self.sessionValue(token: $0).utf8) }
        openOnLoopback = settings.tokens.isEmpty && Self.isLoopback(bindHost)
    }

    /// Whether any token is configured (the pages then offer a sign-in form).
    var requiresToken: Bool { !tokenDigests.isEmpty }

    /// Whether nobody can be let in: off loopback without a token.
    var isUnconfigured: Bool { tokenDigests.isEmpty && !openOnLoopback }

    /// `authorization` is the `Authorization` header; `cookie` the session cookie's value.
    func decide(authorization: String?, cookie: String?) -> Decision {
        if openOnLoopback { return .allowed }
        if tokenDigests.isEmpty { return .notConfigured }
        if authorization == nil && cookie == nil { return .missingCredentials }
        if let authorization, let token = Self.bearerToken(authorization), accepts(token: token) { return .allowed }
        if let cookie, Self.matchesAny(Array(cookie.utf8), sessionValues) { return .allowed }
        return .wrongCredentials
    }

    /// Whether `token` is one of the configured tokens.
    func accepts(token: String) -> Bool {
        Self.matchesAny(Digest.sha256(Array(token.utf8)), tokenDigests)
    }

    /// The session cookie value for a browser that signed in with `token` (64 hex digits).
    static func sessionValue(token: String) -> String {
        Hex.string(Digest.hmacSHA256(key: Array(token.utf8), data: sessionLabel))
    }

    /// What to tell someone who cannot read because no token is configured off loopback.
    var notConfiguredMessage: String {
        "scenario review is off: this server listens on '\(bindHost)', which is not a loopback address, and no review "
            + "token is configured; set review.tokens_file (or review.tokens) in the configuration and restart "
            + "(docs/review.md), or listen on 127.0.0.1"
    }

    /// `localhost`, `::1` or 127.x.x.x.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    private static func bearerToken(_ header: String) -> String? {
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        return header.dropFirst(7).trimmingCharacters(in: .whitespaces)
    }

    /// Every candidate is compared, so the time does not say which one matched.
    private static func matchesAny(_ presented: [UInt8], _ candidates: [[UInt8]]) -> Bool {
        var matched = false
        for candidate in candidates where Digest.constantTimeEqual(presented, candidate) { matched = true }
        return matched
    }
}
