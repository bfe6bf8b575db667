import CShims
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
    private let input: FileHandle
    /// Whether `input` was closed, so that it is closed once: a second close could close a
    /// descriptor number the test process has handed out again meanwhile.
    private let inputClosed = Mutex(false)

    /// Starts `executable` with `posix_spawn`. Foundation's `Process.run()` is not used: on
    /// Linux it intermittently crashes while scanning /proc/self/fd (an over-read fixed in
    /// swift-corelibs-foundation after Swift 6.3.1).
    ///
    /// `blockedSignals` start blocked in the child (and in whatever it execs), to test how a
    /// program copes when a signal it relies on never arrives.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil,
                blockedSignals: [Int32] = []) throws {
        let stdinPipe = try Self.pipe()
        let stdoutPipe = try Self.pipe()
        let stderrPipe = try Self.pipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, 2)
        // Nothing else of the test process (sockets, other children's pipes) leaks in.
        teleops_spawn_file_actions_addclosefrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default dispositions and a mask of only `blockedSignals`, whatever the runner set up.
        var all = sigset_t(), mask = sigset_t()
        sigfillset(&all)
        sigemptyset(&mask)
        for signal in blockedSignals { sigaddset(&mask, signal) }
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = CStrings([executable] + arguments)
        let envp = environment.map { CStrings($0.map { "\($0.key)=\($0.value)" }) }
        var child: pid_t = 0
        let status = argv.withPointers { argvPointers in
            if let envp {
                return envp.withPointers { posix_spawn(&child, executable, &actions, &attributes, argvPointers, $0) }
            }
            return posix_spawn(&child, executable, &actions, &attributes, argvPointers, environ)
        }
        close(stdinPipe.read)
        close(stdoutPipe.write)
        close(stderrPipe.write)
        guard status == 0 else {
            close(stdinPipe.write)
            close(stdoutPipe.read)
            close(stderrPipe.read)
            throw SpawnError(executable: executable, message: String(cString: strerror(status)))
        }
        self.pid = child
        self.input = FileHandle(fileDescriptor: stdinPipe.write, closeOnDealloc: true)
        Self.collect(FileHandle(fileDescriptor: stdoutPipe.read, closeOnDealloc: true), into: stdout, name: "stdout", ended: ended)
        Self.collect(FileHandle(fileDescriptor: stderrPipe.read, closeOnDealloc: true), into: stderr, name: "stderr", ended: ended)
        Self.reap(child, into: exits)
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let executable: String
        public let message: String
        public var description: String { "cannot start \(executable): \(message)" }
    }

    /// Types one line on the process's standard input.
    public func send(_ line: String) {
        input.write(Data((line + "\n").utf8))
    }

    /// Writes `data` to the process's standard input as it is (a file piped in).
    public func write(_ data: Data) {
        input.write(data)
    }

    /// Closes the process's standard input: a program reading it to its end gets there.
    public func closeInput() {
        let close = inputClosed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if close { try? input.close() }
    }

    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    public var isRunning: Bool { exits.count == 0 }

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
        closeInput()
    }

    /// Waits for the child on its own thread; the status is the exit code, or the signal
    /// number when it was killed.
    private static func reap(_ pid: pid_t, into exits: Collector<Int32>) {
        let thread = Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let signal = status & 0x7f
            exits.append(signal == 0 ? (status >> 8) & 0xff : signal)
        }
        thread.name = "test-reaper"
        thread.start()
    }

    /// A pipe whose ends are closed on exec (the child gets its own copies through dup2).
    private static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard teleops_pipe_cloexec(&fds) == 0 else {
            throw SpawnError(executable: "pipe", message: String(cString: strerror(errno)))
        }
        return (fds[0], fds[1])
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

/// NUL-terminated copies of strings for an `argv` or `envp`, freed on deinit.
private final class CStrings {
    private let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    deinit { pointers.forEach { free($0) } }

    func withPointers<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
