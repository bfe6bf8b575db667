import Foundation
import GRDB
import TeleOpsCore

/// Reading rows back into Core types. An unknown enum value or bad JSON is a
/// `ScenarioStoreError.corruptData` that names the table, row and column.
enum SQLiteRows {
    static let scenarioColumns = """
        id, fingerprint, source, host, check_name, severity, summary, status, occurrences,
        opened_at, updated_at, resolved_at, acknowledged_by, previous_id, silenced_until
        """

    static func scenario(_ row: Row) throws -> Scenario {
        let id: Int64 = row["id"]
        return Scenario(
            id: id, fingerprint: row["fingerprint"], source: row["source"], host: row["host"],
            check: row["check_name"],
            severity: try decode(Severity.self, row["severity"], table: "scenarios", id: id, column: "severity"),
            summary: row["summary"],
            status: try decode(ScenarioStatus.self, row["status"], table: "scenarios", id: id, column: "status"),
            occurrences: row["occurrences"],
            openedAt: Date(millisecondsSince1970: row["opened_at"]),
            updatedAt: Date(millisecondsSince1970: row["updated_at"]),
            resolvedAt: (row["resolved_at"] as Int64?).map(Date.init(millisecondsSince1970:)),
            acknowledgedBy: row["acknowledged_by"],
            previousID: row["previous_id"],
            silencedUntil: (row["silenced_until"] as Int64?).map(Date.init(millisecondsSince1970:)))
    }

    static let eventColumns = "id, scenario_id, at, actor, kind, data"

    static func event(_ row: Row) throws -> ScenarioEvent {
        let id: Int64 = row["id"]
        let kind = try decode(EventKind.self, row["kind"], table: "events", id: id, column: "kind")
        let data: String = row["data"]
        let body: EventBody
        do {
            body = try EventBody(kind: kind, jsonData: Data(data.utf8))
        } catch {
            throw corrupt(table: "events", id: id, column: "data", "\(kind.rawValue) payload \(data) does not decode: \(error)")
        }
        return ScenarioEvent(
            id: id, scenarioID: row["scenario_id"], at: Date(millisecondsSince1970: row["at"]), actor: row["actor"],
            body: body)
    }

    static let alertColumns = """
        id, source, fingerprint, host, check_name, severity, status, summary, labels, details, idempotency_key, received_at
        """

    static func alert(_ row: Row) throws -> (id: Int64, alert: Alert) {
        let id: Int64 = row["id"]
        let labelsText: String = row["labels"]
        guard case .object(let members)? = try? JSONParser.parse(Data(labelsText.utf8)) else {
            throw corrupt(table: "alerts", id: id, column: "labels", "\(labelsText) is not a JSON object")
        }
        var details: JSONValue?
        if let text: String = row["details"] {
            do { details = try JSONParser.parse(Data(text.utf8)) } catch {
                throw corrupt(table: "alerts", id: id, column: "details", "\(text) is not JSON: \(error)")
            }
        }
        let alert = Alert(
            source: row["source"], host: row["host"], check: row["check_name"],
            severity: try decode(Severity.self, row["severity"], table: "alerts", id: id, column: "severity"),
            status: try decode(AlertStatus.self, row["status"], table: "alerts", id: id, column: "status"),
            summary: row["summary"], labels: members.compactMapValues { if case .string(let value) = $0 { value } else { nil } },
            details: details, fingerprint: row["fingerprint"], idempotencyKey: row["idempotency_key"],
            receivedAt: Date(millisecondsSince1970: row["received_at"]))
        return (id, alert)
    }

    static let outboxColumns = """
        id, scenario_id, purpose, text, buttons, transport, reply_transport, reply_chat, reply_message_id, chat,
        created_at, attempts, sent_at, key, route
        """

    static func outboxDraft(_ row: Row) throws -> OutboxDraft {
        let id: Int64 = row["id"]
        var replyTo: MessageRef?
        if let transport: String = row["reply_transport"], let chat: String = row["reply_chat"],
            let messageID: String = row["reply_message_id"]
        {
            replyTo = MessageRef(transport: transport, chat: chat, messageID: messageID)
        }
        var buttons: [ChatButton] = []
        if let json: String = row["buttons"] {
            do {
                buttons = try JSONDecoder().decode([ChatButton].self, from: Data(json.utf8))
            } catch {
                throw corrupt(table: "outbox", id: id, column: "buttons", "\(json) does not decode: \(error)")
            }
        }
        return OutboxDraft(
            scenarioID: row["scenario_id"],
            purpose: try decode(OutboxDraft.Purpose.self, row["purpose"], table: "outbox", id: id, column: "purpose"),
            text: row["text"], replyTo: replyTo, chat: row["chat"], buttons: buttons, transport: row["transport"],
            key: row["key"], route: row["route"])
    }

    static let inboxColumns = """
        id, transport, delivery_id, kind, chat, message_id, user_id, display_name, text, reply_transport, reply_chat,
        reply_message_id
        """

    static func incomingMessage(_ row: Row) throws -> IncomingMessage {
        let id: Int64 = row["id"]
        var replyTo: MessageRef?
        if let transport: String = row["reply_transport"], let chat: String = row["reply_chat"],
            let messageID: String = row["reply_message_id"]
        {
            replyTo = MessageRef(transport: transport, chat: chat, messageID: messageID)
        }
        return IncomingMessage(
            ref: MessageRef(transport: row["transport"], chat: row["chat"], messageID: row["message_id"]),
            userID: row["user_id"], displayName: row["display_name"], text: row["text"], replyTo: replyTo,
            kind: try decode(IncomingMessage.Kind.self, row["kind"], table: "inbox", id: id, column: "kind"),
            deliveryID: row["delivery_id"], inboxID: id)
    }

    static func outboxMessage(_ row: Row) throws -> OutboxMessage {
        OutboxMessage(
            id: row["id"], draft: try outboxDraft(row), createdAt: Date(millisecondsSince1970: row["created_at"]),
            attempts: row["attempts"])
    }

    /// Buttons as stored: `[{"command":…,"label":…}]` (what `JSONEncoder` writes for them, and
    /// what `outboxDraft` decodes), written directly: `JSONEncoder` was a twentieth of the
    /// intake transaction's time.
    static func json(_ buttons: [ChatButton]) -> String {
        JSONValue.array(buttons.map { .object(["command": .string($0.command), "label": .string($0.label)]) }).compactJSON
    }

    private static func decode<T: RawRepresentable>(
        _ type: T.Type, _ raw: String, table: String, id: Int64, column: String
    ) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: raw) else {
            throw corrupt(table: table, id: id, column: column, "unknown value \"\(raw)\"")
        }
        return value
    }

    private static func corrupt(table: String, id: Int64, column: String, _ detail: String) -> ScenarioStoreError {
        ScenarioStoreError(
            .corruptData,
            "\(table) row \(id), column \(column): \(detail); the file was edited by hand or by a newer TeleOps; "
                + "restore it from a backup or fix the row with the sqlite3 shell")
    }
}
