import Glibc

/// The fields of /proc/PID/stat the executor needs.
struct ProcStat: Equatable {
    var pid: pid_t
    /// The command name (`comm`, at most 15 bytes), for messages.
    var name: String
    /// R, S, D, Z (zombie), X (dead), T, …
    var state: UInt8
    var parent: pid_t
    var processGroup: pid_t
    var session: pid_t
    /// Clock ticks after boot when the process started: with the pid, an identity that survives
    /// pid reuse.
    var startTime: UInt64

    /// Exited, waiting to be reaped (or being reaped).
    var hasExited: Bool { state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") }
}

/// Reads /proc with plain system calls into one reused buffer (no Foundation, no allocation per
/// file beyond the buffer growing to the largest environment seen).
struct ProcReader {
    private var buffer = [UInt8](repeating: 0, count: 4096)

    /// The pid of every process now (thread group leaders only: what /proc lists).
    func pids() -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var pids: [pid_t] = []
        while let entry = readdir(directory) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { name -> pid_t? in
                var value: pid_t = 0
                for byte in name {
                    if byte == 0 { break }
                    guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), value < 100_000_000 else { return nil }
                    value = value * 10 + pid_t(byte - UInt8(ascii: "0"))
                }
                return value > 0 ? value : nil
            }
            if let pid { pids.append(pid) }
        }
        return pids
    }

    /// Whether this process's main thread has a child now (`/proc/self/task/TID/children`, TID
    /// our pid), nil when the file cannot be read (a kernel without CONFIG_PROC_CHILDREN). An
    /// empty list is exact at the instant it is read; a list that changes while it is read may
    /// be missing entries, which does not matter for "any at all".
    mutating func mainThreadHasChildren() -> Bool? {
        guard let count = read("/proc/self/task/\(getpid())/children") else { return nil }
        return buffer[0..<count].contains { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// The children of this process's main thread, nil when the list cannot be read. A list
    /// read while it changes may miss entries (the kernel walks it one entry at a time), so it
    /// is read until two reads in a row agree (at most 4), and the union is returned.
    mutating func mainThreadChildren() -> Set<pid_t>? {
        var all: Set<pid_t> = []
        var previous: [pid_t]?
        for _ in 0..<4 {
            guard let listed = children(ofThread: getpid()) else { return nil }
            all.formUnion(listed)
            if listed == previous { break }
            previous = listed
        }
        return all
    }

    /// The pids in /proc/self/task/TID/children, in its order; nil when it cannot be read.
    mutating func children(ofThread tid: pid_t) -> [pid_t]? {
        guard let count = read("/proc/self/task/\(tid)/children", whole: true) else { return nil }
        var pids: [pid_t] = []
        var value: pid_t = 0
        var digits = false
        for byte in buffer[0..<count] {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                value = value &* 10 &+ pid_t(byte - UInt8(ascii: "0"))
                digits = true
            } else {
                if digits { pids.append(value) }
                value = 0
                digits = false
            }
        }
        if digits { pids.append(value) }
        return pids
    }

    /// /proc/PID/stat, or nil when the process is gone (or /proc is not readable).
    mutating func stat(_ pid: pid_t) -> ProcStat? {
        guard let count = read("/proc/\(pid)/stat") else { return nil }
        return buffer.withUnsafeBufferPointer { Self.parseStat(UnsafeBufferPointer(rebasing: $0[0..<count]), pid: pid) }
    }

    /// Whether /proc/PID/environ holds `marker`. False when it cannot be read: a zombie or kernel
    /// thread (empty), a process of another user when we are not root (EACCES), or gone.
    mutating func environ(of pid: pid_t, contains marker: TaskMarker) -> Bool {
        guard let count = read("/proc/\(pid)/environ", whole: true) else { return false }
        return buffer.withUnsafeBytes { marker.isIn(environ: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// Reads a /proc file into `buffer` (all of it when `whole`, growing the buffer; else up to
    /// its size). Returns the byte count, nil when it cannot be opened or read.
    private mutating func read(_ path: String, whole: Bool = false) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var count = 0
        while true {
            if count == buffer.count {
                guard whole, buffer.count < 16 << 20 else { return count }
                buffer.append(contentsOf: repeatElement(0, count: buffer.count))
            }
            let got = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if got > 0 {
                count += got
            } else if got == 0 {
                return count
            } else if errno != EINTR {
                return nil
            }
        }
    }

    /// "1234 (sleep) S 1233 1234 …": the name sits between the first '(' and the last ')'.
    static func parseStat(_ text: UnsafeBufferPointer<UInt8>, pid: pid_t) -> ProcStat? {
        guard let open = text.firstIndex(of: UInt8(ascii: "(")),
              let close = text.lastIndex(of: UInt8(ascii: ")")), open < close else { return nil }
        let name = String(decoding: text[(open + 1)..<close], as: UTF8.self)
        // Fields after the name, from 0: state, ppid, pgrp, session, …, starttime at 19.
        var fields: [Slice<UnsafeBufferPointer<UInt8>>] = []
        var index = close + 1
        while index < text.count && fields.count <= 19 {
            while index < text.count && text[index] == UInt8(ascii: " ") { index += 1 }
            let start = index
            while index < text.count && text[index] != UInt8(ascii: " ") && text[index] != UInt8(ascii: "\n") { index += 1 }
            if start < index { fields.append(text[start..<index]) } else { break }
        }
        guard fields.count > 19, let state = fields[0].first,
              let parent = number(fields[1]), let group = number(fields[2]), let session = number(fields[3]),
              let startTime = number(fields[19]) else { return nil }
        return ProcStat(pid: pid, name: name, state: state, parent: pid_t(truncatingIfNeeded: parent),
                        processGroup: pid_t(truncatingIfNeeded: group), session: pid_t(truncatingIfNeeded: session),
                        startTime: startTime)
    }

    private static func number(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> UInt64? {
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
        }
        return digits.isEmpty ? nil : value
    }
}
