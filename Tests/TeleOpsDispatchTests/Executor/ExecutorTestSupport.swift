import CShims
import Foundation
import Synchronization
import TeleOpsCore
@testable import TeleOpsDispatch

/// An ExecSpec with test defaults: a short grace, a small PATH, no limits unless given.
func execSpec(
    _ argv: [String], timeout: Duration = .seconds(10), grace: Duration = .milliseconds(200), limit: Int = 65536,
    environment: [String: String] = ["PATH": "/usr/bin:/bin"], directory: String? = nil,
    limits: ResourceLimits = .standard, user: String? = nil, group: String? = nil
) -> ExecSpec {
    ExecSpec(argv: argv, timeout: timeout, killGrace: grace, outputLimit: limit, environment: environment,
             workingDirectory: directory, limits: limits, user: user, group: group)
}

/// The lines of a result's output.
func outputLines(_ result: ExecResult) -> [String] {
    String(decoding: result.output, as: UTF8.self).split(separator: "\n").map(String.init)
}

/// A test command prints `$TELEOPS_TASK_TOKEN` on its first line, then the pids of the
/// processes it leaves behind, one per line: this reads them back.
struct TreeReport {
    var token: String
    var pids: [Int32]

    init(_ result: ExecResult) throws {
        let lines = outputLines(result)
        guard let first = lines.first, first.count == 32 else {
            throw ReportError(text: String(decoding: result.output, as: UTF8.self))
        }
        token = first
        pids = lines.dropFirst().compactMap { Int32($0) }
    }

    struct ReportError: Error, CustomStringConvertible {
        var text: String
        var description: String { "no token on the first line of the output: \(text)" }
    }

    /// What is left of the task: every process that carries its token, and each of its pids
    /// that still exists as one of its processes (alive, or a zombie nobody reaped).
    var leftovers: [String] {
        var found = processesCarrying(token: token).map { "pid \($0) carries the token" }
        for pid in pids where !processesCarrying(token: token).contains(pid) {
            if let stat = procStat(pid), stat.name == "sleep" || stat.name == "sh" {
                found.append("pid \(pid) (\(stat.name)) is still there in state \(stat.state), parent \(stat.parent)")
            }
        }
        return found
    }
}

/// Pids whose /proc/PID/environ holds `TELEOPS_TASK_TOKEN=token`.
func processesCarrying(token: String) -> [Int32] {
    let needle = Array("\(TaskMarker.variable)=\(token)".utf8)
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry -> Int32? in
        guard let pid = Int32(entry),
              let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { return nil }
        let variables = environ.split(separator: 0)
        return variables.contains { Array($0) == needle } ? pid : nil
    }
}

/// /proc/PID/stat: name, state letter, parent pid and process group.
func procStat(_ pid: Int32) -> (name: String, state: Character, parent: Int32, group: Int32)? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 3, let parent = Int32(fields[1]), let group = Int32(fields[2]) else { return nil }
    return (String(stat[stat.index(after: open)..<close]), fields[0].first ?? "?", parent, group)
}

/// Resident memory of a process, in bytes (VmRSS); 0 when it cannot be read.
func residentBytes(of pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kib * 1024
}

/// Collects what `onOutput` is given, in order, and on which thread.
final class OutputRecorder: Sendable {
    private let state = Mutex<(chunks: [[UInt8]], threads: Set<String>)>(([], []))

    var onOutput: @Sendable ([UInt8]) -> Void {
        { [self] chunk in
            var name = [CChar](repeating: 0, count: 32)
            teleops_get_thread_name(&name, name.count)
            let thread = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            state.withLock {
                $0.chunks.append(chunk)
                $0.threads.insert(thread)
            }
        }
    }

    var chunks: [[UInt8]] { state.withLock { $0.chunks } }
    var bytes: [UInt8] { chunks.flatMap { $0 } }
    var threads: Set<String> { state.withLock { $0.threads } }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}
