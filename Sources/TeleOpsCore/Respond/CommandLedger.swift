/// Which dispatched commands have no end in the log: a `command_dispatched` event with no
/// `command_finished`, `command_lost` or `command_rejected` naming its task after it. A
/// controller that stops while commands run leaves such dispatches; the next one ends them as
/// lost, since their results can no longer reach it (`Responder.run`).
///
/// ```swift
/// let open = CommandLedger.unfinished(try await store.commandEvents(amongNewest: 100_000))
/// ```
public enum CommandLedger {
    /// `events`: command events in id order (`ScenarioStore.commandEvents(amongNewest:)`).
    /// Returns the dispatches without an end, in dispatch order. A `command_rejected` written
    /// before rejections named their task ends the oldest open dispatch of its scenario: it
    /// may be a refusal that was never dispatched, and then a dispatch is taken for ended
    /// that was not, which leaves a dispatch unreported rather than reports a command lost
    /// that was not.
    public static func unfinished(_ events: [ScenarioEvent]) -> [(scenarioID: Int64, dispatch: DispatchFacts)] {
        var open: [String: (scenarioID: Int64, dispatch: DispatchFacts)] = [:]
        var order: [String] = []
        for event in events {
            switch event.body {
            case .commandDispatched(let facts):
                open[facts.taskID] = (event.scenarioID, facts)
                order.append(facts.taskID)
            case .commandFinished(let result):
                open[result.taskID] = nil
            case .commandLost(let facts):
                open[facts.taskID] = nil
            case .commandRejected(let facts):
                if let taskID = facts.taskID {
                    open[taskID] = nil
                } else if let oldest = order.first(where: { open[$0]?.scenarioID == event.scenarioID }) {
                    open[oldest] = nil
                }
            default:
                break
            }
        }
        return order.compactMap { open[$0] }
    }

    /// The event kinds `unfinished` reads.
    public static let kinds: [EventKind] = [.commandDispatched, .commandFinished, .commandLost, .commandRejected]
}
