import Foundation
import Glibc
import TeleOpsTesting
import Testing

/// The executor works in a process whose own session reads as 0: one that PID 1 started without
/// a session of its own (as some VM inits start every job, this project's CI included), or one
/// whose session began outside its pid namespace. Its commands share that session (they get a
/// process group, not a session), and session 0 also holds the kernel's threads, which the scans
/// otherwise pass over unread (`TaskTree`, docs/isolation.md).
///
/// The executor's tree-kill tests run again here, in this test binary started as the first
/// process of a pid namespace of its own (`unshare`, which takes root), where they see their
/// session as 0.
private let unshareExecutable = "/usr/bin/unshare"

@Suite(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: unshareExecutable),
                "needs root and unshare(1)"))
struct SessionZeroTests {
    /// A pid namespace with its own /proc, torn down with unshare.
    static let namespace = ["--pid", "--fork", "--mount", "--mount-proc", "--kill-child"]

    /// Runs `arguments` in a namespace of its own; its exit status and output lines.
    func inNamespace(_ arguments: [String], timeout: Duration) async throws -> (status: Int32, output: [String]) {
        let process = try RunningProcess(executable: unshareExecutable, arguments: Self.namespace + arguments)
        defer { process.stop() }
        let status = try await process.waitForExit(timeout: timeout)
        try await process.waitForOutputEnd()
        return (status, process.stdout.all + process.stderr.all)
    }

    @Test func theTreeKillTestsPassWhereTheSessionReadsAsZero() async throws {
        // The premise.
        let session = try await inNamespace(["cut", "-d ", "-f6", "/proc/self/stat"], timeout: .seconds(20))
        try #require(session.output == ["0"], "the session as seen in the namespace: \(session.output)")

        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let run = try await inNamespace(
            [bundle, "--testing-library", "swift-testing", "--filter", "ProcessTreeKillTests|ProcessExecutorTests\\."],
            timeout: .seconds(120))
        let failures = run.output.filter { $0.contains("✘") || $0.contains("recorded an issue") }
        #expect(run.status == 0, "\(failures.joined(separator: "\n"))")
        #expect(run.output.contains { $0.contains("Test run with") && $0.contains("passed") },
                "no test ran: \(run.output.suffix(20).joined(separator: "\n"))")
    }
}
