import Synchronization
import TeleOpsCore

/// A dispatcher that answers from a script instead of running anything, for testing the
/// responder alone. It records every request it was given.
///
/// ```swift
/// let dispatcher = ScriptedDispatcher { request in
///     .finished(TaskResult(taskID: request.taskID, action: request.action, worker: "w1", exitCode: 0,
///                          signal: nil, timedOut: false, durationMs: 1, output: "ok\n", truncated: false))
/// }
/// ```
public final class ScriptedDispatcher: Dispatcher {
    private let script: @Sendable (TaskRequest) async -> TaskOutcome
    private let log = Mutex<[TaskRequest]>([])

    public init(_ script: @escaping @Sendable (TaskRequest) async -> TaskOutcome) {
        self.script = script
    }

    /// Requests dispatched so far, in order.
    public var requests: [TaskRequest] { log.withLock { $0 } }

    public func dispatch(_ request: TaskRequest) async -> TaskOutcome {
        log.withLock { $0.append(request) }
        return await script(request)
    }
}
