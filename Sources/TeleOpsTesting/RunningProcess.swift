import Foundation
import Synchronization

/// A real child process for black-box tests: its standard output and error are collected
/// line by line (tests wait on them), and lines can be typed on its standard input.
///
/// ```swift
/// let server = try RunningProcess(executable: teleops, arguments: ["serve", "--config", path])
/// let line = try await server.stderr.waitFor(what: "listening") { $0.contains("listening on") }
/// server.send("run disk")
/// ```
public final class RunningProcess: Sendable {
    public let stdout = Collector<String>()
    public let stderr = Collector<String>()
    /// "stdout" and "stderr", each appended when its pipe reaches its end.
    private let ended = Collector<String>()
    /// Receives the exit status once the process has ended.
    private let exits = Collector<Int32>()
    public let pid: Int32
    private let process: LockedProcess
    private let input: FileHandle

    /// `Process` is not Sendable; it is only touched under this lock.
    private final class LockedProcess: @unchecked Sendable {
        let lock = Mutex(())
        let process: Process
        init(_ process: Process) { self.process = process }
    }

    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let exits = self.exits
        process.terminationHandler = { exits.append($0.terminationStatus) }
        try process.run()
        self.pid = process.processIdentifier
        self.process = LockedProcess(process)
        self.input = stdinPipe.fileHandleForWriting
        Self.collect(stdoutPipe.fileHandleForReading, into: stdout, name: "stdout", ended: ended)
        Self.collect(stderrPipe.fileHandleForReading, into: stderr, name: "stderr", ended: ended)
    }

    /// Types one line on the process's standard input.
    public func send(_ line: String) {
        input.write(Data((line + "\n").utf8))
    }

    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    public var isRunning: Bool { process.lock.withLock { _ in process.process.isRunning } }

    /// Waits for the process to exit and returns its status (the signal number if killed).
    public func waitForExit(timeout: Duration = .seconds(20)) async throws -> Int32 {
        try await exits.waitFor(what: "process \(pid) to exit", timeout: timeout) { _ in true }
    }

    /// Waits until both output pipes reached their end (every line is in `stdout` and
    /// `stderr`): after `waitForExit`, the reader threads may still be draining.
    public func waitForOutputEnd(timeout: Duration = .seconds(20)) async throws {
        try await withDeadline(timeout, what: "process \(pid) output to end") {
            while self.ended.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        }
    }

    /// Kills the process if it is still running (for test clean-up).
    public func stop() {
        if isRunning { kill(pid, SIGKILL) }
        try? input.close()
    }

    private static func collect(_ handle: FileHandle, into lines: Collector<String>, name: String, ended: Collector<String>) {
        let thread = Thread {
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)) }
            ended.append(name)
        }
        thread.name = "test-\(name)-reader"
        thread.start()
    }
}
