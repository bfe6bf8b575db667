import Foundation
import Testing
import TeleOpsChat
import TeleOpsTesting

/// Connections opened and closed in every way leave no socket, descriptor or thread behind.
///
/// Other suites run in the same process at the same time, so totals are only compared after
/// they settle, and the exact checks are on what is this test's own: TCP sockets to or from
/// its server's port, and threads named "teleops-ws".
@Suite(.serialized, .timeLimit(.minutes(1))) struct WebSocketResourceTests {
    private func descriptorCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    private func connectionThreads() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) == "teleops-ws"
        }.count
    }

    /// This process's TCP sockets with `port` at either end, the listening socket excepted.
    private func socketsOnPort(_ port: Int) -> Int {
        var inodes: Set<String> = []
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
               target.hasPrefix("socket:[") {
                inodes.insert(String(target.dropFirst(8).dropLast()))
            }
        }
        let hexPort = String(format: "%04X", port)
        var count = 0
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, inodes.contains(String(fields[9])), fields[3] != "0A" else { continue }
                if fields[1].hasSuffix(":\(hexPort)") || fields[2].hasSuffix(":\(hexPort)") { count += 1 }
            }
        }
        return count
    }

    /// Polls `condition` for up to 5 s.
    private func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<100 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test func manyConnectionsOpenedAndClosedLeaveNothingBehind() async throws {
        let server = try await WebSocketTestServer.start(upgrade: { request in
            request.path.hasPrefix("/refuse") ? .refuse(status: 401, body: "no") : .accept
        }, onConnect: { peer in
            if peer.path.hasPrefix("/drop") {
                await peer.drop()
            } else if peer.path.hasPrefix("/server-close") {
                await peer.close(code: 1000)
            } else {
                for await message in peer.received { await peer.send(message) }
            }
        })
        // Warm up once: libcurl, the event loop and the test server allocate what they keep.
        let warm = try await WebSocketConnection.connect(url: server.url(path: "/echo"))
        await warm.close()
        #expect(await eventually { server.openConnections == 0 })

        let threadsBefore = connectionThreads()
        let descriptorsBefore = descriptorCount()
        // The thread count below does see connection threads.
        let probe = try await WebSocketConnection.connect(url: server.url(path: "/echo"))
        #expect(connectionThreads() >= 1)
        await probe.close()

        // Client closes, server closes, server drops, refused upgrades; some of them at once.
        for round in 0..<10 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        let connection = try await WebSocketConnection.connect(url: server.url(path: "/echo"))
                        try await connection.send("round \(round) connection \(index)")
                        var messages = connection.messages.makeAsyncIterator()
                        _ = try await messages.next()
                        await connection.close()
                    }
                }
                group.addTask {
                    let connection = try await WebSocketConnection.connect(url: server.url(path: "/server-close"))
                    for try await _ in connection.messages {}
                    await connection.close()
                }
                group.addTask {
                    let connection = try await WebSocketConnection.connect(url: server.url(path: "/drop"))
                    do { for try await _ in connection.messages {} } catch {}
                    await connection.close()
                }
                group.addTask {
                    // Released without close(): deinit starts the close, the thread finishes it.
                    let connection = try await WebSocketConnection.connect(url: server.url(path: "/echo"))
                    try await connection.send("released")
                }
                group.addTask {
                    do { _ = try await WebSocketConnection.connect(url: server.url(path: "/refuse")) } catch {}
                }
                try await group.waitForAll()
            }
        }

        #expect(await eventually { socketsOnPort(server.port) == 0 }, "sockets still open: \(socketsOnPort(server.port))")
        #expect(await eventually { connectionThreads() <= threadsBefore }, "threads: \(connectionThreads()) vs \(threadsBefore)")
        #expect(await eventually { descriptorCount() <= descriptorsBefore }, "descriptors: \(descriptorCount()) vs \(descriptorsBefore)")
        await server.stop()
    }
}
