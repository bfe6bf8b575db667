import Foundation
import GRDB
import TeleOpsCore
@testable import TeleOpsSQLite
import Testing

/// What `SQLiteQueryPlan` decides on its own: the index a query walks, and where a search walk
/// with a work budget stops. (Its results are the conformance suite's.)
@Suite struct SQLiteQueryPlanTests {
    /// 60 scenarios on web-1..web-3, each with "disk" in its summary, indexed for search.
    static func store(at path: String) async throws -> SQLiteScenarioStore {
        let store = try SQLiteScenarioStore(path: path)
        let alerts = (0..<60).map { index in
            Alert(source: "generic", host: "web-\(index % 3 + 1)", check: "c\(index)", severity: .warning, status: .firing,
                  summary: "disk full", receivedAt: Date(timeIntervalSince1970: 1_750_000_000 + Double(index)))
        }
        _ = try await store.ingest(alerts) { _, _, _ in [] }
        while try await store.indexSearch() > 0 {}
        return store
    }

    @Test func eachQueryWalksTheIndexOfItsMostSelectiveFilter() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await Self.store(at: directory.appendingPathComponent("teleops.sqlite").path)
            func plan(_ query: ScenarioQuery) async throws -> String {
                try await store.pool.read { db in
                    let plan = try SQLiteQueryPlan(query, db)
                    let clause = plan.conditions.isEmpty ? "" : "WHERE " + plan.conditions.joined(separator: " AND ")
                    let rows = try Row.fetchAll(
                        db, sql: "EXPLAIN QUERY PLAN SELECT id FROM scenarios \(clause) ORDER BY id DESC LIMIT 50", arguments: plan.arguments)
                    return rows.map { $0["detail"] as String }.joined(separator: "; ")
                }
            }
            #expect(try await plan(ScenarioQuery(status: .resolved, host: "web-1")).contains("scenarios_host"))
            #expect(try await plan(ScenarioQuery(status: .open, host: "web-1")).contains("scenarios_status"))
            #expect(try await plan(ScenarioQuery(status: .resolved, check: "c1")).contains("scenarios_check"))
            #expect(try await plan(ScenarioQuery(host: "web-1", check: "c1")).contains("scenarios_host"))
            let resolved = try await plan(ScenarioQuery(status: .resolved))
            #expect(!resolved.contains("scenarios_status"), "resolved alone reads in id order: \(resolved)")
        }
    }

    @Test func aCountWithWordsStopsWhenItsBudgetIsSpentAndSaysSo() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await Self.store(at: directory.appendingPathComponent("teleops.sqlite").path)
            let query = ScenarioQuery(host: "web-2", text: "disk")
            let (finished, visited) = try await store.pool.read { db in
                var visited = 0
                let finished = try SQLiteQueryPlan(query, db).search(db, terms: SearchTerms("disk"), budget: 200) { _ in
                    visited += 1
                    return true
                }
                return (finished, visited)
            }
            #expect(!finished && visited > 0 && visited < 20, "stopped after \(visited) of 20")
            #expect(try await store.count(query, upTo: .max) == ScenarioCount(20), "within the store's budget: all 20")
        }
    }
}
