import Foundation
import GRDB
import TeleOpsCore

/// The scenario log's review side in SQL: the full-text index, the hash chain check, and
/// retention. Runs on connections the store hands it (inside a transaction for writes).
enum SQLiteHistory {
    /// A document in the `search` index. Its rowid puts the scenario id in the high 32 bits, so
    /// rowid order is scenario order and one scenario's documents are adjacent: a search walks
    /// the index newest scenario first and stops once it has a page. The low 32 bits hold the
    /// alert id (with bit 31 set) or the event id, each below 2^31.
    enum SearchRow {
        case alert(Int64, scenarioID: Int64)
        case event(Int64, scenarioID: Int64)

        var rowID: Int64 {
            switch self {
            case .alert(let id, let scenarioID): scenarioID << 32 | 1 << 31 | (id & 0x7FFF_FFFF)
            case .event(let id, let scenarioID): scenarioID << 32 | (id & 0x7FFF_FFFF)
            }
        }

        var scenarioID: Int64 {
            switch self {
            case .alert(_, let scenarioID), .event(_, let scenarioID): scenarioID
            }
        }

        /// Whether the index has read the row this document comes from (`SQLiteSearchIndex.Marks`).
        func isRead(by marks: SQLiteSearchIndex.Marks) -> Bool {
            switch self {
            case .alert(let id, _): marks.alerts.contains(id)
            case .event(let id, _): marks.events.contains(id)
            }
        }

        static func scenarioID(of rowID: Int64) -> Int64 { rowID >> 32 }
        /// The lowest rowid of `scenarioID`'s documents: a search paging below a scenario
        /// looks at rowids under this.
        static func first(of scenarioID: Int64) -> Int64 { scenarioID << 32 }
    }

    /// A row's document in the index.
    struct Document: Sendable {
        var row: SearchRow
        var text: String
    }

    /// Adds a document; `db` is the index's connection (`SQLiteSearchIndex`).
    static func index(_ db: Database, _ text: String, as row: SearchRow) throws {
        try db.cachedStatement(sql: "INSERT INTO search (rowid, body) VALUES (?, ?)").execute(arguments: [row.rowID, text])
    }

    /// The index is contentless: removing a document takes the text it was indexed with.
    static func unindex(_ db: Database, _ text: String, as row: SearchRow) throws {
        try db.cachedStatement(sql: "INSERT INTO search (search, rowid, body) VALUES ('delete', ?, ?)")
            .execute(arguments: [row.rowID, text])
    }

    // MARK: Migration

    /// Chains what was stored before v5, scenario by scenario, and marks the alerts to index.
    /// It indexes nothing itself: v7 drops the index from the store file, and the index file
    /// that replaces it is filled from these rows (`SQLiteSearchIndex`).
    static func backfill(_ db: Database) throws {
        let scenarioIDs = try Int64.fetchAll(db, sql: "SELECT id FROM scenarios ORDER BY id")
        for scenarioID in scenarioIDs {
            var head: String?
            let events = try Row.fetchAll(
                db, sql: "SELECT \(SQLiteRows.eventColumns) FROM events WHERE scenario_id = ? ORDER BY id",
                arguments: [scenarioID])
            for row in events {
                let event = try SQLiteRows.event(row)
                let data: String = row["data"]
                let hash = EventChain.hash(previous: head, scenarioID: scenarioID, at: event.at, actor: event.actor,
                                           kind: event.kind.rawValue, data: Array(data.utf8))
                try db.execute(sql: "UPDATE events SET hash = ? WHERE id = ?", arguments: [hash, event.id])
                head = hash
            }
            try db.execute(sql: "UPDATE scenarios SET head_hash = ? WHERE id = ?", arguments: [head, scenarioID])
            // As intake does: the opening alert, and each later one whose summary differs from
            // the newest firing alert's before it.
            var summary: String?
            let alerts = try Row.fetchAll(
                db, sql: "SELECT id, status, summary FROM alerts WHERE scenario_id = ? ORDER BY id", arguments: [scenarioID])
            for alert in alerts {
                let text: String = alert["summary"]
                if text != summary {
                    try db.execute(sql: "UPDATE alerts SET searchable = 1 WHERE id = ?", arguments: [alert["id"] as Int64])
                }
                if summary == nil || alert["status"] as String == "firing" { summary = text }
            }
        }
    }

    /// Each of a scenario's indexed (`searchable`) alerts with its `SearchText`.
    static func alertTexts(_ db: Database, scenarioID: Int64) throws -> [(Int64, String)] {
        try Row.fetchAll(
            db, sql: "SELECT \(alertTextColumns) FROM alerts WHERE scenario_id = ? AND searchable = 1", arguments: [scenarioID]
        ).map { row in (row["id"], alertText(row)) }
    }

    static let alertTextColumns = "id, summary, host, check_name, source, labels, details"

    /// An alert's `SearchText` from its stored columns (`alertTextColumns`).
    static func alertText(_ row: Row) -> String {
        let labels: [String: String]
        if case .object(let members)? = try? JSONParser.parse(Data((row["labels"] as String).utf8)) {
            labels = members.compactMapValues { if case .string(let value) = $0 { value } else { nil } }
        } else {
            labels = [:]
        }
        let details = (row["details"] as String?).flatMap { try? JSONParser.parse(Data($0.utf8)) }
        return SearchText.ofAlert(summary: row["summary"], host: row["host"], check: row["check_name"],
                                  source: row["source"], labels: labels, details: details)
    }

    /// An event's `SearchText`, nil when it has none (its kind's payload is then not decoded).
    /// An event whose payload does not decode (`SQLiteRows.event`) has none either: the index
    /// skips it rather than stopping at it.
    static func eventText(_ row: Row) -> String? {
        guard let kind = EventKind(rawValue: row["kind"]), SearchText.mayHaveText(kind) else { return nil }
        return (try? SQLiteRows.event(row)).flatMap { SearchText.of($0.body) }
    }

    // MARK: Documents for the index

    /// What a step of the index reads: documents, how many rows, and the marks once they are read.
    struct Pending: Sendable {
        var documents: [Document] = []
        var rows = 0
        var through: SQLiteSearchIndex.Marks
    }

    /// Up to `limit` alerts and `limit` events above the marks, oldest first.
    static func pending(_ db: Database, after marks: SQLiteSearchIndex.Marks, limit: Int) throws -> Pending {
        var pending = Pending(through: marks)
        try read(db, "alerts", where: "id > ? ORDER BY id", marks.alerts.mark, limit, into: &pending) { $0.alerts.mark = $1 }
        try read(db, "events", where: "id > ? ORDER BY id", marks.events.mark, limit, into: &pending) { $0.events.mark = $1 }
        return pending
    }

    /// Adds up to `limit` alerts and `limit` events below the floors, newest first; a table
    /// with fewer left has its floor at 1 (all read).
    static func pending(_ db: Database, below marks: SQLiteSearchIndex.Marks, limit: Int, into pending: inout Pending) throws {
        for (table, range, floor) in [("alerts", marks.alerts, \SQLiteSearchIndex.Marks.alerts.floor),
                                      ("events", marks.events, \SQLiteSearchIndex.Marks.events.floor)] where range.hasRowsBelow {
            let before = pending.rows
            try read(db, table, where: "id < ? ORDER BY id DESC", range.floor, limit, into: &pending) { $0[keyPath: floor] = $1 }
            if pending.rows - before < limit { pending.through[keyPath: floor] = 1 }
        }
    }

    /// Reads rows of `table` (alerts or events) into `pending`, and moves the marks past each
    /// with `moved`.
    private static func read(
        _ db: Database, _ table: String, where condition: String, _ bound: Int64, _ limit: Int, into pending: inout Pending,
        moved: (inout SQLiteSearchIndex.Marks, Int64) -> Void
    ) throws {
        let columns = table == "alerts" ? "\(alertTextColumns), scenario_id, searchable" : SQLiteRows.eventColumns
        let rows = try Row.fetchCursor(db, sql: "SELECT \(columns) FROM \(table) WHERE \(condition) LIMIT ?", arguments: [bound, limit])
        while let row = try rows.next() {
            let id: Int64 = row["id"]
            pending.rows += 1
            moved(&pending.through, id)
            if table == "alerts" {
                guard let scenarioID: Int64 = row["scenario_id"], row["searchable"] as Bool else { continue }
                pending.documents.append(Document(row: .alert(id, scenarioID: scenarioID), text: alertText(row)))
            } else if let text = eventText(row) {
                pending.documents.append(Document(row: .event(id, scenarioID: row["scenario_id"]), text: text))
            }
        }
    }

    /// Every document of the scenarios, read or not by the index (removing one takes its text).
    static func documents(_ db: Database, ofScenarios scenarioIDs: [Int64]) throws -> [Document] {
        var documents: [Document] = []
        for scenarioID in scenarioIDs {
            for (alertID, text) in try alertTexts(db, scenarioID: scenarioID) {
                documents.append(Document(row: .alert(alertID, scenarioID: scenarioID), text: text))
            }
            let events = try Row.fetchCursor(
                db, sql: "SELECT \(SQLiteRows.eventColumns) FROM events WHERE scenario_id = ?", arguments: [scenarioID])
            while let row = try events.next() {
                guard let text = eventText(row) else { continue }
                documents.append(Document(row: .event(row["id"], scenarioID: scenarioID), text: text))
            }
        }
        return documents
    }

    // MARK: Chain

    /// Walks scenarios in id order, each with its events and its alerts in id order (three
    /// cursors side by side, the alerts' on `alerts_scenario`), without holding more than one
    /// scenario's events and alerts in memory.
    static func verify(_ db: Database, against checkpoint: ChainCheckpoint?) throws -> ChainReport {
        let prunedBelow = try Int64.fetchOne(db, sql: "SELECT value FROM store_meta WHERE name = 'pruned_below'") ?? 0
        var verifier = ChainVerifier(prunedBelow: prunedBelow, against: checkpoint)
        let scenarios = try Row.fetchCursor(db, sql: verifiedScenariosSQL)
        let events = try Row.fetchCursor(
            db, sql: "SELECT id, scenario_id, at, actor, kind, data, hash FROM events ORDER BY scenario_id, id")
        let alerts = try Row.fetchCursor(db, sql: verifiedAlertsSQL)
        var pending: (scenarioID: Int64, event: ChainVerifier.StoredEvent)?
        pending = try events.next().map(storedEvent)
        var pendingAlert: (scenarioID: Int64, id: Int64, row: AlertRow)?
        pendingAlert = try alerts.next().map(storedAlert)
        while let scenario = try scenarios.next() {
            let scenarioID: Int64 = scenario[0]
            var chain: [ChainVerifier.StoredEvent] = []
            // Events of scenarios that no longer exist cannot be stored (foreign key); skip any below.
            while let next = pending, next.scenarioID <= scenarioID {
                if next.scenarioID == scenarioID { chain.append(next.event) }
                pending = try events.next().map(storedEvent)
            }
            var rows: [Int64: AlertRow] = [:]
            while let next = pendingAlert, next.scenarioID <= scenarioID {
                if next.scenarioID == scenarioID { rows[next.id] = next.row }
                pendingAlert = try alerts.next().map(storedAlert)
            }
            // A digest is computed only for an alert an event recorded one of.
            verifier.check(scenarioID: scenarioID, head: scenario[1], events: chain, alert: { rows[$0] },
                           columns: storedColumns(scenario))
        }
        let lastAllocated = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'scenarios'") ?? 0
        verifier.finish(lastAllocatedID: lastAllocated)
        return verifier.report
    }

    /// Every scenario with its head, the columns its events are replayed against
    /// (`ScenarioReplay`), cast like the alerts' below, and the fingerprint of the scenario it
    /// names as its previous one (a lookup by id).
    static let verifiedScenariosSQL = """
        SELECT s.id, s.head_hash, CAST(s.fingerprint AS TEXT), CAST(s.source AS TEXT), CAST(s.host AS TEXT),
            CAST(s.check_name AS TEXT), CAST(s.severity AS TEXT), CAST(s.summary AS TEXT), CAST(s.status AS TEXT),
            CAST(s.occurrences AS INTEGER), CAST(s.opened_at AS INTEGER), CAST(s.updated_at AS INTEGER),
            CAST(s.resolved_at AS INTEGER), CAST(s.acknowledged_by AS TEXT), CAST(s.silenced_until AS INTEGER),
            CAST(s.previous_id AS INTEGER), CAST(p.fingerprint AS TEXT)
        FROM scenarios s LEFT JOIN scenarios p ON p.id = s.previous_id
        ORDER BY s.id
        """

    private static func storedColumns(_ row: Row) -> StoredScenarioColumns {
        StoredScenarioColumns(
            fingerprint: row[2], source: row[3], host: row[4], check: row[5], severity: row[6], summary: row[7],
            status: row[8], occurrences: row[9], openedAt: row[10], updatedAt: row[11], resolvedAt: row[12],
            acknowledgedBy: row[13], silencedUntil: row[14], previousID: row[15], previousFingerprint: row[16])
    }

    /// Every alert attached to a scenario, in scenario then id order, with what its digest
    /// covers. The casts keep a value of the wrong type (written behind the store's back) from
    /// stopping the walk: it reads as some other value, and the digest differs.
    static let verifiedAlertsSQL = """
        SELECT CAST(scenario_id AS INTEGER), id, CAST(source AS TEXT), CAST(host AS TEXT), CAST(check_name AS TEXT),
            CAST(severity AS TEXT), CAST(status AS TEXT), CAST(summary AS TEXT), CAST(labels AS TEXT),
            CAST(details AS TEXT), CAST(fingerprint AS TEXT), CAST(idempotency_key AS TEXT), CAST(received_at AS INTEGER)
        FROM alerts INDEXED BY alerts_scenario WHERE scenario_id IS NOT NULL ORDER BY scenario_id, id
        """

    /// An alert row's columns as stored (`AlertRow`): its text is not decoded.
    private static func storedAlert(_ row: Row) -> (Int64, Int64, AlertRow) {
        (row[0], row[1], AlertRow(
            source: row[2], host: row[3], check: row[4], severity: row[5], status: row[6], summary: row[7], labels: row[8],
            details: row[9], fingerprint: row[10], idempotencyKey: row[11], receivedAtMilliseconds: row[12]))
    }

    private static func storedEvent(_ row: Row) -> (Int64, ChainVerifier.StoredEvent) {
        let data: String = row["data"]
        return (row["scenario_id"], ChainVerifier.StoredEvent(
            id: row["id"], at: Date(millisecondsSince1970: row["at"]), actor: row["actor"], kind: row["kind"],
            data: Array(data.utf8), hash: row["hash"]))
    }

    // MARK: Retention

    /// Up to `batch` resolved scenarios that `policy` does not keep, oldest first. A scenario
    /// once named here stays doomed: resolved is final, `now` is fixed, and the count boundary
    /// only rises.
    static func doomed(_ db: Database, _ policy: RetentionPolicy, now: Date, batch: Int) throws -> [Int64] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let maxAge = policy.maxAge {
            conditions.append("COALESCE(resolved_at, updated_at) < ?")
            arguments += [now.addingTimeInterval(-maxAge.secondsValue).millisecondsSince1970]
        }
        if let maxCount = policy.maxCount {
            // The newest `maxCount` scenarios stay: only ids below the oldest of them go.
            let boundary = maxCount <= 0 ? Int64.max : try Int64.fetchOne(
                db, sql: "SELECT id FROM scenarios ORDER BY id DESC LIMIT 1 OFFSET ?", arguments: [maxCount - 1])
            if let boundary {
                conditions.append("id < ?")
                arguments += [boundary]
            }
        }
        guard !conditions.isEmpty else { return [] }
        arguments += [batch]
        return try Int64.fetchAll(
            db, sql: "SELECT id FROM scenarios WHERE status = 'resolved' AND (\(conditions.joined(separator: " OR "))) ORDER BY id LIMIT ?",
            arguments: arguments)
    }

    /// Deletes the scenarios with everything that refers to them (their documents are already
    /// out of the index: `SQLiteSearchIndex.remove`), and moves `pruned_below` past them.
    static func remove(_ db: Database, scenarioIDs: [Int64]) throws {
        for scenarioID in scenarioIDs {
            for sql in [
                "UPDATE scenarios SET previous_id = NULL WHERE previous_id = ?",
                "DELETE FROM messages WHERE scenario_id = ?",
                "DELETE FROM outbox WHERE scenario_id = ?",
                "DELETE FROM alerts WHERE scenario_id = ?",
                "DELETE FROM events WHERE scenario_id = ?",
                "DELETE FROM scenarios WHERE id = ?",
            ] {
                try db.execute(sql: sql, arguments: [scenarioID])
            }
        }
        if let highest = scenarioIDs.max() {
            try db.execute(sql: """
                INSERT INTO store_meta (name, value) VALUES ('pruned_below', ?)
                ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)
                """, arguments: [highest + 1])
        }
    }
}
