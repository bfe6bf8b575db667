import Foundation
import Logging
import ServiceLifecycle
import TeleOpsChat
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting

/// The intake routes on a real loopback port, in front of an `IngestQueue` and a memory
/// store (or `store`), for one test. The routes log to `logger` (a `LogCapture`'s, to look
/// at what they log), by default to nowhere.
struct IntakeServer {
    let base: String
    let client = CurlHTTPClient()

    static func with(
        _ settings: HTTPSettings = HTTPSettings(port: 0), store: any ScenarioStore = MemoryScenarioStore(),
        queue: IngestQueue.Settings = IngestQueue.Settings(),
        decoders: [any AlertDecoder] = [GenericAlertDecoder(), PagerDutyAlertDecoder()],
        metrics: (any MetricLinesSink)? = nil, webhooks: [any ChatWebhook] = [], logger routeLogger: Logger? = nil,
        _ body: @Sendable (IntakeServer) async throws -> Void
    ) async throws {
        var settings = settings
        settings.port = 0
        try await withLoopbackHTTPServer(store: store, queue: queue, makeRouter: { intake, logger in
            buildRouter(
                settings: settings, sink: intake, decoders: decoders, metrics: metrics, webhooks: webhooks,
                logger: routeLogger ?? logger)
        }) { base in
            try await body(IntakeServer(base: base))
        }
    }

    func post(
        _ path: String, _ body: String, contentType: String? = "application/json", headers: [String: String] = [:]
    ) async throws -> HTTPResponse {
        try await post(path, Data(body.utf8), contentType: contentType, headers: headers)
    }

    func post(
        _ path: String, _ body: Data, contentType: String? = "application/json", headers: [String: String] = [:]
    ) async throws -> HTTPResponse {
        var headers = headers
        if let contentType { headers["Content-Type"] = contentType }
        return try await client.send(method: "POST", url: base + path, headers: headers, body: body)
    }
}

extension HTTPResponse {
    /// The body as a JSON object (or nil when it is not one).
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

let diskAlert = #"{"host":"web-1","check":"disk","severity":"critical","summary":"/var is 95% full","status":"firing"}"#
