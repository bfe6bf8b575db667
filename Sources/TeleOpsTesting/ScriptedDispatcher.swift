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
    private let script: @Sendable (TaskRequest, (@Sendable (TaskOutput) -> Void)?) async -> TaskOutcome
    private let log = Mutex<[TaskRequest]>([])
    private let registered: [WorkerSummary]

    /// - Parameter workers: what `workers(matching:)` chooses from.
    public init(workers: [WorkerSummary] = [], _ script: @escaping @Sendable (TaskRequest) async -> TaskOutcome) {
        self.registered = workers
        self.script = { request, _ in await script(request) }
    }

    /// A script that can also report output while "running" through the progress handler it is given.
    public init(workers: [WorkerSummary] = [],
                streaming script: @escaping @Sendable (TaskRequest, (@Sendable (TaskOutput) -> Void)?) async -> TaskOutcome) {
        self.registered = workers
        self.script = script
    }

    /// Requests dispatched so far, in order.
    public var requests: [TaskRequest] { log.withLock { $0 } }

    public func dispatch(_ request: TaskRequest, progress: (@Sendable (TaskOutput) -> Void)?) async -> TaskOutcome {
        log.withLock { $0.append(request) }
        return await script(request, progress)
    }

    public func workers(matching labels: [String: String]) async -> [WorkerSummary] {
        registered.filter { worker in labels.allSatisfy { worker.labels[$0.key] == $0.value } }.sorted { $0.id < $1.id }
    }
}
