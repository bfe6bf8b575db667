import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 client over SwiftNIO for the fakes' outgoing calls (Telegram's webhook
/// deliveries, Slack's Events API requests): plain `http://`, one request per connection. The
/// answer must come within `deadline`, or the attempt counts as timed out, as the platforms
/// count it.
///
/// ```swift
/// let result = await LoopbackHTTP.post(url: "http://127.0.0.1:8080/v1/chat/telegram",
///                                      headers: ["Content-Type": "application/json"], body: Array("{}".utf8), deadline: .seconds(10))
/// ```
public enum LoopbackHTTP {
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case timedOut
        case connection(String)

        public var description: String {
            switch self {
            case .timedOut: "no answer before the deadline"
            case .connection(let message): message
            }
        }
    }

    public static func post(url: String, headers: [String: String], body: [UInt8], deadline: Duration) async -> Result<Answer, Failure> {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
            components.scheme?.lowercased() == "http"
        else {
            return .failure(.connection("'\(url)' is not a plain http:// URL"))
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
