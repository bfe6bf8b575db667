import CCurl
import CShims
import Foundation
import Synchronization

/// An HTTP response as the client saw it.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    /// A header by case-insensitive name.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// What went wrong below HTTP (connection refused, timeout, TLS, …).
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public var url: String
    public var message: String
    public var timedOut: Bool

    public var description: String { "\(url): \(message)" }
}

private let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

/// Outbound HTTP(S) through libcurl: connections are reused (handles are pooled), connect and
/// total timeouts are set on every request, `HTTPS_PROXY`/`NO_PROXY` are honoured (libcurl
/// reads them), and the blocking `curl_easy_perform` runs on a thread of its own (kept for
/// the next request, see `BlockingThreads`), never on Swift's cooperative pool.
///
/// ```swift
/// let client = CurlHTTPClient()
/// let response = try await client.send(method: "POST", url: "http://127.0.0.1:8080/v1/alerts/generic",
///                                      headers: ["Content-Type": "application/json"], body: body)
/// ```
public final class CurlHTTPClient: Sendable {
    /// Idle easy handles, each carrying its connection cache. A handle is used by one thread
    /// at a time: it is taken out of the pool for a request and put back afterwards.
    private struct Pool: @unchecked Sendable {
        var handles: [UnsafeMutableRawPointer] = []
    }

    private let pool = Mutex(Pool())
    public let connectTimeout: Duration
    public let totalTimeout: Duration

    public init(connectTimeout: Duration = .seconds(5), totalTimeout: Duration = .seconds(30)) {
        _ = curlGlobalInit
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
    }

    deinit {
        pool.withLock { pool in
            for handle in pool.handles { curl_easy_cleanup(handle) }
        }
    }

    public func send(method: String, url: String, headers: [String: String] = [:], body: Data? = nil) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
            BlockingThreads.shared.run { [self] in
                continuation.resume(with: Result { try perform(method: method, url: url, headers: headers, body: body) })
            }
        }
    }

    /// The blocking request; call only from a thread of its own.
    public func perform(method: String, url: String, headers: [String: String], body: Data?) throws -> HTTPResponse {
        let handle = pool.withLock { $0.handles.popLast() } ?? curl_easy_init()
        guard let handle else { throw HTTPClientError(url: url, message: "curl_easy_init failed", timedOut: false) }
        var reusable = true
        defer {
            if reusable {
                pool.withLock { $0.handles.append(handle) }
            } else {
                curl_easy_cleanup(handle)
            }
        }
        curl_easy_reset(handle)
        let sink = ResponseSink()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        headerList = curl_slist_append(headerList, "Expect:")

        func set(_ code: CURLcode, _ what: String) throws {
            guard code == CURLE_OK else {
                throw HTTPClientError(url: url, message: "setting \(what): \(String(cString: curl_easy_strerror(code)))", timedOut: false)
            }
        }
        try set(teleops_curl_setopt_string(handle, CURLOPT_URL, url), "URL")
        try set(teleops_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try set(teleops_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method), "method")
        try set(teleops_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout.milliseconds)), "connect timeout")
        try set(teleops_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(totalTimeout.milliseconds)), "timeout")
        try set(teleops_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), "headers")
        try set(teleops_curl_setopt_write_function(handle, writeBody), "write function")
        try set(teleops_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque()), "write data")
        try set(teleops_curl_setopt_write_function_header(handle, writeHeader), "header function")
        try set(teleops_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, Unmanaged.passUnretained(sink).toOpaque()), "header data")
        if let body {
            try set(teleops_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count), "body size")
            try body.withUnsafeBytes { bytes in
                try set(teleops_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)), "body")
            }
        }
        let code = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            reusable = false
            throw HTTPClientError(url: url, message: String(cString: curl_easy_strerror(code)), timedOut: code == CURLE_OPERATION_TIMEDOUT)
        }
        var status = 0
        _ = teleops_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }
}

/// Collects one response; touched only by the thread running `curl_easy_perform`.
private final class ResponseSink {
    var body = Data()
    var headers: [String: String] = [:]
}

private let writeBody: teleops_curl_write_cb = { pointer, size, count, userdata in
    guard let pointer, let userdata else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    sink.body.append(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: size * count)
    return size * count
}

private let writeHeader: teleops_curl_write_cb = { pointer, size, count, userdata in
    guard let pointer, let userdata else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: pointer, count: size * count), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        sink.headers = [:]  // a new response (after a redirect or 100-continue)
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        sink.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return size * count
}
