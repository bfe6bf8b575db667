import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TeleOpsCore

/// Mounts each chat platform's webhook (`ChatWebhook`: Telegram's webhook, Slack's Events API
/// and interactivity) at `POST path`. The raw body goes to the transport, which checks the
/// platform's secret or signature over those exact bytes; bodies over the limit get 413.
struct ChatWebhookRoutes {
    let webhooks: [any ChatWebhook]
    let maxBodyBytes: Int
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        for webhook in webhooks {
            router.post(RouterPath(webhook.path)) { request, _ in await handle(request, webhook: webhook) }
        }
    }

    private func handle(_ request: Request, webhook: any ChatWebhook) async -> Response {
        let tooLarge = Response.json(.contentTooLarge, ["error": "the body is larger than the limit of \(maxBodyBytes) bytes"])
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes { return tooLarge }
        guard let body = try? await request.body.collect(upTo: maxBodyBytes) else { return tooLarge }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let answer = await webhook.handle(ChatWebhookRequest(headers: headers, body: Array(buffer: body)))
        var responseHeaders = HTTPFields()
        responseHeaders[.contentType] = answer.contentType
        for (name, value) in answer.headers {
            if let field = HTTPField.Name(name) { responseHeaders[field] = value }
        }
        if answer.status >= 500 {
            logger.warning("chat webhook failed", metadata: ["path": "\(webhook.path)", "status": "\(answer.status)"])
        }
        return Response(
            status: HTTPResponse.Status(code: answer.status), headers: responseHeaders,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
