import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TeleOpsCore

/// Chat webhooks (`ChatWebhook`) served on a real loopback port, the way the controller's HTTP
/// server mounts them, so a fake platform can call a transport over HTTP in a test.
///
/// ```swift
/// try await ChatWebhookServer.with([telegram.webhook]) { base in
///     // base is http://127.0.0.1:<port>; Telegram's webhook URL is base + "/v1/chat/telegram"
/// }
/// ```
public enum ChatWebhookServer {
    public static func with<T: Sendable>(
        _ webhooks: [any ChatWebhook], _ body: (_ baseURL: String) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "chat-webhooks")
        logger.logLevel = .critical
        let routes = Dictionary(webhooks.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let responder = CallbackResponder { (request: Request, _: BasicRequestContext) in
            guard request.method == .post, let webhook = routes[request.uri.path] else {
                return Response(status: .notFound)
            }
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let answer = await webhook.handle(ChatWebhookRequest(headers: headers, body: Array(buffer: body)))
            var fields = HTTPFields()
            fields[.contentType] = answer.contentType
            for (name, value) in answer.headers {
                if let field = HTTPField.Name(name) { fields[field] = value }
            }
            return Response(
                status: .init(code: answer.status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        let ports = Collector<Int>()
        let app = Application(
            responder: responder, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in ports.append(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: app)], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: Result<T, any Error>
            do {
                let port = try await ports.waitFor(what: "the webhook server to listen") { _ in true }
                result = .success(try await body("http://127.0.0.1:\(port)"))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }
}
