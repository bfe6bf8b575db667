import GRDB
import TeleOpsCore

extension SQLiteScenarioStore {
    /// Pages of the full-text index one `mergeSearchIndex` step writes at most.
    public static let searchMergeStep = 256

    /// One step of folding the full-text index's small segments into larger ones, in a write
    /// transaction of its own; returns whether there was anything to merge.
    ///
    /// Every transaction that indexes text adds a segment to the FTS5 index. By default FTS5
    /// merges them as it goes, inside the transaction that indexes (`automerge`), and in a large
    /// index that doubled the pages each alert's commit writes (29 against 15 for an alert at a
    /// time, 13–27 against 1 with 64 per transaction, at a million scenarios). The index is
    /// created with `automerge` off, so intake only adds its segment, and `SearchIndexMerger`
    /// calls this between writes: it merges a level once it holds 4 segments (`usermerge`), as
    /// `automerge` would have, a bounded number of pages at a time. Should merges fall behind,
    /// FTS5 still merges a level that reaches 16 segments by itself (`crisismerge`).
    ///
    /// A step does not wait for the disk (`writeUnsynced`): losing one in a power cut leaves the
    /// index as it was before it, and a sync per step took one from intake for every alert.
    public func mergeSearchIndex(pages: Int = searchMergeStep) async throws -> Bool {
        try await writeUnsynced { db in
            let before = db.totalChangesCount
            try db.execute(sql: "INSERT INTO search (search, rank) VALUES ('merge', ?)", arguments: [max(1, pages)])
            // FTS5: a difference of 2 or more means the command merged something.
            return db.totalChangesCount - before >= 2
        }
    }
}
