import Foundation
import Synchronization

/// When and how often a running command's progress message is posted and edited.
public struct ProgressSettings: Sendable {
    /// A command that ends sooner posts no progress message, only its result.
    public var delay: Duration
    /// Time between edits of the progress message (chat platforms limit edits too).
    public var interval: Duration
    /// Characters of the output's tail the progress message shows.
    public var tail: Int

    public init(delay: Duration = .seconds(2), interval: Duration = .seconds(2), tail: Int = 600) {
        self.delay = delay
        self.interval = interval
        self.tail = tail
    }

    public static let standard = ProgressSettings()
}

/// The commands running now, by task id, so `cancel` can find a scenario's commands.
final class RunningCommands: Sendable {
    struct Entry: Sendable {
        var scenarioID: Int64
        var taskID: String
        var action: String
        /// `web-1`, or `worker w-2` for a fan-out.
        var target: String
        var task: Task<TaskOutcome, Never>
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Starts `operation` and registers it in one step, so whoever can see its effects
    /// (a worker running it) can also find it here.
    func start(
        scenarioID: Int64, taskID: String, action: String, target: String,
        _ operation: @escaping @Sendable () async -> TaskOutcome
    ) -> Task<TaskOutcome, Never> {
        entries.withLock { entries in
            let task = Task { await operation() }
            entries[taskID] = Entry(scenarioID: scenarioID, taskID: taskID, action: action, target: target, task: task)
            return task
        }
    }

    func remove(_ taskID: String) { _ = entries.withLock { $0.removeValue(forKey: taskID) } }

    /// The scenario's running commands whose task id starts with `prefix` (all when nil), oldest id first.
    func matching(scenarioID: Int64, prefix: String?) -> [Entry] {
        entries.withLock { entries in
            entries.values.filter { $0.scenarioID == scenarioID && (prefix.map($0.taskID.hasPrefix) ?? true) }
                .sorted { $0.taskID < $1.taskID }
        }
    }
}

/// One place a command runs: the scenario's host, or one worker of a fan-out.
struct CommandTarget: Sendable {
    var name: String
    var request: TaskRequest
}

extension Responder {
    /// Runs `action` on the scenario's host, or on every worker with `labels`; logs the dispatch
    /// while the command starts, shows progress while it runs long, then logs and answers the result.
    func run(
        _ action: ActionDefinition, arguments: [String], on labels: [String: String], for scenario: Scenario,
        received: NewEvent, message: IncomingMessage, engineer: String
    ) async throws {
        let argv: [String]
        do {
            argv = try action.render(arguments: arguments)
        } catch {
            try await reject(message, by: engineer, scenario: scenario, reason: error.message)
            return
        }
        let selector = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let targets: [CommandTarget]
        if labels.isEmpty {
            targets = [CommandTarget(name: scenario.host, request: action.task(argv: argv, host: scenario.host))]
        } else {
            let workers = await dispatcher.workers(matching: labels)
            guard !workers.isEmpty else {
                try await reject(message, by: engineer, scenario: scenario, reason: "no registered worker has the labels \(selector)")
                return
            }
            // One id prefix for the whole fan-out, so `cancel PREFIX` (and the Cancel button) stops all of it.
            let group = String(UUID().uuidString.lowercased().prefix(8))
            targets = workers.enumerated().map { index, worker in
                var request = action.task(argv: argv, host: worker.hosts.first ?? selector, worker: worker.id)
                request.taskID = "\(group)-\(index + 1)"
                return CommandTarget(name: worker.id, request: request)
            }
        }
        let dispatched = targets.map { target in
            NewEvent(scenarioID: scenario.id, actor: engineer, body: .commandDispatched(DispatchFacts(
                taskID: target.request.taskID, action: action.name, argv: argv, host: target.request.host,
                worker: target.request.workerID)))
        }
        logger.info("dispatching", metadata: [
            "scenario": "\(scenario.id)", "action": "\(action.name)", "tasks": "\(targets.map(\.request.taskID))"])
        let title = "#\(scenario.id) \(action.name) on \(labels.isEmpty ? scenario.host : selector)"
        let reporter = ProgressReporter(
            key: "progress-\(targets[0].request.taskID)", title: title, targets: targets.count, settings: progress,
            // A single task's id, or the fan-out's group: both are the first 8 characters.
            cancel: ChatButton(label: "Cancel", command: "#\(scenario.id) cancel \(targets[0].request.taskID.prefix(8))"),
            draft: { [self] text, buttons, key in
                var draft = draft(text, to: message, scenarioID: scenario.id)
                draft.buttons = buttons
                draft.key = key
                return draft
            })
        // The commands start while their dispatch is being logged: the commit costs as much as
        // the round trip to the worker, and results are appended only after both, so the log
        // stays in order.
        async let logged = store.append([received] + dispatched, outbox: [], settling: message.inboxID)
        let ticker = Task { [store, doorbell] in
            await reporter.report { draft in
                _ = try await store.append([], outbox: [draft])
                doorbell.ring()
            }
        }
        let outcomes = await withTaskGroup(of: (Int, TaskOutcome).self) { group in
            for (index, target) in targets.enumerated() {
                group.addTask { (index, await self.dispatch(target, scenarioID: scenario.id, reporter: reporter)) }
            }
            var outcomes = [TaskOutcome?](repeating: nil, count: targets.count)
            for await (index, outcome) in group {
                outcomes[index] = outcome
                reporter.finished()
            }
            return outcomes.map { $0 ?? .rejected(reason: "no outcome") }
        }
        ticker.cancel()
        await ticker.value
        _ = try await logged
        var events: [NewEvent] = []
        for (target, outcome) in zip(targets, outcomes) {
            events.append(NewEvent(scenarioID: scenario.id, actor: "teleops", body: Self.body(for: outcome, target.request, text: message.text)))
        }
        let text = targets.count == 1
            ? single(outcomes[0], target: targets[0], scenario: scenario)
            : composer.fanOut(zip(targets.map(\.name), outcomes).map { ($0, $1) }, title: title)
        var outbox = reporter.finalDraft(outcome: Self.summary(outcomes)).map { [$0] } ?? []
        outbox.append(draft(text, to: message, scenarioID: scenario.id))
        try await store.append(events, outbox: outbox)
        doorbell.ring()
    }

    /// Dispatches the last run left without an end (it stopped while they ran, or before their
    /// end was written): their results can no longer arrive, so each ends as lost, and its
    /// scenario's thread says so. Looks at the newest 100,000 events of the log.
    func endCommandsLeftRunning() async throws {
        let unfinished = CommandLedger.unfinished(try await store.commandEvents(amongNewest: 100_000))
        guard !unfinished.isEmpty else { return }
        let reason = "the controller stopped while it ran (a restart or a crash)"
        for (scenarioID, dispatch) in unfinished {
            let worker = dispatch.worker ?? dispatch.host
            let lost = NewEvent(scenarioID: scenarioID, actor: "teleops", body: .commandLost(LostFacts(
                taskID: dispatch.taskID, action: dispatch.action, worker: worker, reason: reason)))
            let text = "⚠️ #\(scenarioID) \(dispatch.action) on \(worker) (task \(dispatch.taskID.prefix(8))) was lost: \(reason). "
                + "Its result is unknown; run it again if it is safe to."
            let announcement = try await store.announcements(of: scenarioID).first
            try await store.append([lost], outbox: [OutboxDraft(scenarioID: scenarioID, purpose: .reply, text: text, replyTo: announcement)])
        }
        doorbell.ring()
        logger.warning("commands the last run left running were ended as lost",
                       metadata: ["tasks": "\(unfinished.map(\.dispatch.taskID))"])
    }

    /// `cancel [TASK]`: logs the request, says what is being stopped, then cancels each
    /// command's dispatch (the worker kills its process tree; the result follows as usual).
    func cancel(_ prefix: String?, on scenario: Scenario, received: NewEvent, message: IncomingMessage, engineer: String) async throws {
        let commands = running.matching(scenarioID: scenario.id, prefix: prefix)
        guard !commands.isEmpty else {
            let which = prefix.map { " with a task id starting with \($0)" } ?? ""
            try await store.append([received], outbox: [draft("Nothing of #\(scenario.id)\(which) is running.", to: message, scenarioID: scenario.id)],
                                   settling: message.inboxID)
            doorbell.ring()
            return
        }
        let events = commands.map {
            NewEvent(scenarioID: scenario.id, actor: engineer, body: .cancelRequested(CancelFacts(taskID: $0.taskID, action: $0.action)))
        }
        let list = commands.map { "\($0.action) on \($0.target) (task \($0.taskID.prefix(8)))" }.joined(separator: ", ")
        try await store.append([received] + events, outbox: [draft("🛑 #\(scenario.id) cancelling \(list) for \(engineer)…", to: message, scenarioID: scenario.id)],
                               settling: message.inboxID)
        doorbell.ring()
        logger.notice("cancelling", metadata: ["scenario": "\(scenario.id)", "tasks": "\(commands.map(\.taskID))", "by": "\(engineer)"])
        for command in commands { command.task.cancel() }
    }

    /// Dispatches one target, registered as running for `cancel` until it ends.
    private func dispatch(_ target: CommandTarget, scenarioID: Int64, reporter: ProgressReporter) async -> TaskOutcome {
        let dispatcher = self.dispatcher
        let request = target.request
        let task = running.start(
            scenarioID: scenarioID, taskID: request.taskID, action: request.action,
            target: request.workerID.map { "worker \($0)" } ?? target.name
        ) { await dispatcher.dispatch(request) { reporter.output($0) } }
        defer { running.remove(request.taskID) }
        return await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
    }

    private func single(_ outcome: TaskOutcome, target: CommandTarget, scenario: Scenario) -> String {
        let request = target.request
        switch outcome {
        case .finished(let result):
            return composer.result(result, scenario: scenario)
        case .lost(_, let reason):
            return "⚠️ #\(scenario.id) \(request.action) on \(target.name) was lost: \(reason). Its result is unknown; run it again if it is safe to."
        case .rejected(let reason):
            return "#\(scenario.id) \(request.action) did not run: \(reason)"
        }
    }

    /// The event that ends a command; `text` is the reply that asked for it (kept with a refusal).
    static func body(for outcome: TaskOutcome, _ request: TaskRequest, text: String) -> EventBody {
        switch outcome {
        case .finished(let result): .commandFinished(result)
        case .lost(let worker, let reason):
            .commandLost(LostFacts(taskID: request.taskID, action: request.action, worker: worker, reason: reason))
        case .rejected(let reason):
            .commandRejected(RefusalFacts(text: text, reason: reason, taskID: request.taskID))
        }
    }

    /// For the progress message's last edit: "exit 0 in 3.1 s" for one command, else "2 of 3 ok".
    static func summary(_ outcomes: [TaskOutcome]) -> String {
        let ok = outcomes.filter { if case .finished(let result) = $0 { result.succeeded } else { false } }.count
        guard outcomes.count == 1 else { return "\(ok) of \(outcomes.count) ok" }
        switch outcomes[0] {
        case .finished(let result): return result.outcomeDescription
        case .lost: return "lost"
        case .rejected: return "did not run"
        }
    }
}

/// Posts a running command's progress once it has run for `settings.delay`, edits it every
/// `settings.interval` with the elapsed time and the tail of the output (or, for a fan-out,
/// how many workers are done), and ends it with a final edit without the Cancel button. All
/// of it goes through the outbox as drafts with one key, so it is one chat message.
final class ProgressReporter: Sendable {
    typealias Drafter = @Sendable (_ text: String, _ buttons: [ChatButton], _ key: String) -> OutboxDraft

    private struct State {
        var tail = ""
        var done = 0
        var posted = false
        var last = ""
    }

    let key: String
    let title: String
    let targets: Int
    let settings: ProgressSettings
    let cancel: ChatButton
    let draft: Drafter
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    init(key: String, title: String, targets: Int, settings: ProgressSettings, cancel: ChatButton, draft: @escaping Drafter) {
        self.key = key
        self.title = title
        self.targets = targets
        self.settings = settings
        self.cancel = cancel
        self.draft = draft
    }

    /// Output of a single-target command, in order; only the tail is kept.
    func output(_ chunk: TaskOutput) {
        guard targets == 1 else { return }
        state.withLock { state in
            state.tail += chunk.data
            if state.tail.count > settings.tail * 2 { state.tail = String(state.tail.suffix(settings.tail)) }
        }
    }

    func finished() { state.withLock { $0.done += 1 } }

    /// Until cancelled: after the delay, queues the progress message, then an edit every interval.
    func report(_ queue: @Sendable (OutboxDraft) async throws -> Void) async {
        do {
            try await Task.sleep(for: settings.delay)
            while !Task.isCancelled {
                let text = progressText()
                let changed = state.withLock { state in
                    defer { state.last = text; state.posted = true }
                    return state.last != text
                }
                if changed { try await queue(draft(text, [cancel], key)) }
                try await Task.sleep(for: settings.interval)
            }
        } catch {
            // Cancelled (the command ended) or the store failed: progress is best effort; the
            // result is what must be written.
        }
    }

    /// The last edit of the progress message, if one was queued: the outcome, no buttons.
    func finalDraft(outcome: String) -> OutboxDraft? {
        guard state.withLock({ $0.posted }) else { return nil }
        let elapsed = targets > 1 ? " after \(Self.format(ContinuousClock.now - started))" : ""
        return draft("\(title): \(outcome)\(elapsed) (result below)", [], key)
    }

    private func progressText() -> String {
        let elapsed = Self.format(ContinuousClock.now - started)
        return state.withLock { state in
            var text = "⏳ \(title): running for \(elapsed)"
            if targets > 1 { text += " · \(state.done) of \(targets) workers done" }
            let tail = state.tail.suffix(settings.tail).trimmingCharacters(in: .whitespacesAndNewlines)
            if !tail.isEmpty { text += "\n…\n" + tail }
            return text
        }
    }

    /// Whole seconds, then minutes and seconds: progress needs no more precision.
    static func format(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        return seconds < 60 ? "\(seconds) s" : "\(seconds / 60) min \(seconds % 60) s"
    }
}
