import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TeleOpsCore

/// A minimal HTTP/1.1 client over SwiftNIO for the fakes' outgoing calls (webhook
/// deliveries): plain `http://` only, one request per connection, a hard timeout.
///
/// ```swift
/// let status = try await LoopbackHTTP.post(url: "http://127.0.0.1:8080/v1/chat/telegram",
///                                          headers: ["Content-Type": "application/json"], body: Array("{}".utf8))
/// ```
public enum LoopbackHTTP {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// POSTs `body` and returns the response status.
    public static func post(
        url: String, headers: [String: String], body: [UInt8], timeout: Duration = .seconds(10)
    ) async throws -> Int {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw Failure(description: "'\(url)' is not a URL")
        }
        guard components.scheme?.lowercased() == "http" else {
            throw Failure(description: "the fake calls plain http:// URLs only, not '\(url)'")
        }
        let port = components.port ?? 80
        var target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { target += "?\(query)" }

        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(timeout.milliseconds))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        let deadline = channel.channel.eventLoop.scheduleTask(in: .milliseconds(timeout.milliseconds)) {
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target)
            head.headers.add(name: "Host", value: "\(host):\(port)")
            head.headers.add(name: "Content-Length", value: String(body.count))
            head.headers.add(name: "Connection", value: "close")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            try await outbound.write(.head(head))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
            try await outbound.write(.end(nil))
            var status: Int?
            for try await part in inbound {
                switch part {
                case .head(let response): status = Int(response.status.code)
                case .body: break
                case .end: if let status { return status }
                }
            }
            throw Failure(description: "the connection closed before a complete answer (timeout \(timeout))")
        }
    }
}
