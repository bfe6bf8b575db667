import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// A real WebSocket server on 127.0.0.1 (a random port), SwiftNIO's upgrader over NIOPosix: for
/// the WebSocket client's tests and the fake Slack server.
///
/// Each upgraded connection is handed to `onConnect` as a ``WebSocketPeer``; the connection stays
/// open after `onConnect` returns, until either side closes it or ``stop()``. The server answers
/// pings with pongs and the client's close frame with a close frame, as RFC 6455 asks.
///
/// Whether an upgrade succeeds is up to the `upgrade` rule, asked for each request (path with
/// query, lower-cased headers), so a test can refuse some paths or tickets and accept others:
/// `.accept`, `.refuse(status:body:)` (a plain HTTP answer instead of 101), `.wrongAccept` (101
/// with a `Sec-WebSocket-Accept` that does not match the key) or `.noAnswer` (the request is
/// read and never answered).
///
/// ```swift
/// let server = try await WebSocketTestServer.start(upgrade: { $0.path.contains("expired") ? .refuse(status: 403, body: "ticket expired") : .accept }) { peer in
///     await peer.send(#"{"type":"hello"}"#)
///     for await text in peer.received { await peer.send("echo: \(text)") }
/// }
/// let url = server.url(path: "/link?ticket=1")
/// …
/// await server.stop()
/// ```
public final class WebSocketTestServer: Sendable {
    /// How the server answers an upgrade request.
    public enum Upgrade: Sendable {
        case accept
        /// A plain HTTP response with this status and body (and `Connection: close`).
        case refuse(status: Int, body: String)
        /// 101 Switching Protocols with a `Sec-WebSocket-Accept` the client must reject.
        case wrongAccept
        /// No answer at all: the client's connect timeout is what ends it.
        case noAnswer
    }

    /// An upgrade request, as the `upgrade` rule sees it.
    public struct UpgradeRequest: Sendable {
        /// Path with query string.
        public var path: String
        /// Lower-cased names; repeated headers joined with ", ".
        public var headers: [String: String]
    }

    private let channel: any Channel
    private let connections: ConnectionSet
    public let port: Int

    private init(channel: any Channel, connections: ConnectionSet, port: Int) {
        self.channel = channel
        self.connections = connections
        self.port = port
    }

    /// `onConnect` runs for each connection (path + query + request headers available on the peer).
    public static func start(onConnect: @escaping @Sendable (WebSocketPeer) async -> Void) async throws -> WebSocketTestServer {
        try await start(upgrade: { _ in .accept }, onConnect: onConnect)
    }

    /// Like ``start(onConnect:)``, with a rule deciding each upgrade.
    public static func start(upgrade rule: @escaping @Sendable (UpgradeRequest) -> Upgrade,
                             onConnect: @escaping @Sendable (WebSocketPeer) async -> Void) async throws -> WebSocketTestServer {
        let connections = ConnectionSet()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 1 << 26,
                    automaticErrorHandling: true,
                    shouldUpgrade: { channel, head in
                        guard case .accept = rule(UpgradeRequest(head)) else { return channel.eventLoop.makeSucceededFuture(nil) }
                        return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                    },
                    upgradePipelineHandler: { channel, head in
                        let request = UpgradeRequest(head)
                        let peer = WebSocketPeer(channel: channel, path: request.path, headers: request.headers)
                        return channel.pipeline.removeHandler(name: RefusalHandler.name).flatMapThrowing {
                            try channel.pipeline.syncOperations.addHandler(PeerHandler(peer: peer))
                        }.map {
                            Task { await onConnect(peer) }
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try channel.pipeline.syncOperations.addHandler(RefusalHandler(rule: rule), name: RefusalHandler.name)
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw ChannelError.unknownLocalAddress
        }
        return WebSocketTestServer(channel: channel, connections: connections, port: port)
    }

    public func url(path: String) -> String { "ws://127.0.0.1:\(port)\(path)" }

    /// TCP connections currently open (upgraded or not).
    public var openConnections: Int { connections.count }

    /// Stops listening and drops every connection.
    public func stop() async {
        try? await channel.close()
        for connection in connections.all {
            try? await connection.close()
        }
    }
}

extension WebSocketTestServer.UpgradeRequest {
    init(_ head: HTTPRequestHead) {
        path = head.uri
        headers = Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { "\($0), \($1)" })
    }
}

/// One client connection of a ``WebSocketTestServer``.
public final class WebSocketPeer: Sendable {
    private struct State {
        var closeSent = false
        var clientCloseCode: UInt16?
    }

    private let channel: any Channel
    /// Path with query string.
    public let path: String
    /// Request headers, lower-cased names.
    public let headers: [String: String]
    /// Text messages from the client, in order; finishes when the client closes or the connection drops.
    public let received: AsyncStream<String>
    /// Pongs received (payloads).
    public let pongs: AsyncStream<[UInt8]>
    let receivedContinuation: AsyncStream<String>.Continuation
    let pongsContinuation: AsyncStream<[UInt8]>.Continuation
    private let state = Mutex(State())

    init(channel: any Channel, path: String, headers: [String: String]) {
        self.channel = channel
        self.path = path
        self.headers = headers
        (received, receivedContinuation) = AsyncStream.makeStream(of: String.self)
        (pongs, pongsContinuation) = AsyncStream.makeStream(of: [UInt8].self)
    }

    public func send(_ text: String) async {
        await write(.text, Array(text.utf8))
    }

    /// Sends a text message in several frames (continuation frames), to test reassembly. The
    /// UTF-8 bytes are cut in `pieces` nearly equal parts, so a character may straddle two frames.
    public func sendFragmented(_ text: String, pieces: Int) async {
        let bytes = Array(text.utf8)
        let pieces = max(1, min(pieces, max(1, bytes.count)))
        let size = (bytes.count + pieces - 1) / pieces
        var start = 0
        for index in 0..<pieces {
            let end = index == pieces - 1 ? bytes.count : min(bytes.count, start + size)
            await write(index == 0 ? .text : .continuation, Array(bytes[start..<end]), fin: index == pieces - 1)
            start = end
        }
    }

    /// A binary message.
    public func sendBinary(_ bytes: [UInt8]) async {
        await write(.binary, bytes)
    }

    /// A text frame with any payload, valid UTF-8 or not.
    public func sendText(bytes: [UInt8]) async {
        await write(.text, bytes)
    }

    /// A text frame masked as only a client may send it: the client must fail the connection (1002).
    public func sendMasked(_ text: String) async {
        await write(.text, Array(text.utf8), mask: .random())
    }

    public func ping(_ payload: [UInt8]) async {
        await write(.ping, payload)
    }

    /// Close handshake: sends a close frame with `code`, then waits (at most 5 s) for the
    /// client's answer, after which the connection is closed.
    public func close(code: UInt16) async {
        let first = state.withLock { state in
            defer { state.closeSent = true }
            return !state.closeSent
        }
        if first {
            var payload = channel.allocator.buffer(capacity: 2)
            payload.writeInteger(code)
            try? await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload))
        }
        let channel = self.channel
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        deadline.cancel()
    }

    /// TCP close without a close frame.
    public func drop() async {
        try? await channel.close()
    }

    /// Waits until the connection has ended; the close code the client sent (1005 for a close
    /// frame without one), nil when it sent no close frame.
    public func waitUntilClosed() async -> UInt16? {
        try? await channel.closeFuture.get()
        return state.withLock { $0.clientCloseCode }
    }

    private func write(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, mask: WebSocketMaskingKey? = nil) async {
        let frame = WebSocketFrame(fin: fin, opcode: opcode, maskKey: mask, data: channel.allocator.buffer(bytes: bytes))
        try? await channel.writeAndFlush(frame)
    }

    // MARK: Event loop side

    /// The client sent a close frame: records its code; true when the server must still answer it.
    func clientClosed(code: UInt16) -> Bool {
        state.withLock { state in
            state.clientCloseCode = code
            return !state.closeSent
        }
    }

    func ended() {
        receivedContinuation.finish()
        pongsContinuation.finish()
    }
}

/// The frames of an upgraded connection, into and out of its ``WebSocketPeer``.
private final class PeerHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let peer: WebSocketPeer
    private var fragments: [UInt8]?

    init(peer: WebSocketPeer) {
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        var payload = frame.unmaskedData
        let bytes = payload.readBytes(length: payload.readableBytes) ?? []
        switch frame.opcode {
        case .text where frame.fin:
            peer.receivedContinuation.yield(String(decoding: bytes, as: UTF8.self))
        case .text:
            fragments = bytes
        case .continuation:
            fragments?.append(contentsOf: bytes)
            if frame.fin, let message = fragments {
                fragments = nil
                peer.receivedContinuation.yield(String(decoding: message, as: UTF8.self))
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: context.channel.allocator.buffer(bytes: bytes))
            context.writeAndFlush(Self.wrapOutboundOut(pong), promise: nil)
        case .pong:
            peer.pongsContinuation.yield(bytes)
        case .connectionClose:
            let code = bytes.count >= 2 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : 1005
            if peer.clientClosed(code: code) {
                var answer = context.channel.allocator.buffer(capacity: 2)
                if bytes.count >= 2 { answer.writeInteger(code) }
                let channel = context.channel
                context.writeAndFlush(Self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: answer)))
                    .whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.ended()
        context.fireChannelInactive()
    }
}

/// Answers upgrade requests the `upgrade` rule does not accept (and requests that are no
/// upgrade at all); removed from the pipeline when a connection is upgraded.
private final class RefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    static let name = "websocket-refusal"

    private let rule: @Sendable (WebSocketTestServer.UpgradeRequest) -> WebSocketTestServer.Upgrade

    init(rule: @escaping @Sendable (WebSocketTestServer.UpgradeRequest) -> WebSocketTestServer.Upgrade) {
        self.rule = rule
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = Self.unwrapInboundIn(data) else { return }
        switch rule(WebSocketTestServer.UpgradeRequest(head)) {
        case .accept:
            respond(context, status: 400, body: "not a WebSocket upgrade request")
        case .refuse(let status, let body):
            respond(context, status: status, body: body)
        case .wrongAccept:
            var response = HTTPResponseHead(version: .http1_1, status: .switchingProtocols)
            response.headers.add(name: "Upgrade", value: "websocket")
            response.headers.add(name: "Connection", value: "Upgrade")
            response.headers.add(name: "Sec-WebSocket-Accept", value: "dGhpcyBpcyBub3QgdGhlIGtleQ==")
            context.write(Self.wrapOutboundOut(.head(response)), promise: nil)
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        case .noAnswer:
            break
        }
    }

    private func respond(_ context: ChannelHandlerContext, status: Int, body: String) {
        var response = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status))
        response.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        response.headers.add(name: "Content-Length", value: String(body.utf8.count))
        response.headers.add(name: "Connection", value: "close")
        context.write(Self.wrapOutboundOut(.head(response)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// The server's open connections, to drop them on `stop()`.
private final class ConnectionSet: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    var count: Int { channels.withLock { $0.count } }
    var all: [any Channel] { channels.withLock { Array($0.values) } }
}
