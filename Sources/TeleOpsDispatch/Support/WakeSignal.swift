import CShims
import Glibc

/// An eventfd one thread polls and any thread or task writes to wake it.
///
/// ```swift
/// let wake = WakeSignal()
/// // owner thread: poll(alongside: wake.fd, …); wake.drain()
/// // any task: queue work under a Mutex, then wake.signal()
/// ```
final class WakeSignal: Sendable {
    let fd: Int32

    init() {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(fd >= 0, "eventfd failed: errno \(errno)")
        self.fd = fd
    }

    deinit { close(fd) }

    /// Makes `fd` readable until the owner calls `drain()`.
    func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }

    /// Resets the counter so `fd` is no longer readable.
    func drain() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, 8) }
    }
}
