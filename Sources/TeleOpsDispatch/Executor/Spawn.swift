import CShims
import Glibc
import TeleOpsCore

/// What to do with the child's stdout and stderr.
enum SpawnOutput {
    /// Both dup2'd onto this (write end of a) pipe, interleaved as written.
    case pipe(writeEnd: Int32)
    /// Inherited from this process (used for worker processes, whose logs go to our stderr).
    case inherit
}

/// Why a child could not be started, worded for the person who asked for it:
/// "cannot start 'dff': No such file or directory (errno 2)",
/// "cannot chdir to '/nope': No such file or directory", "unknown user 'nobdy' (no passwd entry)".
struct SpawnError: Error, CustomStringConvertible {
    var description: String
    /// Shell conventions: 127 when the program does not exist, 126 for any other failure to start.
    var exitCode: Int32

    init(_ description: String, exitCode: Int32 = 126) {
        self.description = description
        self.exitCode = exitCode
    }

    /// The program could not be exec'd (or found in PATH): 127 for "not found", else 126.
    static func cannotStart(_ program: String, errno code: Int32) -> SpawnError {
        SpawnError("cannot start '\(program)': \(String(cString: strerror(code))) (errno \(code))",
                   exitCode: code == ENOENT || code == ENOTDIR ? 127 : 126)
    }
}

/// The PATH commands get when their environment has none.
public let defaultPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/// Spawns `program` (default `argv[0]`) with `argv` and exactly `environment` (plus the default
/// PATH when it has none), through `teleops_spawn` (CShims), which sets up the child before exec:
///
/// - a new process group with the child's pid as id, in our session, and no controlling
///   terminal (`setpgid(0, 0)`, then `TIOCNOTTY` when we have a terminal); or, with
///   `newSession`, a new session and process group (`setsid()`), as worker processes get;
/// - every signal at its default disposition and an empty signal mask;
/// - stdin from /dev/null; stdout and stderr onto `output`; every other fd closed at exec;
/// - with `limits`: RLIMIT_CPU (soft, hard one second later), RLIMIT_AS, RLIMIT_NOFILE and
///   RLIMIT_NPROC for each field set, and RLIMIT_CORE 0; without: rlimits as they are;
/// - with `user`/`group`: setgroups, setgid, setuid (root only; see `Credentials`), then a
///   check that setuid(0) fails;
/// - `workingDirectory`, entered as the new user.
///
/// The program is looked up in the PATH of `environment` (not ours) before the child starts.
/// When this returns `.success`, the child has exec'd; any failure before that comes back as a
/// `SpawnError` naming the stage ("cannot switch to user 'nobody': setuid: …"), and the child
/// has been reaped. Blocks until the exec: call it on a dedicated thread.
///
/// The defaults of `limits`, `user` and `group` change nothing, which is what worker processes
/// (`LocalWorkerSupervisor`) get.
func spawnInGroup(
    program: String? = nil, argv: [String], environment: [String: String], workingDirectory: String?,
    output: SpawnOutput, newSession: Bool = false, limits: ResourceLimits? = nil, user: String? = nil,
    group: String? = nil
) -> Result<pid_t, SpawnError> {
    guard let program = program ?? argv.first, !program.isEmpty else {
        return .failure(.cannotStart("", errno: ENOENT))
    }
    var environment = environment
    if environment["PATH"] == nil { environment["PATH"] = defaultPATH }
    guard let path = resolveProgram(program, searchPath: environment["PATH"] ?? defaultPATH) else {
        return .failure(.cannotStart(program, errno: ENOENT))
    }
    let credentials: Credentials?
    switch Credentials.resolve(user: user, group: group) {
    case .success(let resolved): credentials = resolved
    case .failure(let error): return .failure(error)
    }

    let cArgv = argv.map { strdup($0) } + [nil]
    let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    let cPath = strdup(path)
    let cDirectory = workingDirectory.map { strdup($0) } ?? nil
    let groups = credentials?.groups ?? []
    defer {
        cArgv.forEach { free($0) }
        cEnv.forEach { free($0) }
        free(cPath)
        free(cDirectory)
    }

    var failure = teleops_spawn_failure()
    let pid: pid_t = cArgv.withUnsafeBufferPointer { argvBuffer in
        cEnv.withUnsafeBufferPointer { envBuffer in
            groups.withUnsafeBufferPointer { groupBuffer in
                var plan = teleops_spawn_plan()
                plan.path = UnsafePointer(cPath)
                plan.argv = argvBuffer.baseAddress
                plan.envp = envBuffer.baseAddress
                plan.directory = UnsafePointer(cDirectory)
                if case .pipe(let writeEnd) = output { plan.output_fd = writeEnd } else { plan.output_fd = -1 }
                plan.new_session = newSession ? 1 : 0
                plan.tty_fd = SpawnFiles.controllingTerminal
                plan.stdin_fd = SpawnFiles.devNull
                if let limits {
                    plan.apply_limits = 1
                    plan.cpu_seconds = Int64(limits.cpuSeconds ?? -1)
                    plan.address_space_bytes = Int64(limits.addressSpaceBytes ?? -1)
                    plan.open_files = Int64(limits.openFiles ?? -1)
                    plan.processes = Int64(limits.processes ?? -1)
                }
                if let credentials {
                    plan.switch_user = 1
                    plan.uid = credentials.uid
                    plan.gid = credentials.gid
                    plan.groups = groupBuffer.baseAddress
                    plan.group_count = Int32(groupBuffer.count)
                }
                return teleops_spawn(&plan, &failure)
            }
        }
    }
    guard pid < 0 else { return .success(pid) }
    return .failure(SpawnError(failure, program: program, workingDirectory: workingDirectory,
                               credentials: credentials, limits: limits))
}

/// Files every spawn hands its child, opened once per process (close-on-exec, above 2 so that the
/// child's dup2 onto 0, 1 and 2 cannot overwrite them); -1 when they cannot be opened.
enum SpawnFiles {
    /// stdin of every child (the child opens it itself when this is -1).
    static let devNull = open(aboveStandardStreams: "/dev/null", flags: O_RDONLY)
    /// Our controlling terminal, for the child to give up; -1 when we have none (a worker started
    /// by the controller or by a service manager). A process that leads no session never gains
    /// one later, and the controller's local workers lead their sessions but open no terminal, so
    /// one look is enough.
    static let controllingTerminal = open(aboveStandardStreams: "/dev/tty", flags: O_RDONLY | O_NOCTTY)

    private static func open(aboveStandardStreams path: String, flags: Int32) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        guard fd >= 0, fd <= 2 else { return fd }
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        close(fd)
        return moved
    }
}

extension SpawnError {
    /// Words a failure the child (or the fork) reported.
    init(_ failure: teleops_spawn_failure, program: String, workingDirectory: String?, credentials: Credentials?,
         limits: ResourceLimits?) {
        let code = failure.error
        let reason = String(cString: strerror(code))
        let switching = "cannot switch to user '\(credentials?.user ?? "?")' (uid \(credentials?.uid ?? 0), gid \(credentials?.gid ?? 0))"
        func limit(_ name: String, _ resource: String, _ value: Int?) -> SpawnError {
            SpawnError("cannot set the \(name) limit (\(resource)) to \(value.map(String.init) ?? "?"): \(reason)")
        }
        switch teleops_spawn_stage(rawValue: UInt32(failure.stage)) {
        case TELEOPS_SPAWN_STAGE_EXEC: self = .cannotStart(program, errno: code)
        case TELEOPS_SPAWN_STAGE_CHDIR: self.init("cannot chdir to '\(workingDirectory ?? "")': \(reason)")
        case TELEOPS_SPAWN_STAGE_SETGROUPS: self.init("\(switching): setgroups: \(reason)")
        case TELEOPS_SPAWN_STAGE_SETGID: self.init("\(switching): setgid: \(reason)")
        case TELEOPS_SPAWN_STAGE_SETUID: self.init("\(switching): setuid: \(reason)")
        case TELEOPS_SPAWN_STAGE_KEEPS_ROOT: self.init("\(switching): setuid(0) still succeeds after the switch")
        case TELEOPS_SPAWN_STAGE_LIMIT_CPU: self = limit("CPU time", "RLIMIT_CPU", limits?.cpuSeconds)
        case TELEOPS_SPAWN_STAGE_LIMIT_AS: self = limit("address space", "RLIMIT_AS", limits?.addressSpaceBytes)
        case TELEOPS_SPAWN_STAGE_LIMIT_NOFILE: self = limit("open files", "RLIMIT_NOFILE", limits?.openFiles)
        case TELEOPS_SPAWN_STAGE_LIMIT_NPROC: self = limit("processes", "RLIMIT_NPROC", limits?.processes)
        case TELEOPS_SPAWN_STAGE_LIMIT_CORE: self = limit("core file", "RLIMIT_CORE", 0)
        case TELEOPS_SPAWN_STAGE_PIPE: self.init("cannot start '\(program)': pipe: \(reason)")
        case TELEOPS_SPAWN_STAGE_FORK: self.init("cannot start '\(program)': fork: \(reason)")
        case TELEOPS_SPAWN_STAGE_SETSID: self.init("cannot start '\(program)': setsid: \(reason)")
        case TELEOPS_SPAWN_STAGE_SETPGID: self.init("cannot start '\(program)': setpgid: \(reason)")
        case TELEOPS_SPAWN_STAGE_SIGNALS: self.init("cannot start '\(program)': resetting signals: \(reason)")
        case TELEOPS_SPAWN_STAGE_STDIN: self.init("cannot start '\(program)': stdin from /dev/null: \(reason)")
        case TELEOPS_SPAWN_STAGE_OUTPUT: self.init("cannot start '\(program)': output pipe: \(reason)")
        case TELEOPS_SPAWN_STAGE_CLOSE_FDS: self.init("cannot start '\(program)': closing inherited fds: \(reason)")
        default: self.init("cannot start '\(program)': stage \(failure.stage): \(reason)")
        }
    }
}

/// `program` itself when it contains a slash, else the first executable `dir/program` in `searchPath`.
func resolveProgram(_ program: String, searchPath: String) -> String? {
    // A byte search: `contains(_: String)` goes through Foundation, a measurable part of a spawn.
    if program.utf8.contains(UInt8(ascii: "/")) { return program }
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
