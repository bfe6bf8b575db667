import Foundation
import GRDB
import TeleOpsCore
@testable import TeleOpsSQLite
import Testing

/// The full-text index is merged between writes, not in them.
@Suite struct SQLiteSearchMergeTests {
    static func segments(_ store: SQLiteScenarioStore) async throws -> Int {
        try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(DISTINCT segid) FROM search_idx") ?? 0 }
    }

    @Test func intakeAddsSegmentsAndMergingFoldsThemWithoutLosingAMatch() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            for index in 0..<12 {
                let alert = Alert(
                    source: "generic", host: "web-\(index)", check: "disk", severity: .warning, status: .firing,
                    summary: "disk full on web-\(index)", receivedAt: Date(timeIntervalSince1970: 1_750_000_000 + Double(index)))
                _ = try await store.ingest([alert]) { _, _, _ in [] }
            }
            let before = try await Self.segments(store)
            #expect(before >= 12, "one segment per transaction, none merged in it: \(before)")
            var steps = 0
            while try await store.mergeSearchIndex(pages: 4) { steps += 1 }
            let after = try await Self.segments(store)
            #expect(steps >= 1 && after < 4, "\(before) segments → \(after) in \(steps) steps")
            #expect(try await store.scenarios(ScenarioQuery(text: "disk")).count == 12)
            #expect(try await store.scenarios(ScenarioQuery(text: "web-7")).map(\.host) == ["web-7"])
            #expect(try await store.mergeSearchIndex() == false, "nothing left to merge")
        }
    }
}
