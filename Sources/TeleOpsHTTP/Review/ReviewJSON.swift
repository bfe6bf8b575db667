import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TeleOpsCore

/// The review API's JSON: snake_case keys, times in RFC 3339 UTC with milliseconds (as the
/// store keeps them), and every key of a scenario present (null when unset).
enum ReviewJSON {
    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func response<Body: Encodable>(_ status: HTTPResponse.Status, _ body: Body) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(time(date))
        }
        let data = (try? encoder.encode(body)) ?? Data(#"{"error":"response could not be encoded"}"#.utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }

    /// `{"error": "status: 'opn' is not a scenario status; …", "field": "status", "value": "opn"}`.
    struct Failure: Encodable {
        var error: String
        var field: String?
        var value: String?
    }

    /// One scenario.
    struct ScenarioBody: Encodable {
        var scenario: Scenario

        enum CodingKeys: String, CodingKey {
            case id, fingerprint, source, host, check, severity, summary, status, occurrences
            case openedAt = "opened_at", updatedAt = "updated_at", resolvedAt = "resolved_at"
            case acknowledgedBy = "acknowledged_by", previousID = "previous_id", silencedUntil = "silenced_until"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(scenario.id, forKey: .id)
            try container.encode(scenario.fingerprint, forKey: .fingerprint)
            try container.encode(scenario.source, forKey: .source)
            try container.encode(scenario.host, forKey: .host)
            try container.encode(scenario.check, forKey: .check)
            try container.encode(scenario.severity, forKey: .severity)
            try container.encode(scenario.summary, forKey: .summary)
            try container.encode(scenario.status, forKey: .status)
            try container.encode(scenario.occurrences, forKey: .occurrences)
            try container.encode(scenario.openedAt, forKey: .openedAt)
            try container.encode(scenario.updatedAt, forKey: .updatedAt)
            // Explicit nulls: every scenario has the same keys.
            try container.encode(scenario.resolvedAt, forKey: .resolvedAt)
            try container.encode(scenario.acknowledgedBy, forKey: .acknowledgedBy)
            try container.encode(scenario.previousID, forKey: .previousID)
            try container.encode(scenario.silencedUntil, forKey: .silencedUntil)
        }
    }

    /// `GET /v1/scenarios`: a page, newest first, and the `before` of the next page (null at the end).
    struct ListBody: Encodable {
        var scenarios: [ScenarioBody]
        var nextBefore: Int64?

        enum CodingKeys: String, CodingKey { case scenarios, nextBefore = "next_before" }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(scenarios, forKey: .scenarios)
            try container.encode(nextBefore, forKey: .nextBefore)
        }
    }

    /// `GET /v1/scenarios/{id}`: the scenario and its events, oldest first, each with its
    /// `id`, `scenario_id`, `at`, `actor`, `kind` and `data` (the facts of its kind), and the
    /// alerts those events name (`data.alert_id`), by id, as they arrived.
    struct DetailBody: Encodable {
        var scenario: ScenarioBody
        var events: [ScenarioEvent]
        /// `StoredAlert`: `id`, `source`, `host`, `check`, `severity`, `status`, `summary`,
        /// `labels`, `details` (null when none), `fingerprint`, `received_at`.
        var alerts: [StoredAlert]
    }
}
