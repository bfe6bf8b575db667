import Foundation
import Testing
import TeleOpsTesting

/// The console numbers its messages `out-N`, and the store maps each to its scenario. A
/// restarted controller goes on from the highest number its store has: before, it began again
/// at `out-1`, and the new message took over the old one's place in the store, so an update of
/// the earlier scenario found no announcement to edit.
@Suite(.serialized) struct ConsoleRestartTests {
    @Test func aRestartGoesOnNumberingAndStillEditsTheEarlierAnnouncement() async throws {
        let disk = Data(#"{"host":"web-1","check":"disk_usage","severity":"critical","status":"firing","summary":"/var is 95% full"}"#.utf8)
        let load = Data(#"{"host":"db-1","check":"load","severity":"warning","status":"firing","summary":"load 12"}"#.utf8)
        let first = try await TeleOpsServer()
        let directory = first.dataDirectory
        #expect(try await first.post(disk).status == 202)
        try await first.console("#1 CRITICAL web-1 · disk_usage")
        try await first.waitForEvent("notified", of: 1)
        let firstRun = first.process.stdout.all
        first.process.signal(SIGTERM)
        _ = try await first.process.waitForExit()
        let numbers = firstRun.compactMap { line in line.hasPrefix("(out-") ? Int(line.dropFirst(5).prefix { $0.isNumber }) : nil }
        let highest = try #require(numbers.max(), "the first run printed numbered messages: \(firstRun)")

        let second = try await TeleOpsServer(dataDirectory: directory)
        defer { second.stop() }
        #expect(try await second.post(load).status == 202)
        try await second.console("#2 WARNING db-1 · load")
        let lines = second.process.stdout.all
        let header = try #require(lines.firstIndex { $0.contains("#2 WARNING db-1 · load") }.map { lines[$0 - 1] })
        let number = try #require(header.hasPrefix("(out-") ? Int(header.dropFirst(5).prefix { $0.isNumber }) : nil, "\(header)")
        #expect(number > highest, "numbering goes on after the first run's out-\(highest): \(header)")
        try await second.waitForEvent("notified", of: 2)

        // Scenario #1's announcement, posted by the first run, is still found and edited.
        let mark = second.process.stdout.all.count
        second.process.send("#1 ack")
        try await second.console("#1 acknowledged by operator", from: mark)
        let update = try await second.console("(update to out-", from: mark)
        let after = second.process.stdout.all
        let text = try #require(after.firstIndex(of: update).map { after[$0 + 1] })
        #expect(text.contains("#1 CRITICAL web-1 · disk_usage"), "the update is of #1's announcement: \(update) / \(text)")
    }
}
