import CShims
import Glibc

/// What to do with the child's stdout and stderr.
enum SpawnOutput {
    /// Both dup2'd onto this (write end of a) pipe, interleaved as written.
    case pipe(writeEnd: Int32)
    /// Inherited from this process (used for worker processes, whose logs go to our stderr).
    case inherit
}

/// A failed posix_spawn: the errno it returned.
struct SpawnError: Error, CustomStringConvertible {
    var code: Int32
    var program: String

    var description: String { "cannot start '\(program)': \(String(cString: strerror(code))) (errno \(code))" }

    /// Shell conventions: 127 for "not found", 126 for "found but cannot run".
    var exitCode: Int32 { code == ENOENT || code == ENOTDIR ? 127 : 126 }
}

/// The PATH commands get when their environment has none.
public let defaultPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/// Spawns `program` (default `argv[0]`) with `argv` in a new process group whose id is the child's pid, with every signal at its
/// default disposition, an empty signal mask, stdin from /dev/null and exactly `environment`.
///
/// The program is looked up in the PATH of `environment` (not ours), then given to posix_spawnp
/// as a path. glibc's posix_spawn uses CLONE_VFORK, so when this returns the child is in its
/// group and an exec failure has been reported as an error.
func spawnInGroup(
    program: String? = nil, argv: [String], environment: [String: String], workingDirectory: String?,
    output: SpawnOutput
) -> Result<pid_t, SpawnError> {
    guard let program = program ?? argv.first, !program.isEmpty else {
        return .failure(SpawnError(code: ENOENT, program: ""))
    }
    var environment = environment
    if environment["PATH"] == nil { environment["PATH"] = defaultPATH }
    guard let path = resolveProgram(program, searchPath: environment["PATH"] ?? defaultPATH) else {
        return .failure(SpawnError(code: ENOENT, program: program))
    }

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    posix_spawnattr_setpgroup(&attributes, 0)
    var defaults = sigset_t()
    sigfillset(&defaults)  // glibc leaves out its internal signals
    sigdelset(&defaults, SIGKILL)
    sigdelset(&defaults, SIGSTOP)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    if case .pipe(let writeEnd) = output {
        // dup2 clears O_CLOEXEC on 1 and 2; the original write end (O_CLOEXEC) closes at exec.
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
    }
    if let workingDirectory {
        teleops_spawn_file_actions_addchdir(&actions, workingDirectory)
    }

    let cArgv = argv.map { strdup($0) } + [nil]
    let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        cArgv.forEach { free($0) }
        cEnv.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, path, &actions, &attributes, cArgv, cEnv)
    guard rc == 0 else { return .failure(SpawnError(code: rc, program: program)) }
    return .success(pid)
}

/// `program` itself when it contains a slash, else the first executable `dir/program` in `searchPath`.
func resolveProgram(_ program: String, searchPath: String) -> String? {
    if program.contains("/") { return program }
    for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
        let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
        var info = stat()
        if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
            return candidate
        }
    }
    return nil
}

/// A decoded `waitpid` status.
struct WaitStatus {
    var raw: Int32

    /// The exit code when the process exited by itself (WIFEXITED / WEXITSTATUS).
    var exitCode: Int32? { raw & 0x7f == 0 ? (raw >> 8) & 0xff : nil }
    /// The signal that ended it (WIFSIGNALED / WTERMSIG).
    var signal: Int32? {
        let low = raw & 0x7f
        return low != 0 && low != 0x7f ? low : nil
    }

    /// "exit 3", "killed by signal 9".
    var description: String {
        if let exitCode { return "exit \(exitCode)" }
        if let signal { return "killed by signal \(signal)" }
        return "status \(raw)"
    }
}
