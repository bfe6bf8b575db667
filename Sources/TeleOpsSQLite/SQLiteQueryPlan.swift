import Foundation
import GRDB
import TeleOpsCore

/// How a `ScenarioQuery` reads the scenarios table: newest (highest id) first, on the index of
/// its most selective filter, between the ids its time range allows; and with search words, by
/// walking the full-text index and the filters together.
///
/// The plan names its index rather than leaving it to SQLite, which keeps no statistics here
/// (the store never runs ANALYZE) and, guessing, can walk every resolved scenario for one host.
/// The order of preference: an active status (open or acknowledged: few scenarios), then
/// fingerprint, host and check; a resolved status alone reads in id order, as nearly all
/// scenarios are resolved. The other equality filters are written `+column`, which keeps
/// SQLite off their indexes.
///
/// A time range becomes an id range first (`scenarios_opened` holds `opened_at` with the
/// rowid, so the ids of a range are read from the index alone), because ids follow opening
/// time closely but not exactly (an alert's `receivedAt` is taken before its transaction).
/// Reading the range is cheap next to reading rows (a week of the benchmark's history, some
/// 10,000 scenarios, lists in 2 ms with the range read included); a range of more than
/// `boundsScanLimit` scenarios is not read, and the time condition is then checked row by row.
struct SQLiteQueryPlan {
    /// SQL conditions and their arguments, for every filter but `text`, `beforeID` and `limit`.
    var conditions: [String] = []
    var arguments: StatementArguments = []
    /// The highest scenario id that can match (from `beforeID` and the time range).
    var highest: Int64 = .max
    /// The lowest scenario id that can match (from the time range).
    var lowest: Int64 = 1
    /// Whether no scenario can match (an empty time range).
    var isEmpty = false

    static let boundsScanLimit = 200_000
    /// Documents of scenarios the filters ruled out that a search reads past before it starts
    /// its walk of the full-text index again below them.
    static let restartAfter = 1000
    /// The work a count with search words may do (see `search`). At a million scenarios,
    /// halving it from 60,000 took a review page with a word, a host and its counts from 48
    /// to 32 ms at p50 (73 to 48 at p95): within 50 ms at p95.
    static let countBudget = 30_000

    init(_ query: ScenarioQuery, _ db: Database) throws {
        let access: String? =
            if let status = query.status, status.isActive { "status" }
            else if query.fingerprint != nil { "fingerprint" }
            else if query.host != nil { "host" }
            else if query.check != nil { "check_name" }
            else { nil }
        func indexed(_ column: String) -> String { column == access ? column : "+" + column }
        add("\(indexed("status")) = ?", query.status?.rawValue)
        add("\(indexed("fingerprint")) = ?", query.fingerprint)
        add("\(indexed("host")) = ?", query.host)
        add("\(indexed("check_name")) = ?", query.check)
        add("source = ?", query.source)
        add("severity = ?", query.severity?.rawValue)
        add("+opened_at >= ?", query.openedSince?.millisecondsSince1970)
        add("+opened_at < ?", query.openedBefore?.millisecondsSince1970)
        if let engineer = query.engineer {
            conditions.append(
                "(acknowledged_by = ? OR EXISTS (SELECT 1 FROM events WHERE events.actor = ? AND events.scenario_id = scenarios.id))")
            arguments += [engineer, engineer]
        }
        if let beforeID = query.beforeID { highest = beforeID - 1 }
        if query.openedSince != nil || query.openedBefore != nil {
            try bound(since: query.openedSince, before: query.openedBefore, db)
        }
        if let engineer = query.engineer { try bound(engineer: engineer, db) }
        if highest < lowest { isEmpty = true }
    }

    /// Narrows `lowest`...`highest` to the ids of the first and last scenario `engineer` acted
    /// in or owns, each an end of `events_actor` or `scenarios_acknowledged_by`: a page of an
    /// engineer's scenarios starts at their newest one, however many scenarios nobody touched
    /// came after it (an alert storm).
    private mutating func bound(engineer: String, _ db: Database) throws {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT
                    (SELECT max(scenario_id) FROM events INDEXED BY events_actor WHERE actor = ?1) AS acted_high,
                    (SELECT min(scenario_id) FROM events INDEXED BY events_actor WHERE actor = ?1) AS acted_low,
                    (SELECT max(id) FROM scenarios INDEXED BY scenarios_acknowledged_by WHERE acknowledged_by = ?1) AS owned_high,
                    (SELECT min(id) FROM scenarios INDEXED BY scenarios_acknowledged_by WHERE acknowledged_by = ?1) AS owned_low
                """,
            arguments: [engineer])
        let highs = [row?["acted_high"], row?["owned_high"]].compactMap { $0 as Int64? }
        let lows = [row?["acted_low"], row?["owned_low"]].compactMap { $0 as Int64? }
        guard let high = highs.max(), let low = lows.min() else {
            isEmpty = true
            return
        }
        highest = min(highest, high)
        lowest = max(lowest, low)
    }

    private mutating func add(_ condition: String, _ value: (any DatabaseValueConvertible & Sendable)?) {
        guard let value else { return }
        conditions.append(condition)
        arguments += [value]
    }

    /// Narrows `lowest`...`highest` to the ids of the scenarios opened in the range, read from
    /// `scenarios_opened` (at most `boundsScanLimit` entries).
    private mutating func bound(since: Date?, before: Date?, _ db: Database) throws {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT count(*) AS n, min(id) AS low, max(id) AS high FROM (
                    SELECT id FROM scenarios INDEXED BY scenarios_opened WHERE opened_at >= ? AND opened_at < ? LIMIT ?)
                """,
            arguments: [since?.millisecondsSince1970 ?? Int64.min, before?.millisecondsSince1970 ?? Int64.max,
                        Self.boundsScanLimit + 1])
        guard let row, let count: Int = row["n"] else { return }
        if count == 0 {
            isEmpty = true
        } else if count <= Self.boundsScanLimit, let low: Int64 = row["low"], let high: Int64 = row["high"] {
            lowest = max(lowest, low)
            highest = min(highest, high)
        }
    }

    /// The conditions with the id range, and their arguments.
    private func whereClause() -> (String, StatementArguments) {
        var conditions = conditions
        var arguments = arguments
        if highest < .max {
            conditions.append("id <= ?")
            arguments += [highest]
        }
        if lowest > 1 {
            conditions.append("id >= ?")
            arguments += [lowest]
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    // MARK: Without search words

    /// Up to `limit` scenarios, newest first.
    func page(_ db: Database, limit: Int) throws -> [Scenario] {
        guard !isEmpty else { return [] }
        let (clause, arguments) = whereClause()
        return try Row.fetchAll(
            db, sql: "SELECT \(SQLiteRows.scenarioColumns) FROM scenarios \(clause) ORDER BY id DESC LIMIT ?",
            arguments: arguments + [limit]
        ).map(SQLiteRows.scenario)
    }

    /// How many scenarios match, counting at most `cap`.
    func count(_ db: Database, cap: Int) throws -> Int {
        guard !isEmpty, cap > 0 else { return 0 }
        let (clause, arguments) = whereClause()
        // Uncapped, a plain count(*): without conditions SQLite counts the smallest b-tree's
        // cells, three times faster than stepping through the rows of a subquery.
        guard cap < .max else {
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM scenarios \(clause)", arguments: arguments) ?? 0
        }
        return try Int.fetchOne(
            db, sql: "SELECT count(*) FROM (SELECT 1 FROM scenarios \(clause) LIMIT ?)", arguments: arguments + [cap]) ?? 0
    }

    // MARK: With search words

    /// Calls `visit` with each scenario that matches the filters and `terms`, newest first,
    /// until it returns false.
    ///
    /// Two walks, both newest first, take turns (a merge join): the full-text index names the
    /// next scenario with a matching document, and the filters, on their index, the next
    /// scenario at or below it that passes them. When they agree, it is a match; when the
    /// filters name a lower one, the index skips the documents above it, by reading on when
    /// they are few and by starting again below it when they are many. A filter that passes
    /// few scenarios (open ones, one host, one week) is then as quick as the index alone.
    ///
    /// Starting again costs about what reading on past a thousand documents does: at a million
    /// scenarios, a probe from Python measured 190–410 µs per restart of a common word (FTS5
    /// reads a word's documents backwards by loading them) and at most 0.4 µs per document
    /// read on (Python's own cost included). Hence `restartAfter`: like renting before buying,
    /// a walk then costs at most about twice the better of the two. A prefix term is not
    /// restarted: SQLite merges the documents of every word with that prefix each time.
    ///
    /// With a `budget`, the walk also stops once it has done that much work, in rough weights
    /// from the same probe: a document read counts 1, a step of the filters 20, a restart
    /// 1,000. Returns whether the walk went to its end or `visit` ended it, false when the
    /// budget did.
    @discardableResult
    func search(_ db: Database, terms: SearchTerms, budget: Int = .max, visit: (Row) throws -> Bool) throws -> Bool {
        guard !isEmpty else { return true }
        let documents = try db.makeStatement(sql: """
            SELECT rowid FROM \(SQLiteSearchIndex.schema).search WHERE search MATCH ? AND rowid < ? ORDER BY rowid DESC
            """)
        func documentsBelow(_ scenarioID: Int64) throws -> RowCursor {
            let upper = scenarioID >= Int64(Int32.max) ? Int64.max : SQLiteHistory.SearchRow.first(of: scenarioID + 1)
            return try Row.fetchCursor(documents, arguments: [terms.fts5, upper])
        }
        let (clause, arguments) = whereClause()
        let next = try db.makeStatement(
            sql: "SELECT \(SQLiteRows.scenarioColumns) FROM scenarios \(clause.isEmpty ? "WHERE" : clause + " AND") id <= ? ORDER BY id DESC LIMIT 1")
        let restartable = !terms.terms.contains(where: \.isPrefix)
        var ceiling = highest
        var cursor = try documentsBelow(ceiling)
        var skipped = 0
        var work = 0
        while let document = try cursor.next() {
            work += 1
            guard work <= budget else { return false }
            let scenarioID = SQLiteHistory.SearchRow.scenarioID(of: document[0])
            if scenarioID > ceiling {
                skipped += 1
                if restartable, skipped >= Self.restartAfter {
                    cursor = try documentsBelow(ceiling)
                    skipped = 0
                    work += Self.restartAfter
                }
                continue
            }
            skipped = 0
            work += 20
            guard scenarioID >= lowest, let row = try Row.fetchOne(next, arguments: arguments + [scenarioID]) else { return true }
            let id: Int64 = row["id"]
            if id == scenarioID {
                guard try visit(row) else { return true }
                ceiling = id - 1
            } else {
                ceiling = id
            }
        }
        return true
    }
}
