import CShims
import Foundation
import Logging
import Testing
@testable import TeleOpsDispatch
import TeleOpsTesting

/// Orphaned grandchildren of test commands are reparented to the test process, so the executor
/// can reap them (PID 1 on this VM does not).
let becomeSubreaper: Void = { _ = teleops_set_child_subreaper(1) }()

func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["TELEOPS_TEST_LOG"] == nil ? .critical : .debug
    return logger
}

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Waits for `condition` to hold, checking every few milliseconds; throws after `timeout`.
/// Used where there is no signal to await (e.g. another process's state).
func eventually(_ what: String, timeout: Duration = .seconds(5),
                _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    if try await condition() { return }
    throw TimedOut(what: what)
}

/// Runs `operation`, failing if it takes longer than `timeout` (without waiting for an
/// operation that ignores cancellation: see TeleOpsTesting's `withDeadline`).
func withDeadline<T: Sendable>(_ what: String, _ timeout: Duration = .seconds(10),
                               _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await TeleOpsTesting.withDeadline(timeout, what: what, operation)
}

/// Processes whose process group is `pgid`, from /proc/*/stat: (pid, state letter).
func processes(inGroup pgid: Int32) -> [(pid: Int32, state: Character)] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var found: [(Int32, Character)] = []
    for entry in entries {
        guard let pid = Int32(entry),
              let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 3, let group = Int32(fields[2]), group == pgid else { continue }
        found.append((pid, fields[0].first ?? "?"))
    }
    return found
}

/// Whether `pid` exists and is not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
}
