#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Sends one UDP datagram to 127.0.0.1:`port` (a statsd client in a test).
///
/// ```swift
/// try sendUDP("api.errors:1|c|#host:api-1", port: port)
/// ```
public func sendUDP(_ text: String, port: Int) throws {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard socket >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bytes = Array(text.utf8)
    let sent = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(socket, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard sent == bytes.count else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
}
