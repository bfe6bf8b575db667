import Foundation
import TeleOpsCore
import TeleOpsTesting
import Testing
@testable import TeleOpsDispatch

/// A command runs in a process group of its own in the worker's session (docs/isolation.md), so
/// a worker started from a terminal must give the terminal up in each command: otherwise `sudo`
/// asking for a password would read from the engineer's terminal, or stop the command on SIGTTIN
/// until its timeout. `script` gives the worker a terminal of its own (a pty) here.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: teleopsExecutable), "the teleops binary is not built"),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "no script(1)"))
struct ControllingTerminalTests {
    @Test func aCommandOfAWorkerWithATerminalHasNone() async throws {
        try await withBroker(agents: []) { broker, endpoint in
            let command = "exec \(teleopsExecutable) worker --connect \(endpoint) --id tty --host '*'"
            let worker = try RunningProcess(executable: "/usr/bin/script", arguments: ["-qefc", command, "/dev/null"])
            defer { worker.stop() }
            try await eventually("the worker registered", timeout: .seconds(30)) { broker.registeredWorkers().count == 1 }
            // Field 7 of /proc/PID/stat is the controlling terminal's device number (0: none).
            let script = "awk '{print $7}' /proc/$PPID/stat; awk '{print $7}' /proc/self/stat; "
                + "if (exec 3</dev/tty) 2>/dev/null; then echo has-tty; else echo no-tty; fi"
            let request = TaskRequest(taskID: UUID().uuidString, action: "tty", host: "any", argv: ["sh", "-c", script],
                                      timeout: .seconds(20), outputLimit: 4096)
            guard case .finished(let result) = await broker.dispatch(request) else {
                Issue.record("the task did not finish")
                return
            }
            let lines = result.output.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(result.output)")
            #expect(lines.first != "0", "the worker should have a terminal: \(result.output)")
            #expect(Array(lines.dropFirst()) == ["0", "no-tty"], "\(result.output)")
        }
    }
}
