import Foundation

/// Runs blocking `body` on a new OS thread and waits for it without occupying a thread of
/// Swift's cooperative pool (which has as many threads as cores: two blocked calls stall it here).
func onDedicatedThread<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = name
        thread.start()
    }
}
