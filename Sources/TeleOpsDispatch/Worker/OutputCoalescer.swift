import TeleOpsCore

/// Turns a running command's output bytes into OUTPUT chunks for one task: numbered from 0, cut
/// only at UTF-8 character boundaries, and coalesced so that a flood of small writes does not
/// become a storm of messages.
///
/// ```swift
/// var coalescer = OutputCoalescer(taskID: "t1", limit: 65536)
/// _ = coalescer.append(Array("héllo\n".utf8), now: clock.now)      // true: a chunk is now due
/// if let due = coalescer.due(now: clock.now), due <= clock.now,
///    let chunk = coalescer.take(final: false, now: clock.now) {
///     send(.output(chunk))                                          // seq 0, "héllo\n"
/// }
/// ```
///
/// The policy, per task:
/// - Bytes that arrive after a quiet spell (nothing sent for `interval`) are due at once, so a
///   command that prints a line now and then is seen line by line without delay.
/// - Otherwise bytes wait until `interval` after the previous chunk, or until `flushBytes` are
///   pending, whichever is first: at most about ten chunks a second, plus one per `flushBytes`
///   of output (and the total is bounded by the task's output limit anyway).
/// - A chunk never ends inside a multi-byte character: an incomplete trailing sequence (at most
///   three bytes) waits for the next bytes. Decoding every chunk on its own therefore gives the
///   same text as decoding the whole output at once (invalid bytes become U+FFFD either way).
/// - At most `limit` bytes are taken in all; any beyond are ignored (the executor already keeps
///   no more than the output limit, so this is only a guard).
/// - `take(final: true)` (when the command has ended, before DONE) takes everything left,
///   including an incomplete trailing sequence.
struct OutputCoalescer: Sendable {
    /// The shortest time between two chunks of one task, unless `flushBytes` are pending.
    static let interval: Duration = .milliseconds(100)
    /// Pending bytes that make a chunk due at once.
    static let flushBytes = 8 * 1024

    let taskID: String
    let limit: Int
    private(set) var nextSeq = 0
    /// Bytes accepted so far (sent or pending), at most `limit`.
    private(set) var accepted = 0
    private var pending: [UInt8] = []
    private var lastSent: ContinuousClock.Instant?

    init(taskID: String, limit: Int) {
        self.taskID = taskID
        self.limit = max(0, limit)
    }

    /// Adds bytes the command wrote. Returns true when the owner of the socket should look at
    /// `due` again (a chunk became due, or a new deadline started), so it is woken only then.
    mutating func append(_ bytes: [UInt8], now: ContinuousClock.Instant) -> Bool {
        let room = limit - accepted
        guard room > 0, !bytes.isEmpty else { return false }
        let hadSendable = Self.completePrefixLength(pending) > 0
        let wasBelowFlush = pending.count < Self.flushBytes
        if bytes.count <= room { pending += bytes } else { pending += bytes[..<room] }
        accepted += min(room, bytes.count)
        let hasSendable = Self.completePrefixLength(pending) > 0
        return (hasSendable && !hadSendable) || (wasBelowFlush && pending.count >= Self.flushBytes)
    }

    /// When the next chunk must be sent, or nil when nothing sendable is pending.
    func due(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard Self.completePrefixLength(pending) > 0 else { return nil }
        guard let lastSent, pending.count < Self.flushBytes else { return now }
        return lastSent + Self.interval
    }

    /// The next chunk: the pending bytes up to the last complete character (all of them when
    /// `final`), or nil when there are none.
    mutating func take(final: Bool, now: ContinuousClock.Instant) -> TaskOutput? {
        let count = final ? pending.count : Self.completePrefixLength(pending)
        guard count > 0 else { return nil }
        let chunk = TaskOutput(taskID: taskID, seq: nextSeq, data: String(decoding: pending[..<count], as: UTF8.self))
        pending.removeFirst(count)
        nextSeq += 1
        lastSent = now
        return chunk
    }

    /// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence
    /// more bytes could still complete. Looks at the last four bytes only.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let end = bytes.count
        var start = end - 1
        // Back over at most three continuation bytes (10xxxxxx) to the byte that leads them.
        while start >= 0 && end - start <= 3 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0 else { return end }
        let lead = bytes[start]
        let length = switch lead {
        case 0xC0..<0xE0: 2
        case 0xE0..<0xF0: 3
        case 0xF0..<0xF8: 4
        default: 1  // ASCII, a stray continuation byte, or a byte no sequence starts with
        }
        return end - start < length ? start : end
    }
}
