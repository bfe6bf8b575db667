import Foundation
import Glibc
import Synchronization
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

/// A controller whose network went silent: TCP stays up (no FIN, no RST) but nothing comes
/// back, not even libzmq's PONG. The worker must give up on that connection and connect again.
@Suite(.timeLimit(.minutes(1))) struct SilentPeerTests {
    /// A TCP listener that speaks just enough ZMTP 3.0 (greeting, NULL mechanism, READY as a
    /// ROUTER) for a DEALER to count the connection as up, then never answers anything.
    /// Counts the connections it accepted.
    final class SilentRouter: @unchecked Sendable {
        let port: Int
        private let listener: Int32
        private let accepted = Mutex(0)
        private let stop = Mutex(false)
        private var thread: Thread?

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            guard ok else {
                Glibc.close(fd)
                throw ZMQError(operation: "silent router bind")
            }
            listener = fd
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        func start() {
            let thread = Thread { [self] in serve() }
            self.thread = thread
            thread.start()
        }

        var connections: Int { accepted.withLock { $0 } }

        func close() {
            stop.withLock { $0 = true }
        }

        private func serve() {
            var open: [Int32] = []
            defer {
                open.forEach { Glibc.close($0) }
                Glibc.close(listener)
            }
            let greeting: [UInt8] = [0xFF] + Array(repeating: 0, count: 8) + [0x7F, 3, 0]
                + Array("NULL".utf8) + Array(repeating: 0, count: 16) + [0] + Array(repeating: 0, count: 31)
            let body: [UInt8] = [5] + Array("READY".utf8) + [11] + Array("Socket-Type".utf8) + [0, 0, 0, 6] + Array("ROUTER".utf8)
            let ready: [UInt8] = [0x04, UInt8(body.count)] + body
            while !stop.withLock({ $0 }) {
                var poller = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
                    + open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                guard poll(&poller, nfds_t(poller.count), 50) > 0 else { continue }
                if poller[0].revents != 0 {
                    let connection = accept(listener, nil, nil)
                    if connection >= 0 {
                        open.append(connection)
                        accepted.withLock { $0 += 1 }
                        _ = (greeting + ready).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    }
                }
                // Read and drop whatever the worker sends (its greeting, READY, HELLO, PINGs).
                var buffer = [UInt8](repeating: 0, count: 4096)
                for entry in poller.dropFirst() where entry.revents != 0 {
                    if recv(entry.fd, &buffer, buffer.count, 0) <= 0 {
                        Glibc.close(entry.fd)
                        open.removeAll { $0 == entry.fd }
                    }
                }
            }
        }
    }

    @Test func aWorkerReconnectsWhenTheControllerFallsSilent() async throws {
        let router = try SilentRouter()
        router.start()
        defer { router.close() }
        let agent = WorkerAgent(
            options: WorkerOptions(connect: "tcp://127.0.0.1:\(router.port)", workerID: "w", hosts: ["*"], capacity: 1,
                                   heartbeatInterval: .milliseconds(100), killGrace: .milliseconds(100)),
            logger: testLogger("agent"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await agent.run() }
            try await eventually("the first connection") { router.connections >= 1 }
            // Silent for five heartbeat intervals (0.5 s): the worker drops it and connects again.
            try await eventually("a second connection", timeout: .seconds(10)) { router.connections >= 2 }
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}
