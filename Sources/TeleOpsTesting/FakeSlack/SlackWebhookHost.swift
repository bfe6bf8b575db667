import HTTPTypes
import Hummingbird
import TeleOpsCore

/// Chat webhooks mounted on a loopback HTTP server, the way TeleOps' HTTP server mounts them
/// (`POST path`, the raw body and lower-cased headers in, the transport's answer out), for tests
/// that have a fake platform call a transport over real HTTP.
///
/// ```swift
/// let host = try await SlackWebhookHost.start(slack.webhooks)
/// fake.deliverEvents(to: host.url("/v1/chat/slack/events"), signingSecret: secret)
/// ```
public final class SlackWebhookHost: Sendable {
    private let server: SlackLoopbackServer

    private init(server: SlackLoopbackServer) {
        self.server = server
    }

    public static func start(_ webhooks: [any ChatWebhook], maxBodyBytes: Int = 1 << 20) async throws -> SlackWebhookHost {
        let router = Router()
        for webhook in webhooks {
            router.post(RouterPath(webhook.path)) { request, _ -> Response in
                let body = try await request.body.collect(upTo: maxBodyBytes)
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }
                let answer = await webhook.handle(ChatWebhookRequest(headers: headers, body: Array(body.readableBytesView)))
                var fields = HTTPFields()
                fields[.contentType] = answer.contentType
                for (name, value) in answer.headers {
                    if let field = HTTPField.Name(name) { fields[field] = value }
                }
                return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
            }
        }
        return SlackWebhookHost(server: try await SlackLoopbackServer.start(router: router, name: "SlackWebhookHost"))
    }

    public var port: Int { server.port }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    public func stop() async { await server.stop() }
}
