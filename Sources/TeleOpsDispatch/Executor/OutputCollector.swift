import Glibc

/// Keeps the first `limit` bytes read from a pipe, hands each kept piece to `onOutput` as it is
/// read, and counts (then drops) the rest: a command that floods costs one 64 KiB buffer plus
/// `limit`.
struct OutputCollector: ~Copyable {
    let limit: Int
    private(set) var kept: [UInt8] = []
    /// Every byte read, kept or not.
    private(set) var total = 0
    private let onOutput: (@Sendable ([UInt8]) -> Void)?

    /// Reads per `read(from:)` call before it returns to let the caller check its deadlines,
    /// however fast the writer refills the pipe.
    static let readsPerCall = 16

    init(limit: Int, onOutput: (@Sendable ([UInt8]) -> Void)?) {
        self.limit = max(0, limit)
        self.onOutput = onOutput
    }

    var truncated: Bool { total > limit }

    /// Reads what is available from a non-blocking fd (up to `readsPerCall` reads); false at
    /// end of file or on error.
    mutating func read(from fd: Int32) -> Bool {
        // On the executor thread's stack, whose pages stay mapped from one command to the next.
        withUnsafeTemporaryAllocation(byteCount: 64 * 1024, alignment: 16) { scratch in read(from: fd, into: scratch) }
    }

    private mutating func read(from fd: Int32, into scratch: UnsafeMutableRawBufferPointer) -> Bool {
        for _ in 0..<Self.readsPerCall {
            let count = Glibc.read(fd, scratch.baseAddress, scratch.count)
            if count > 0 {
                let room = limit - kept.count
                if room > 0 {
                    let piece = Array(UnsafeRawBufferPointer(rebasing: scratch[0..<min(room, count)]))
                    kept.append(contentsOf: piece)
                    onOutput?(piece)
                }
                total += count
                continue
            }
            if count == 0 { return false }
            if errno == EINTR { continue }
            return errno == EAGAIN
        }
        return true
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

    /// A line of the executor's own ("teleops: …"), added after the command's output and handed
    /// to `onOutput` like it; it does not count against `limit`, so it is never cut off.
    mutating func appendNotice(_ line: String) {
        var piece: [UInt8] = []
        if let last = kept.last, last != UInt8(ascii: "\n") { piece.append(UInt8(ascii: "\n")) }
        piece.append(contentsOf: Array("teleops: \(line)\n".utf8))
        kept.append(contentsOf: piece)
        onOutput?(piece)
    }
}
