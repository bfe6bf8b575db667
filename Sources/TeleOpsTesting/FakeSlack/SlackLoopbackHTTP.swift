import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import TeleOpsCore

/// A Hummingbird router served on 127.0.0.1 at a free port until `stop()`. The server runs in
/// a task this type owns (a test fixture, started and stopped by the test).
final class SlackLoopbackServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    static func start(router: Router<BasicRequestContext>, name: String) async throws -> SlackLoopbackServer {
        var logger = Logger(label: name)
        logger.logLevel = .critical
        let ports = Collector<Int>()
        let app = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: name),
            onServerRunning: { channel in ports.append(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: app)], logger: logger))
        let task = Task { try await group.run() }
        do {
            let port = try await ports.waitFor(what: "\(name) to listen", timeout: .seconds(10)) { _ in true }
            return SlackLoopbackServer(port: port, group: group, task: task)
        } catch {
            task.cancel()
            throw error
        }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}

/// One HTTP/1.1 POST over loopback with NIO, for the fake's Events API deliveries. The
/// answer must come within `deadline`, or the attempt counts as timed out.
enum SlackLoopbackClient {
    struct Answer: Sendable {
        var status: Int
        var body: String
    }

    enum Failure: Error, Sendable {
        case timedOut
        case connection(String)
    }

    static func post(url: String, headers: [String: String], body: [UInt8], deadline: Duration) async -> Result<Answer, Failure> {
        guard let components = URLComponents(string: url), let host = components.host else {
            return .failure(.connection("bad URL \(url)"))
        }
        let port = components.port ?? 80
        let path = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
        return await withTaskGroup(of: Result<Answer, Failure>?.self) { group in
            group.addTask {
                do {
                    return .success(try await send(host: host, port: port, path: path, headers: headers, body: body))
                } catch {
                    return Task.isCancelled ? nil : .failure(.connection("\(error)"))
                }
            }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return Task.isCancelled ? nil : .failure(.timedOut)
            }
            defer { group.cancelAll() }
            while let outcome = await group.next() {
                if let outcome { return outcome }
            }
            return .failure(.timedOut)
        }
    }

    private static func send(host: String, port: Int, path: String, headers: [String: String], body: [UInt8]) async throws -> Answer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                head.headers.add(name: "Host", value: "\(host):\(port)")
                head.headers.add(name: "Content-Length", value: "\(body.count)")
                head.headers.add(name: "Connection", value: "close")
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                try await outbound.write(.head(head))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                try await outbound.write(.end(nil))
                var status = 0
                var received: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head): status = Int(head.status.code)
                    case .body(var buffer): received += buffer.readBytes(length: buffer.readableBytes) ?? []
                    case .end: return Answer(status: status, body: String(decoding: received, as: UTF8.self))
                    }
                }
                throw Failure.connection("the connection closed before the answer ended")
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }
}
