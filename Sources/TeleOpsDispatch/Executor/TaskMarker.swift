/// The variable every command gets in its environment, `TELEOPS_TASK_TOKEN=<32 hex digits>`,
/// random per run. Children inherit it, so the executor finds the command's processes by it in
/// `/proc/PID/environ` even after they start a session of their own (`setsid`) and lose their
/// parent.
///
/// ```swift
/// let marker = TaskMarker()
/// environment[TaskMarker.variable] = marker.value
/// ```
struct TaskMarker: Equatable {
    static let variable = "TELEOPS_TASK_TOKEN"

    /// 128 random bits as 32 lowercase hex digits.
    let value: String

    init() {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        value = Self.hex(high, low)
    }

    /// `TELEOPS_TASK_TOKEN=<value>` as it appears, NUL-terminated, in /proc/PID/environ.
    var environEntry: [UInt8] { Array("\(Self.variable)=\(value)".utf8) }

    /// Whether a NUL-separated environment block holds exactly this entry.
    func isIn(environ block: UnsafeRawBufferPointer) -> Bool {
        let entry = environEntry
        guard block.count >= entry.count else { return false }
        var start = 0
        while start + entry.count <= block.count {
            // Each variable starts at 0 or after a NUL.
            var matches = true
            for index in 0..<entry.count where block[start + index] != entry[index] {
                matches = false
                break
            }
            let end = start + entry.count
            if matches && (end == block.count || block[end] == 0) { return true }
            guard let nul = block[start...].firstIndex(of: 0) else { return false }
            start = nul + 1
        }
        return false
    }

    /// Each value as 16 lowercase hex digits, zero-padded, one after the other.
    static func hex(_ values: UInt64...) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 * values.count)
        for value in values {
            for shift in stride(from: 60, through: 0, by: -4) {
                bytes.append(digits[Int((value >> UInt64(shift)) & 0xf)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
