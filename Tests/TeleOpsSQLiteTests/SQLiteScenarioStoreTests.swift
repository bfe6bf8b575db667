import Foundation
import GRDB
import Synchronization
import TeleOpsCore
import TeleOpsSQLite
import Testing

@Suite("SQLiteScenarioStore")
struct SQLiteScenarioStoreTests {
    static func alert(_ check: String, status: AlertStatus = .firing, at seconds: Double = 0) -> Alert {
        Alert(
            source: "generic", host: "web-1", check: check, severity: .error, status: status, summary: "\(check) broke",
            labels: ["team": "ops", "env": "prod"], details: ["used_pct": 95.5, "mount": "/var"],
            receivedAt: Date(timeIntervalSince1970: 1_750_000_000.123_456 + seconds))
    }

    static let announce: IngestComposer = { alert, outcome, _ in
        outcome.disposition == .opened
            ? [OutboxDraft(scenarioID: outcome.scenarioID, purpose: .announcement, text: alert.summary, chat: "ops")] : []
    }

    @Test func everythingSurvivesCloseAndReopen() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("nested/dirs/teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            let outcomes = try await store.ingest([Self.alert("disk"), Self.alert("cpu"), Self.alert("disk", at: 1)],
                                                  compose: Self.announce)
            let id = try #require(outcomes[0].scenarioID)
            try await store.append(
                [NewEvent(scenarioID: id, at: Date(timeIntervalSince1970: 1_750_000_100.5), actor: "ana", body: .acknowledged)],
                outbox: [OutboxDraft(scenarioID: id, purpose: .reply, text: "ack",
                                     replyTo: MessageRef(transport: "telegram", chat: "-1", messageID: "9"))])
            let pending = try await store.pendingOutbox(limit: 10)
            try await store.markSent(outboxID: pending[0].id, as: MessageRef(transport: "telegram", chat: "-1", messageID: "10"))
            try await store.markFailed(outboxID: pending[1].id, reason: "timeout", giveUp: false)

            let scenarios = try await store.scenarios(ScenarioQuery())
            let events = try await store.events(of: id)
            let stillPending = try await store.pendingOutbox(limit: 10)
            try store.close()

            let reopened = try SQLiteScenarioStore(path: path)
            #expect(try await reopened.scenarios(ScenarioQuery()) == scenarios)
            #expect(try await reopened.events(of: id) == events)
            #expect(try await reopened.pendingOutbox(limit: 10) == stillPending)
            #expect(stillPending.map(\.attempts) == [1, 0])
            #expect(try await reopened.scenarioID(for: MessageRef(transport: "telegram", chat: "-1", messageID: "10")) == id)
            #expect(events.map(\.kind) == [.alertFired, .alertRepeated, .acknowledged, .notified])
            let next = try await reopened.ingest([Self.alert("disk", at: 2)], compose: Self.announce)
            #expect(next[0].disposition == .repeated, "the reopened store still knows the active scenario")
            #expect(next[0].alertID == 4)
            try reopened.close()
        }
    }

    @Test func writerIsWALWithFullSyncForeignKeysAndFTS5() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            let diagnostics = try await store.diagnostics()
            #expect(diagnostics.journalMode == "wal")
            #expect(diagnostics.synchronous == 2, "synchronous must be FULL (2)")
            #expect(diagnostics.foreignKeys)
            #expect(diagnostics.busyTimeoutMilliseconds == Int(SQLiteScenarioStore.busyTimeout * 1000))
            #expect(diagnostics.hasFTS5, "full-text search of scenarios needs SQLite built with FTS5")
            #expect(diagnostics.migrations == ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10"])
            try store.close()
        }
    }

    @Test func concurrentIngestsLandWithDistinctIdsAndOneActiveScenarioPerFingerprint() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            let checks = ["disk", "cpu", "mem", "net"]
            let outcomes = try await withThrowingTaskGroup(of: [IngestOutcome].self) { group in
                for index in 0..<64 {
                    group.addTask {
                        try await store.ingest([Self.alert(checks[index % 4], at: Double(index))], compose: Self.announce)
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(outcomes.count == 64)
            #expect(Set(outcomes.map(\.alertID)) == Set(1...64))
            #expect(outcomes.filter { $0.disposition == .opened }.count == 4)
            let active = try await store.scenarios(ScenarioQuery(status: .open))
            #expect(active.count == 4)
            #expect(Set(active.map(\.fingerprint)).count == 4)
            #expect(active.allSatisfy { $0.occurrences == 16 })
            #expect(try await store.pendingOutbox(limit: 100).count == 4)
            try store.close()
        }
    }

    @Test func aSecondInstanceOnTheSameFileSeesTheFirstsWrites() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let server = try SQLiteScenarioStore(path: path)
            let cli = try SQLiteScenarioStore(path: path)
            let opened = try await server.ingest([Self.alert("disk")], compose: Self.announce)
            let id = try #require(opened[0].scenarioID)
            #expect(try await cli.scenarios(ScenarioQuery()).map(\.id) == [id])
            try await cli.append([NewEvent(scenarioID: id, actor: "ana", body: .note(NoteFacts(text: "from the CLI")))], outbox: [])
            #expect(try await server.events(of: id).map(\.kind) == [.alertFired, .note])
            async let fromServer = server.ingest([Self.alert("cpu")], compose: Self.announce)
            async let fromCLI = cli.ingest([Self.alert("cpu", at: 1)], compose: Self.announce)
            let both = try await fromServer + fromCLI
            #expect(both.map(\.disposition).sorted { $0.rawValue < $1.rawValue } == [.opened, .repeated])
            try cli.close()
            try server.close()
        }
    }

    @Test func aFileFromANewerTeleOpsIsRefusedAndLeftAlone() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            try SQLiteScenarioStore(path: path).close()
            try runSQLite(path, "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
            let error = #expect(throws: ScenarioStoreError.self) { try SQLiteScenarioStore(path: path) }
            #expect(error?.code == .newerSchema)
            #expect(error?.message.contains("v99-from-the-future") == true)
            #expect(error?.message.contains(path) == true)
        }
    }

    @Test func aPathThatCannotBeOpenedSaysWhichAndWhy() async throws {
        try await withTemporaryDirectory { directory in
            let error = #expect(throws: ScenarioStoreError.self) { try SQLiteScenarioStore(path: directory.path) }
            #expect(error?.code == .cannotOpen)
            #expect(error?.message.contains(directory.path) == true)
            let notADatabase = directory.appendingPathComponent("notes.txt")
            try Data(String(repeating: "not sqlite\n", count: 200).utf8).write(to: notADatabase)
            let second = #expect(throws: ScenarioStoreError.self) { try SQLiteScenarioStore(path: notADatabase.path) }
            #expect(second?.code == .cannotOpen)
        }
    }

    @Test func aRowItCannotReadIsReportedWithTableRowAndColumn() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            let id = try #require(try await store.ingest([Self.alert("disk")], compose: Self.announce)[0].scenarioID)
            try runSQLite(path, "INSERT INTO events (scenario_id, at, actor, kind, data) VALUES (\(id), 0, 'x', 'teleported', '{}')")
            let error = await #expect(throws: ScenarioStoreError.self) { try await store.events(of: id) }
            #expect(error?.code == .corruptData)
            #expect(error?.message.contains("events row 2, column kind") == true)
            #expect(error?.message.contains("teleported") == true)
            try store.close()
        }
    }

    /// The WAL is copied into the database file beside the writer, which then starts the WAL
    /// again from its beginning at its next commit; the writer only checkpoints by itself as a
    /// backstop, far later than SQLite's default of 1,000 pages.
    @Test func aBackgroundCheckpointLetsTheWriterStartTheWALAgain() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            for index in 0..<40 {
                _ = try await store.ingest([Self.alert("check-\(index)")], compose: Self.announce)
            }
            let first = try #require(try await store.checkpointInBackground())
            #expect(first.walPages > 40, "every commit added pages")
            #expect(first.copied == first.walPages, "nothing else was writing: all of it copied")
            _ = try await store.ingest([Self.alert("one-more")], compose: Self.announce)
            let second = try #require(try await store.checkpointInBackground())
            #expect(second.walPages > 0 && second.walPages < first.walPages, "the WAL started again from its beginning")
            #expect(try await store.scenarios(ScenarioQuery(limit: 100)).count == 41)
            try store.close()
            let reopened = try SQLiteScenarioStore(path: path)
            #expect(try await reopened.scenarios(ScenarioQuery(limit: 100)).count == 41)
            try reopened.close()
        }
    }

    /// A repeat changes the scenario's counters and time, none of its indexed columns: it must
    /// not rewrite their index entries (SQLite does for every column an UPDATE names, same
    /// value or not). Pages are counted in the WAL, each write starting from an empty one.
    @Test func aRepeatWritesNoIndexOfTheScenarioItJoins() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            func pages(_ status: AlertStatus, at seconds: Double) async throws -> Int {
                try await store.checkpoint()
                _ = try await store.ingest([Self.alert("disk", status: status, at: seconds)]) { _, _, _ in [] }
                return try #require(try await store.checkpointInBackground()).walPages
            }
            _ = try await pages(.firing, at: 0)
            let repeated = try await pages(.firing, at: 1)
            let resolved = try await pages(.resolved, at: 2)
            let indexes = try await DatabaseQueue(path: path).read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'scenarios'") ?? 0
            }
            // The alert (row and index), the event (row and two indexes), the scenario's row, and
            // the sequence of ids; the file header where the file grew.
            #expect(repeated <= 8, "a repeat wrote \(repeated) pages")
            // A resolve changes the status: its index and the resolved scenarios' index besides.
            #expect(resolved <= repeated + 2, "a resolve wrote \(resolved) pages")
            #expect(indexes >= 6, "the scenario has indexes a full update would rewrite")
            try store.close()
        }
    }

    /// Another connection's TRUNCATE checkpoint, waiting for a reader, holds SQLite's
    /// checkpoint lock: a background checkpoint then answers nil at once instead of failing.
    @Test func aBackgroundCheckpointBesideAnotherOneSaysSoAndWaitsForNothing() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("teleops.sqlite").path
            let store = try SQLiteScenarioStore(path: path)
            _ = try await store.ingest([Self.alert("before")], compose: Self.announce)
            let reader = try DatabaseQueue(path: path)
            var settings = Configuration()
            settings.busyMode = .timeout(10)
            let other = try DatabaseQueue(path: path, configuration: settings)
            // A reader holds a snapshot (on a thread of its own, inside one read), and a later
            // commit leaves WAL pages it may still need.
            let holding = Mutex(false)
            let release = DispatchSemaphore(value: 0)
            Thread {
                try? reader.read { db in
                    _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM scenarios")
                    holding.withLock { $0 = true }
                    release.wait()
                }
            }.start()
            while !holding.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            _ = try await store.ingest([Self.alert("after")], compose: Self.announce)
            let truncating = Task { try await other.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") } }
            try await Task.sleep(for: .milliseconds(300))  // it copies what it can, then waits for the reader
            let clock = ContinuousClock()
            let start = clock.now
            let result = try await store.checkpointInBackground()
            #expect(result == nil, "another checkpoint is running")
            #expect(clock.now - start < .seconds(2), "answered at once, not after the other's wait")
            release.signal()
            try await truncating.value
            #expect(try #require(try await store.checkpointInBackground()).walPages == 0, "the other one truncated the WAL")
            try reader.close()
            try other.close()
            try store.close()
        }
    }

    /// The console's next run numbers on from the highest `out-N` its store mapped; other
    /// transports' ids and ids without a number after the prefix do not count.
    @Test func theHighestMessageNumberOfATransport() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            #expect(try store.highestMessageNumber(transport: "console", prefix: "out-") == 0, "nothing yet")
            let id = try #require(try await store.ingest([Self.alert("disk")]) { _, _, _ in [] }.first?.scenarioID)
            let refs = [MessageRef(transport: "console", chat: "console", messageID: "out-9"),
                        MessageRef(transport: "console", chat: "console", messageID: "out-12"),
                        MessageRef(transport: "console", chat: "console", messageID: "in-40"),
                        MessageRef(transport: "telegram", chat: "-1", messageID: "out-77")]
            try await store.append([], outbox: refs.map { _ in OutboxDraft(scenarioID: id, purpose: .reply, text: "r") })
            for (message, ref) in zip(try await store.pendingOutbox(limit: 10), refs) {
                try await store.markSent(outboxID: message.id, as: ref)
            }
            #expect(try store.highestMessageNumber(transport: "console", prefix: "out-") == 12, "12, not 9: numbers, not text")
            try store.close()
        }
    }
}
