import Foundation
import Hummingbird
import Logging
import TeleOpsCore

/// `POST /v1/alerts/{source}`: decode with the source's decoder, hand to the sink, answer 202
/// only after the sink says the alerts are on disk.
///
/// Answers: `202 {"accepted": n, "alerts": [{"alert_id", "scenario_id", "disposition"}]}`;
/// `400 {"error", "field"}` for a body that is not valid for the source; `404` for an unknown
/// source; `413` for a body over the limit; `503` when the store cannot take the alert (the
/// client should retry: nothing was accepted).
struct IngestRoutes: Sendable {
    let sink: any AlertSink
    let decoders: [String: any AlertDecoder]
    let maxBodyBytes: Int
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/alerts/:source") { request, context in
            try await ingest(request, source: context.parameters.require("source"))
        }
    }

    func ingest(_ request: Request, source: String) async throws -> Response {
        guard let decoder = decoders[source] else {
            return .json(.notFound, ErrorBody(error: "unknown alert source '\(source)'; this server accepts: \(decoders.keys.sorted().joined(separator: ", "))"))
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            return tooLarge()
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            return tooLarge()
        }
        let alerts: [Alert]
        do {
            alerts = try decoder.decode(Data(body.readableBytesView))
        } catch {
            return .json(.badRequest, ErrorBody(error: error.description, field: error.field))
        }
        let outcomes: [IngestOutcome]
        do {
            outcomes = try await sink.accept(alerts)
        } catch {
            logger.error("alerts could not be stored", metadata: ["source": "\(source)", "error": "\(error)"])
            return .json(.serviceUnavailable, ErrorBody(error: "the alert could not be stored, nothing was accepted; retry later (\(error))"))
        }
        return .json(.accepted, Accepted(accepted: outcomes.count, alerts: outcomes))
    }

    private func tooLarge() -> Response {
        .json(.contentTooLarge, ErrorBody(error: "the body is larger than the limit of \(maxBodyBytes) bytes; send fewer alerts per request"))
    }
}

struct ErrorBody: Encodable {
    var error: String
    var field: String?
}

struct Accepted: Encodable {
    var accepted: Int
    var alerts: [IngestOutcome]
}

extension Response {
    static func json<Body: Encodable>(_ status: HTTPResponse.Status, _ body: Body) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data(#"{"error":"response could not be encoded"}"#.utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }
}
