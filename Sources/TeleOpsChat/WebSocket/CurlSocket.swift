import CCurl
import CShims
import Foundation
import Glibc
import TeleOpsCore

private let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

/// A connection libcurl opened with `CURLOPT_CONNECT_ONLY`: DNS, TCP, proxies (`HTTPS_PROXY`,
/// `NO_PROXY`, tunnelled with CONNECT) and TLS with certificate verification are libcurl's; the
/// bytes on top are ours, through the non-blocking `curl_easy_send` and `curl_easy_recv`.
///
/// Not thread-safe: one thread opens, uses and closes it.
final class CurlSocket {
    enum IOResult: Equatable {
        case done(Int)
        /// Would block: wait for the socket with `poll`.
        case again
        /// The peer closed the connection (reads only).
        case closed
        case failed(String)
    }

    private var handle: UnsafeMutableRawPointer?
    /// The socket under the handle, for `poll`.
    let fd: Int32

    /// Connects (blocking, at most `timeout`) to `url`, an `http://` or `https://` URL.
    init(url: String, timeout: Duration) throws(CurlSocketError) {
        _ = curlGlobalInit
        guard let handle = curl_easy_init() else { throw CurlSocketError(message: "curl_easy_init failed") }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        func fail(_ code: CURLcode, _ what: String) -> CurlSocketError {
            let detail = String(cString: errorBuffer)
            return CurlSocketError(message: "\(what): \(detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)")
        }

        var code = teleops_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        let options: [(CURLoption, Int)] = [
            (CURLOPT_CONNECT_ONLY, 1),
            (CURLOPT_NOSIGNAL, 1),
            (CURLOPT_CONNECTTIMEOUT_MS, Int(max(1, timeout.milliseconds))),
            // ws:// through an HTTP proxy needs a CONNECT tunnel too: the upgrade is not a request a proxy forwards.
            (CURLOPT_HTTPPROXYTUNNEL, 1),
            // ALPN offers only http/1.1: the upgrade is an HTTP/1.1 exchange, never h2.
            (CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)),
            (CURLOPT_TCP_KEEPALIVE, 1),
        ]
        for (option, value) in options where code == CURLE_OK {
            code = teleops_curl_setopt_long(handle, option, value)
        }
        if code == CURLE_OK { code = teleops_curl_setopt_string(handle, CURLOPT_URL, url) }
        guard code == CURLE_OK else {
            let error = fail(code, "setting curl options")
            curl_easy_cleanup(handle)
            throw error
        }
        code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let error = fail(code, code == CURLE_OPERATION_TIMEDOUT ? "connect timed out" : "connect failed")
            curl_easy_cleanup(handle)
            throw error
        }
        var socket: curl_socket_t = CURL_SOCKET_BAD
        code = teleops_curl_getinfo_socket(handle, CURLINFO_ACTIVESOCKET, &socket)
        guard code == CURLE_OK, socket != CURL_SOCKET_BAD else {
            let error = fail(code, "no socket after connect")
            curl_easy_cleanup(handle)
            throw error
        }
        // The buffer is freed when this initializer returns; libcurl must not write to it later.
        _ = teleops_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
        self.handle = handle
        self.fd = socket
    }

    deinit { close() }

    /// Releases the handle and its socket; later calls do nothing.
    func close() {
        guard let handle else { return }
        self.handle = nil
        curl_easy_cleanup(handle)
    }

    func send(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        guard let handle else { return .failed("connection closed") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .done(0) }
        var sent = 0
        let code = curl_easy_send(handle, base, bytes.count, &sent)
        switch code {
        case CURLE_OK: return .done(sent)
        case CURLE_AGAIN: return .again
        default: return .failed(String(cString: curl_easy_strerror(code)))
        }
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        guard let handle else { return .failed("connection closed") }
        var received = 0
        let code = curl_easy_recv(handle, buffer.baseAddress, buffer.count, &received)
        switch code {
        case CURLE_OK: return received == 0 ? .closed : .done(received)
        case CURLE_AGAIN: return .again
        default: return .failed(String(cString: curl_easy_strerror(code)))
        }
    }
}

struct CurlSocketError: Error {
    var message: String
}

/// Waits on `fds` with `poll` until one is ready or `deadline` passes (nil: no deadline);
/// retries on EINTR.
@discardableResult
func pollUntil(_ fds: inout [pollfd], deadline: ContinuousClock.Instant?) -> Int32 {
    while true {
        var timeout: Int32 = -1
        if let deadline {
            let left = deadline - .now
            // Round up, so a wait never ends a fraction of a millisecond early and spins.
            timeout = left <= .zero ? 0 : Int32(clamping: (left + .nanoseconds(999_999)).milliseconds)
        }
        let result = poll(&fds, nfds_t(fds.count), timeout)
        if result >= 0 || errno != EINTR { return result }
    }
}
