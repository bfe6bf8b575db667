import CShims
import Glibc
import TeleOpsCore

/// One blocking run of a child process, on the calling (dedicated) thread.
struct ProcessRun {
    let spec: ExecSpec
    let cancel: WakeSignal

    /// How long output is still drained after the group is dead (an escapee may hold the pipe).
    static let drainLimit: Duration = .milliseconds(200)

    func run() -> ExecResult {
        let clock = ContinuousClock()
        let start = clock.now
        var fds: [Int32] = [-1, -1]
        guard teleops_pipe_cloexec(&fds) == 0 else {
            let code = errno
            return ExecResult(exitCode: 126, signal: nil, timedOut: false, duration: .zero, output: [],
                              truncated: false, spawnError: "pipe failed: \(String(cString: strerror(code)))")
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let spawned = spawnInGroup(argv: spec.argv, environment: spec.environment,
                                   workingDirectory: spec.workingDirectory, output: .pipe(writeEnd: writeEnd))
        close(writeEnd)
        guard case .success(let pid) = spawned else {
            close(readEnd)
            if case .failure(let error) = spawned {
                return ExecResult(exitCode: error.exitCode, signal: nil, timedOut: false, duration: clock.now - start,
                                  output: [], truncated: false, spawnError: error.description)
            }
            fatalError("unreachable")
        }
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        var output = OutputCollector(limit: spec.outputLimit)
        defer { output.release() }

        let pgid = pid
        let pidfd = teleops_pidfd_open(pid)  // -1: old kernel; fall back to polling waitpid
        defer { if pidfd >= 0 { close(pidfd) } }
        let deadline = start + spec.timeout
        var status: WaitStatus?
        var timedOut = false
        var termSentAt: ContinuousClock.Instant?
        var killSent = false
        var pipeOpen = true

        while status == nil {
            let now = clock.now
            if termSentAt == nil && now >= deadline {
                timedOut = true
                kill(-pgid, SIGTERM)
                termSentAt = now
            }
            if let termSentAt, !killSent, now >= termSentAt + spec.killGrace {
                kill(-pgid, SIGKILL)
                killSent = true
            }
            var wakeAt: ContinuousClock.Instant? = deadline
            if let termSentAt { wakeAt = killSent ? nil : termSentAt + spec.killGrace }
            var timeout = wakeAt.map { Self.millis(from: now, to: $0) } ?? -1
            if pidfd < 0 { timeout = timeout < 0 ? 5 : min(timeout, 5) }

            var pollfds: [pollfd] = []
            let pipeIndex = pipeOpen ? Self.add(readEnd, to: &pollfds) : -1
            let pidIndex = pidfd >= 0 ? Self.add(pidfd, to: &pollfds) : -1
            let cancelIndex = termSentAt == nil ? Self.add(cancel.fd, to: &pollfds) : -1
            let ready = poll(&pollfds, nfds_t(pollfds.count), timeout)
            if ready < 0 && errno != EINTR { break }  // cannot happen with valid fds; fall to the kill below
            if pipeIndex >= 0 && pollfds[pipeIndex].revents != 0 {
                pipeOpen = output.read(from: readEnd)
            }
            if cancelIndex >= 0 && pollfds[cancelIndex].revents != 0 {
                kill(-pgid, SIGTERM)
                termSentAt = clock.now
            }
            if pidIndex < 0 || pollfds[pidIndex].revents != 0 {
                var raw: Int32 = 0
                let reaped = waitpid(pid, &raw, WNOHANG)
                if reaped == pid {
                    status = WaitStatus(raw: raw)
                } else if reaped < 0 && errno == ECHILD {
                    // Someone else reaped it (a waitpid(-1) elsewhere in the process): status unknown.
                    status = WaitStatus(raw: 0x7f00 | Int32(SIGKILL))
                }
            }
        }
        let ended = clock.now
        killAndReapGroup(pgid)
        if pipeOpen { output.drain(readEnd, until: clock.now + Self.drainLimit) }
        close(readEnd)

        return ExecResult(exitCode: status?.exitCode, signal: status?.signal, timedOut: timedOut,
                          duration: ended - start, output: output.kept, truncated: output.truncated)
    }

    /// SIGKILL to what is left of the group, then reap our children in it until ECHILD, re-sending
    /// SIGKILL each round. Bounded: gives up after 5 s (a process stuck in the kernel).
    private func killAndReapGroup(_ pgid: pid_t) {
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(5)
        while true {
            kill(-pgid, SIGKILL)
            var raw: Int32 = 0
            let reaped = waitpid(-pgid, &raw, WNOHANG)
            if reaped > 0 { continue }
            if reaped < 0 {
                if errno == EINTR { continue }
                return  // ECHILD: none of our children is left in the group
            }
            if clock.now >= giveUp { return }
            usleep(500)
        }
    }

    private static func add(_ fd: Int32, to fds: inout [pollfd]) -> Int {
        fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        return fds.count - 1
    }

    /// Whole milliseconds from `now` to `instant`, rounded up, at least 0.
    static func millis(from now: ContinuousClock.Instant, to instant: ContinuousClock.Instant) -> Int32 {
        let delta = instant - now
        guard delta > .zero else { return 0 }
        let (seconds, attoseconds) = delta.components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }
}

/// Keeps the first `limit` bytes read from a pipe and counts the rest.
struct OutputCollector {
    let limit: Int
    private(set) var kept: [UInt8] = []
    private(set) var total = 0
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    init(limit: Int) {
        self.limit = max(0, limit)
        kept.reserveCapacity(min(self.limit, 64 * 1024))
    }

    var truncated: Bool { total > limit }

    func release() { scratch.deallocate() }

    /// Reads everything available from a non-blocking fd; false at end of file or on error.
    mutating func read(from fd: Int32) -> Bool {
        while true {
            let count = Glibc.read(fd, scratch.baseAddress, scratch.count)
            if count > 0 {
                let room = limit - kept.count
                if room > 0 { kept.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<min(room, count)])) }
                total += count
                continue
            }
            if count == 0 { return false }
            if errno == EINTR { continue }
            return errno == EAGAIN
        }
    }

    /// Reads until end of file or `deadline`, whichever comes first.
    mutating func drain(_ fd: Int32, until deadline: ContinuousClock.Instant) {
        let clock = ContinuousClock()
        while true {
            guard read(from: fd) else { return }
            let now = clock.now
            guard now < deadline else { return }
            var item = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&item, 1, ProcessRun.millis(from: now, to: deadline)) == 0 { return }
        }
    }
}
