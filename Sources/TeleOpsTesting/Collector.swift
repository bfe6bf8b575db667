import Synchronization

/// An append-only list that tests can wait on: "wait until an entry matching this arrives".
///
/// ```swift
/// let lines = Collector<String>()
/// lines.append("listening on http://127.0.0.1:8080")
/// let line = try await lines.waitFor(what: "the listening line") { $0.contains("listening") }
/// ```
public final class Collector<Entry: Sendable>: Sendable {
    private struct Waiter {
        var id: Int
        var matches: @Sendable (Entry) -> Bool
        var continuation: CheckedContinuation<Entry?, Never>
    }

    private struct State {
        var entries: [Entry] = []
        var waiters: [Waiter] = []
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var all: [Entry] { state.withLock { $0.entries } }
    public var count: Int { state.withLock { $0.entries.count } }

    public func append(_ entry: Entry) {
        let ready = state.withLock { state -> [CheckedContinuation<Entry?, Never>] in
            state.entries.append(entry)
            var ready: [CheckedContinuation<Entry?, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.matches(entry) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        ready.forEach { $0.resume(returning: entry) }
    }

    /// Waits for the first entry, from index `from` on, that `matches` (at once if one is
    /// already there); throws `DeadlineExceeded` naming `what` after `timeout`.
    public func waitFor(
        what: String, from start: Int = 0, timeout: Duration = .seconds(15),
        _ matches: @escaping @Sendable (Entry) -> Bool
    ) async throws -> Entry {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        let found = try await withDeadline(timeout, what: what) { () -> Entry? in
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Entry?, Never>) in
                    let immediate = self.state.withLock { state -> Entry?? in
                        if let hit = state.entries.dropFirst(start).first(where: matches) { return .some(hit) }
                        if Task.isCancelled { return .some(nil) }
                        state.waiters.append(Waiter(id: id, matches: matches, continuation: continuation))
                        return nil
                    }
                    if let immediate { continuation.resume(returning: immediate) }
                }
            } onCancel: {
                let waiter = self.state.withLock { state -> CheckedContinuation<Entry?, Never>? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiters.remove(at: index).continuation
                }
                waiter?.resume(returning: nil)
            }
        }
        guard let found else { throw DeadlineExceeded(what: what) }
        return found
    }
}

/// Thrown when something a test waits for does not happen in time.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "timed out waiting for \(what)" }
}

/// Runs `operation`, failing with `DeadlineExceeded` if it takes longer than `timeout`.
///
/// On timeout the operation is cancelled but not waited for: an operation that ignores
/// cancellation (awaiting another task's `value`, a blocking call) fails the test instead of
/// hanging the whole run.
public func withDeadline<T: Sendable>(
    _ timeout: Duration, what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = Task { try await operation() }
    let first = FirstResult<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            first.install(continuation)
            let timer = Task {
                try await Task.sleep(for: timeout)
                first.resume(with: .failure(DeadlineExceeded(what: what)))
                work.cancel()
            }
            Task {
                let result = await work.result
                timer.cancel()
                first.resume(with: result)
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// Resumes a continuation with whichever result comes first; later ones are dropped.
private final class FirstResult<T: Sendable>: Sendable {
    private let waiter = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func install(_ continuation: CheckedContinuation<T, any Error>) {
        waiter.withLock { $0 = continuation }
    }

    func resume(with result: Result<T, any Error>) {
        waiter.withLock { waiter in
            defer { waiter = nil }
            return waiter
        }?.resume(with: result)
    }
}
