import CCrypto
import Foundation

/// A `ws://` or `wss://` URL taken apart for the upgrade: what libcurl connects to, what the
/// request line and `Host` header carry, and what errors may show.
struct WebSocketTarget: Sendable {
    /// `https://authority/` or `http://authority/`: libcurl only connects (CONNECT_ONLY), so
    /// neither the path nor the query (which may hold a secret) is handed to it.
    var connectURL: String
    /// The request target: path and query.
    var requestTarget: String
    /// The authority without user information.
    var host: String
    /// The URL without its query string and fragment.
    var redacted: String
    /// The query string (without `?`), to scrub from error messages; empty when none.
    var query: String

    init(_ url: String) throws(WebSocketError) {
        let withoutFragment = url.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? url
        let parts = withoutFragment.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        redacted = String(parts[0])
        query = parts.count > 1 ? String(parts[1]) : ""
        guard let schemeEnd = redacted.range(of: "://") else {
            throw WebSocketError(url: redacted, message: "not a ws:// or wss:// URL")
        }
        let scheme = redacted[..<schemeEnd.lowerBound].lowercased()
        let httpScheme: String
        switch scheme {
        case "ws": httpScheme = "http"
        case "wss": httpScheme = "https"
        default: throw WebSocketError(url: redacted, message: "unsupported scheme \(scheme)://, expected ws:// or wss://")
        }
        let rest = redacted[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard !authority.isEmpty else { throw WebSocketError(url: redacted, message: "URL without a host") }
        guard !authority.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw WebSocketError(url: redacted, message: "host contains white space")
        }
        let path = rest[authorityEnd...]
        guard !path.contains(where: { $0 == " " || $0.isNewline }), !query.contains(where: { $0 == " " || $0.isNewline }) else {
            throw WebSocketError(url: redacted, message: "path or query contains white space")
        }
        host = String(authority)
        connectURL = "\(httpScheme)://\(authority)/"
        requestTarget = (path.isEmpty ? "/" : String(path)) + (parts.count > 1 ? "?\(query)" : "")
    }

    /// `message` with the query string replaced, in case a lower layer quoted it.
    func scrub(_ message: String) -> String {
        query.isEmpty ? message : message.replacingOccurrences(of: query, with: "…")
    }
}

enum WebSocketHandshake {
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// Headers the upgrade sets itself; caller-supplied ones of these names are ignored.
    static let reservedHeaders: Set<String> = ["host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version"]

    /// 16 random bytes, base64 (§4.1).
    static func makeKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
    }

    /// base64(SHA-1(key + GUID)), what the server must answer in `Sec-WebSocket-Accept`.
    static func accept(for key: String) -> String {
        let input = Array((key + guid).utf8)
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var size: UInt32 = 0
        let ok = EVP_Digest(input, input.count, &digest, &size, EVP_sha1(), nil)
        precondition(ok == 1 && size == 20, "SHA-1 from libcrypto failed")
        return Data(digest[0..<20]).base64EncodedString()
    }

    static func request(target: WebSocketTarget, key: String, headers: [String: String]) throws(WebSocketError) -> [UInt8] {
        var text = "GET \(target.requestTarget) HTTP/1.1\r\n"
        text += "Host: \(target.host)\r\n"
        text += "Upgrade: websocket\r\n"
        text += "Connection: Upgrade\r\n"
        text += "Sec-WebSocket-Key: \(key)\r\n"
        text += "Sec-WebSocket-Version: 13\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            guard !reservedHeaders.contains(name.lowercased()) else { continue }
            guard !name.isEmpty, !name.contains(where: { $0 == ":" || $0.isWhitespace || $0.isNewline }),
                  !value.contains(where: \.isNewline) else {
                throw WebSocketError(url: target.redacted, message: "invalid request header \(name.debugDescription)")
            }
            text += "\(name): \(value)\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// The status line and headers of the server's answer.
    struct ResponseHead {
        var status: Int
        var reason: String
        /// Lower-cased names; repeated headers joined with ", ".
        var headers: [String: String]
        /// Bytes of the head including the blank line.
        var length: Int
    }

    enum HeadParse {
        case incomplete
        case malformed
        case head(ResponseHead)
    }

    /// Parses the head once `bytes` holds it all.
    static func parseHead(_ bytes: [UInt8]) -> HeadParse {
        guard let end = headEnd(bytes) else { return .incomplete }
        let text = String(decoding: bytes[..<end], as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/"), let status = Int(statusLine[1]) else { return .malformed }
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased().trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        return .head(ResponseHead(status: status, reason: statusLine.count > 2 ? String(statusLine[2]) : "",
                                  headers: headers, length: end + 4))
    }

    /// Index of the `\r\n\r\n` ending the head.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// Why a 101 answer is not a valid upgrade, or nil when it is.
    static func problem(with head: ResponseHead, key: String) -> String? {
        guard head.headers["upgrade"]?.lowercased().contains("websocket") == true else {
            return "upgrade response without \"Upgrade: websocket\""
        }
        let connection = head.headers["connection"]?.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        guard connection.contains("upgrade") else { return "upgrade response without \"Connection: Upgrade\"" }
        guard let accept = head.headers["sec-websocket-accept"] else { return "upgrade response without Sec-WebSocket-Accept" }
        guard accept == self.accept(for: key) else { return "Sec-WebSocket-Accept does not match the key sent" }
        if let extensions = head.headers["sec-websocket-extensions"], !extensions.isEmpty {
            return "the server chose extensions none were offered: \(extensions)"
        }
        return nil
    }

    /// The start of a refusal's body for an error message: one line, at most 200 characters.
    static func bodyStart(_ body: [UInt8], chunked: Bool) -> String {
        let text = String(decoding: body, as: UTF8.self)
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            // Chunk-size lines of a chunked body.
            .filter { !(chunked && !$0.isEmpty && $0.allSatisfy(\.isHexDigit)) }
            .joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
