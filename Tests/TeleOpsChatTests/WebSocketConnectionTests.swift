import Foundation
import Testing
import TeleOpsChat
import TeleOpsTesting

/// The client against a real WebSocket server on loopback.
@Suite(.timeLimit(.minutes(1))) struct WebSocketConnectionTests {
    /// A server that hands each peer to the test, and the first connection to it.
    private func connected(
        path: String = "/socket", headers: [String: String] = [:], options: WebSocketOptions = WebSocketOptions(),
        onConnect: @escaping @Sendable (WebSocketPeer) async -> Void = { _ in }
    ) async throws -> (WebSocketTestServer, WebSocketConnection, WebSocketPeer) {
        let peers = Collector<WebSocketPeer>()
        let server = try await WebSocketTestServer.start { peer in
            peers.append(peer)
            await onConnect(peer)
        }
        let connection = try await WebSocketConnection.connect(url: server.url(path: path), headers: headers, options: options)
        let peer = try await peers.waitFor(what: "the server side of the connection") { _ in true }
        return (server, connection, peer)
    }

    private func next(_ iterator: inout AsyncThrowingStream<String, any Error>.Iterator) async throws -> String? {
        try await iterator.next()
    }

    /// Text of `count` bytes, multi-byte characters included.
    private func text(_ count: Int) -> String {
        let pattern = Array("héllo wörld ✓ — ")
        var text = ""
        var index = 0
        while text.utf8.count + pattern[index % pattern.count].utf8.count <= count {
            text.append(pattern[index % pattern.count])
            index += 1
        }
        return text + String(repeating: "x", count: count - text.utf8.count)
    }

    @Test(arguments: [0, 5, 125, 126, 127, 65535, 65536, 70000, 1 << 20])
    func textRoundTripsBothWays(size: Int) async throws {
        let (server, connection, _) = try await connected { peer in
            for await message in peer.received { await peer.send(message) }
        }
        let message = text(size)
        #expect(message.utf8.count == size)
        try await connection.send(message)
        var messages = connection.messages.makeAsyncIterator()
        let echoed = try await next(&messages)
        #expect(echoed?.utf8.count == size)
        #expect(echoed == message)
        await connection.close()
        await server.stop()
    }

    @Test func messagesArriveInOrderAndTheServerMaySpeakFirst() async throws {
        let (server, connection, peer) = try await connected { peer in
            await peer.send("hello")
        }
        for index in 0..<50 { await peer.send("message \(index)") }
        var messages = connection.messages.makeAsyncIterator()
        #expect(try await next(&messages) == "hello")
        for index in 0..<50 { #expect(try await next(&messages) == "message \(index)") }
        for index in 0..<50 { try await connection.send("reply \(index)") }
        var received = peer.received.makeAsyncIterator()
        for index in 0..<50 { #expect(await received.next() == "reply \(index)") }
        await connection.close()
        await server.stop()
    }

    @Test(arguments: [2, 3, 7, 40])
    func fragmentedMessagesAreReassembled(pieces: Int) async throws {
        let (server, connection, peer) = try await connected()
        let message = text(1000)
        await peer.sendFragmented(message, pieces: pieces)
        await peer.send("after")
        var messages = connection.messages.makeAsyncIterator()
        #expect(try await next(&messages) == message)
        #expect(try await next(&messages) == "after")
        await connection.close()
        await server.stop()
    }

    @Test func serverPingIsAnsweredWithItsPayload() async throws {
        let (server, connection, peer) = try await connected()
        await peer.ping([1, 2, 3, 250])
        var pongs = peer.pongs.makeAsyncIterator()
        #expect(await pongs.next() == [1, 2, 3, 250])
        await peer.ping([])
        #expect(await pongs.next() == [])
        await connection.close()
        await server.stop()
    }

    @Test func pingsKeepAQuietConnectionAlive() async throws {
        var options = WebSocketOptions()
        // Generous against a loaded machine (the other tests push megabytes through the same
        // event loops), and still twice the idle timeout without a word from the server itself.
        options.pingInterval = .milliseconds(100)
        options.idleTimeout = .milliseconds(1500)
        let (server, connection, peer) = try await connected(options: options)
        try await Task.sleep(for: .seconds(3))
        try await connection.send("still here")
        var received = peer.received.makeAsyncIterator()
        #expect(await received.next() == "still here")
        await peer.send("and here")
        var messages = connection.messages.makeAsyncIterator()
        #expect(try await next(&messages) == "and here")
        await connection.close()
        await server.stop()
    }

    @Test func aSilentServerIsGivenUpOn() async throws {
        var options = WebSocketOptions()
        options.pingInterval = .zero
        options.idleTimeout = .milliseconds(300)
        let (server, connection, _) = try await connected(options: options)
        let started = ContinuousClock.now
        let error = await #expect(throws: WebSocketError.self) {
            for try await _ in connection.messages {}
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(error?.message.contains("nothing from the server") == true)
        await connection.close()
        await server.stop()
    }

    @Test func serverCloseFinishesTheStreamWithItsCode() async throws {
        let (server, connection, peer) = try await connected()
        await peer.send("last words")
        async let closed: Void = peer.close(code: 4001)
        var received: [String] = []
        for try await message in connection.messages { received.append(message) }
        await closed
        #expect(received == ["last words"])
        #expect(connection.closeCode == 4001)
        // The client answered with the same code.
        #expect(await peer.waitUntilClosed() == 4001)
        await #expect(throws: WebSocketError.self) { try await connection.send("too late") }
        await connection.close()
        await server.stop()
    }

    @Test func droppedConnectionEndsTheStreamWithAnError() async throws {
        let (server, connection, peer) = try await connected(path: "/link?ticket=s3cr3t-ticket")
        await peer.send("before")
        await peer.drop()
        var received: [String] = []
        let error = await #expect(throws: WebSocketError.self) {
            for try await message in connection.messages { received.append(message) }
        }
        #expect(received == ["before"])
        #expect(connection.closeCode == nil)
        #expect(error?.url == server.url(path: "/link"))
        #expect(error?.description.contains("s3cr3t") == false)
        await connection.close()
        await server.stop()
    }

    @Test func refusedUpgradeNamesTheStatusAndBodyButNotTheQuery() async throws {
        let server = try await WebSocketTestServer.start(upgrade: { request in
            .refuse(status: 403, body: "ticket expired: \(request.path)")
        }, onConnect: { _ in })
        let error = await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketConnection.connect(url: server.url(path: "/link?ticket=s3cr3t-ticket"))
        }
        #expect(error?.description.contains("403") == true)
        #expect(error?.description.contains("ticket expired") == true)
        #expect(error?.description.contains("s3cr3t") == false)
        #expect(error?.url == server.url(path: "/link"))
        await server.stop()
    }

    @Test func wrongAcceptIsRejected() async throws {
        let server = try await WebSocketTestServer.start(upgrade: { _ in .wrongAccept }, onConnect: { _ in })
        let error = await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketConnection.connect(url: server.url(path: "/socket"))
        }
        #expect(error?.message.contains("Sec-WebSocket-Accept") == true)
        await server.stop()
    }

    @Test func unansweredUpgradeTimesOut() async throws {
        let server = try await WebSocketTestServer.start(upgrade: { _ in .noAnswer }, onConnect: { _ in })
        var options = WebSocketOptions()
        options.connectTimeout = .milliseconds(300)
        let started = ContinuousClock.now
        let error = await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketConnection.connect(url: server.url(path: "/socket?ticket=s3cr3t"), options: options)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(error?.message.contains("no upgrade response") == true)
        #expect(error?.description.contains("s3cr3t") == false)
        await server.stop()
    }

    @Test func connectionRefusedIsAWebSocketError() async throws {
        // A port bound but not listening: connecting is refused, and while it stays bound no
        // other test's server can be given it (a port merely freed could be, under the suite).
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        let url = "ws://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/socket?ticket=s3cr3t"
        let error = await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketConnection.connect(url: url)
        }
        #expect(error?.description.contains("s3cr3t") == false)
        #expect(error?.message.contains("connect") == true)
    }

    @Test func badURLsAreRefusedBeforeConnecting() async throws {
        for url in ["http://example.com/", "example.com", "ws:///path", "ws://host/a b"] {
            await #expect(throws: WebSocketError.self) { _ = try await WebSocketConnection.connect(url: url) }
        }
    }

    @Test func cancellingAConnectEndsIt() async throws {
        let server = try await WebSocketTestServer.start(upgrade: { _ in .noAnswer }, onConnect: { _ in })
        let task = Task { try await WebSocketConnection.connect(url: server.url(path: "/socket")) }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(ContinuousClock.now - started < .seconds(2))
        await server.stop()
    }

    @Test func oversizeMessageClosesWith1009() async throws {
        var options = WebSocketOptions()
        options.maxMessageBytes = 1000
        let (server, connection, peer) = try await connected(options: options)
        await peer.send(text(1000))
        await peer.send(text(1001))
        var received: [Int] = []
        let error = await #expect(throws: WebSocketError.self) {
            for try await message in connection.messages { received.append(message.utf8.count) }
        }
        #expect(received == [1000])
        #expect(error?.message.contains("1009") == true)
        #expect(await peer.waitUntilClosed() == 1009)
        await connection.close()
        await server.stop()
    }

    @Test func oversizeFragmentedMessageClosesWith1009() async throws {
        var options = WebSocketOptions()
        options.maxMessageBytes = 1000
        let (server, connection, peer) = try await connected(options: options)
        await peer.sendFragmented(text(1500), pieces: 3)
        await #expect(throws: WebSocketError.self) { for try await _ in connection.messages {} }
        #expect(await peer.waitUntilClosed() == 1009)
        await connection.close()
        await server.stop()
    }

    @Test func invalidUTF8ClosesWith1007() async throws {
        let (server, connection, peer) = try await connected()
        await peer.sendText(bytes: [0x68, 0x69, 0xFF, 0xFE])
        let error = await #expect(throws: WebSocketError.self) { for try await _ in connection.messages {} }
        #expect(error?.message.contains("UTF-8") == true)
        #expect(await peer.waitUntilClosed() == 1007)
        await connection.close()
        await server.stop()
    }

    @Test func maskedServerFrameClosesWith1002() async throws {
        let (server, connection, peer) = try await connected()
        await peer.sendMasked("masked")
        let error = await #expect(throws: WebSocketError.self) { for try await _ in connection.messages {} }
        #expect(error?.message.contains("masked") == true)
        #expect(await peer.waitUntilClosed() == 1002)
        await connection.close()
        await server.stop()
    }

    @Test func binaryMessagesAreSkipped() async throws {
        let (server, connection, peer) = try await connected()
        await peer.sendBinary([0, 1, 2, 0xFF])
        await peer.send("text")
        var messages = connection.messages.makeAsyncIterator()
        #expect(try await next(&messages) == "text")
        await connection.close()
        await server.stop()
    }

    @Test func requestHeadersAndQueryReachTheServer() async throws {
        let (server, connection, peer) = try await connected(
            path: "/link/?ticket=abc&app=A1", headers: ["Authorization": "Bearer xapp-1-secret", "X-Trace": "t-1"])
        #expect(peer.path == "/link/?ticket=abc&app=A1")
        #expect(peer.headers["authorization"] == "Bearer xapp-1-secret")
        #expect(peer.headers["x-trace"] == "t-1")
        #expect(peer.headers["host"] == "127.0.0.1:\(server.port)")
        #expect(peer.headers["sec-websocket-version"] == "13")
        await connection.close()
        await server.stop()
    }

    @Test func headersWithLineBreaksAreRefused() async throws {
        let server = try await WebSocketTestServer.start { _ in }
        await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketConnection.connect(url: server.url(path: "/"), headers: ["X-Evil": "a\r\nInjected: 1"])
        }
        await server.stop()
    }

    @Test func clientCloseWhileReceivingReturnsPromptly() async throws {
        let (server, connection, peer) = try await connected()
        let receiver = Task {
            var count = 0
            for try await _ in connection.messages { count += 1 }
            return count
        }
        await peer.send("one")
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        await connection.close(code: 1000, reason: "shutting down")
        // Well under the 10 s the close handshake may take at most. (The whole test takes 0.12 s
        // alone, its 100 ms sleep included; the close took 3.3 s once under the full suite, whose
        // other tests keep both cores busy.)
        #expect(ContinuousClock.now - started < .seconds(6))
        #expect(try await receiver.value == 1)
        #expect(await peer.waitUntilClosed() == 1000)
        // Idempotent, and sending afterwards fails.
        await connection.close()
        await #expect(throws: WebSocketError.self) { try await connection.send("after close") }
        await server.stop()
    }

    @Test func releasingAnOpenConnectionClosesIt() async throws {
        let peers = Collector<WebSocketPeer>()
        let server = try await WebSocketTestServer.start { peers.append($0) }
        do {
            let connection = try await WebSocketConnection.connect(url: server.url(path: "/"))
            try await connection.send("bye")
        }
        let peer = try await peers.waitFor(what: "the peer") { _ in true }
        #expect(await peer.waitUntilClosed() == 1001)
        await server.stop()
    }
}
