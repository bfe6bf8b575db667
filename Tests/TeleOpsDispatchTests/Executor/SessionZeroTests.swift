import Foundation
import Glibc
import TeleOpsTesting
import Testing

private let unshareExecutable = "/usr/bin/unshare"
/// A pid namespace with its own /proc, torn down with unshare.
private let namespaceOptions = ["--pid", "--fork", "--mount", "--mount-proc", "--kill-child"]

/// Whether this process may make such a namespace: root, and not somewhere (a container) that
/// forbids it.
private let canMakePidNamespace: Bool = {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: unshareExecutable) else { return false }
    let command = ([unshareExecutable] + namespaceOptions + ["/bin/true"]).joined(separator: " ")
    return system(command + " >/dev/null 2>&1") == 0
}()

/// The executor works in a process whose own session reads as 0: one that PID 1 started without
/// a session of its own (as some VM inits start every job, this project's CI included), or one
/// whose session began outside its pid namespace. Its commands share that session (they get a
/// process group, not a session), and session 0 also holds the kernel's threads, which the scans
/// otherwise pass over unread (`TaskTree`, docs/isolation.md).
///
/// The executor's tree-kill tests run again here, in this test binary started as the first
/// process of a pid namespace of its own (`unshare`, which takes root), where they see their
/// session as 0.
@Suite(.enabled(if: canMakePidNamespace, "needs root, unshare(1), and leave to make a pid namespace"))
struct SessionZeroTests {
    /// Runs `arguments` in a namespace of its own; its exit status and output lines.
    func inNamespace(_ arguments: [String], timeout: Duration) async throws -> (status: Int32, output: [String]) {
        let process = try RunningProcess(executable: unshareExecutable, arguments: namespaceOptions + arguments)
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
