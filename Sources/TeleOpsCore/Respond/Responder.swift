import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Turns chat replies and button presses into commands: correlate → parse → policy →
/// dispatch → log → reply.
///
/// It reads every transport at once (Telegram, Slack, the console): a button press is the
/// reply its button stands for. Every reply from a listed engineer is logged in its scenario;
/// a reply from anyone else is refused and the refusal logged. Each message is handled in its
/// own child task, so a long command does not hold up the next reply. All answers go through
/// the store's outbox; state changes (ack, resolve, silence) also edit the scenario's
/// announcements wherever they were posted.
///
/// Messages that came through the store's inbox (`inboxID` set) are settled by the first
/// write about them; at start the responder first handles those a previous run left
/// unsettled, so a restart neither replays nor skips a reply.
///
/// ```swift
/// let responder = Responder(transports: [console], store: store, dispatcher: broker, directory: directory,
///                           catalogue: .defaults, doorbell: doorbell, logger: logger)
/// try await ServiceGroup(services: [responder], logger: logger).run()
/// ```
public final class Responder: Service {
    public let transports: [any ChatTransport]
    public let store: any ScenarioStore
    public let dispatcher: any Dispatcher
    public let directory: EngineerDirectory
    public let catalogue: ActionCatalogue
    public let grammar: CommandGrammar
    public let policy: Policy
    public let composer: NotificationComposer
    public let doorbell: Doorbell
    public let progress: ProgressSettings
    let logger: Logger
    /// Commands running now, so `cancel` can stop them.
    let running = RunningCommands()
    /// Inbox messages taken by this process, so one delivered twice at start (left unsettled
    /// and re-yielded) is handled once.
    private let taken = Mutex(Set<Int64>())

    public init(
        transports: [any ChatTransport], store: any ScenarioStore, dispatcher: any Dispatcher,
        directory: EngineerDirectory, catalogue: ActionCatalogue, grammar: CommandGrammar = .standard,
        policy: Policy = .standard, doorbell: Doorbell, progress: ProgressSettings = .standard, logger: Logger
    ) {
        self.transports = transports
        self.store = store
        self.dispatcher = dispatcher
        self.directory = directory
        self.catalogue = catalogue
        self.grammar = grammar
        self.policy = policy
        self.composer = NotificationComposer(catalogue: catalogue)
        self.doorbell = doorbell
        self.progress = progress
        self.logger = logger
    }

    /// Handles messages until graceful shutdown. When every transport's input ends (the
    /// console at end of file), the responder stays up: the rest of the controller keeps serving.
    public func run() async throws {
        let (merged, continuation) = AsyncStream.makeStream(of: IncomingMessage.self)
        await withDiscardingTaskGroup { group in
            group.addTask {
                await withDiscardingTaskGroup { readers in
                    for transport in self.transports {
                        readers.addTask {
                            for await message in transport.incoming.cancelOnGracefulShutdown() {
                                continuation.yield(message)
                            }
                        }
                    }
                }
                continuation.finish()
            }
            do {
                try await endCommandsLeftRunning()
            } catch {
                logger.error("could not check for commands the last run left running", metadata: ["error": "\(error)"])
            }
            do {
                for message in try await store.unsettledIncoming(limit: 10_000) {
                    group.addTask { await self.handle(message) }
                }
            } catch {
                logger.error("could not read replies left unhandled by the last run", metadata: ["error": "\(error)"])
            }
            for await message in merged.cancelOnGracefulShutdown() {
                group.addTask { await self.handle(message) }
            }
        }
        if !Task.isShuttingDownGracefully && !Task.isCancelled {
            logger.notice("chat input ended; replies are no longer read, everything else keeps running",
                          metadata: ["transports": "\(transports.map(\.name).joined(separator: ","))"])
            try? await gracefulShutdown()
        }
    }

    /// Handles one message to the end (including the command it asks for); never throws:
    /// store failures are logged, the engineer is told when possible.
    public func handle(_ message: IncomingMessage) async {
        if let inboxID = message.inboxID, !taken.withLock({ $0.insert(inboxID).inserted }) { return }
        do {
            try await respond(to: message)
        } catch {
            logger.error("reply could not be handled", metadata: ["text": "\(message.text)", "error": "\(error)"])
            try? await say("TeleOps could not handle that reply: \(error)", to: message, scenarioID: nil)
        }
    }

    private func respond(to message: IncomingMessage) async throws {
        guard let engineer = directory.engineer(transport: message.ref.transport, userID: message.userID) else {
            try await refuseStranger(message)
            return
        }
        let reply: ParsedReply
        do {
            reply = try grammar.parse(message.text)
        } catch {
            let scenario = try? await correlate(message, explicitID: nil)
            try await reject(message, by: engineer.name, scenario: scenario ?? nil, reason: error.message)
            return
        }
        if case .help = reply.command {
            try await say(grammar.helpText(actions: catalogue), to: message, scenarioID: nil)
            return
        }
        guard let scenario = try await correlate(message, explicitID: reply.scenarioID) else {
            let text = reply.scenarioID.map { "There is no scenario #\($0)." }
                ?? "No open scenario to apply that to; name one with #N (teleops scenarios list shows them)."
            try await say(text, to: message, scenarioID: nil)
            return
        }
        let action: ActionDefinition?
        if case .run(let name, _, _) = reply.command {
            guard let found = catalogue[name] else {
                let names = catalogue.actions.map(\.name).joined(separator: ", ")
                try await reject(message, by: engineer.name, scenario: scenario, reason: "unknown action '\(name)'; available: \(names)")
                return
            }
            action = found
        } else {
            action = nil
        }
        let request = CommandRequest(engineer: engineer, reply: reply, scenario: scenario, action: action)
        if case .deny(let reason) = policy.evaluate(request) {
            try await reject(message, by: engineer.name, scenario: scenario, reason: reason)
            return
        }
        try await execute(request, message: message, scenario: scenario)
    }

    private func execute(_ request: CommandRequest, message: IncomingMessage, scenario: Scenario) async throws {
        let who = request.engineer.name
        let received = NewEvent(
            scenarioID: scenario.id, actor: who,
            body: .replyReceived(ReplyFacts(transport: message.ref.transport, text: message.text)))
        /// Logs the reply and `body`, answers `text` in the thread and, when `body` changes
        /// what the announcement shows, edits the announcement everywhere it was posted.
        func record(_ body: EventBody, saying text: String) async throws {
            let now = Date()
            let after = scenario.applying(body, actor: who, at: now)
            var outbox = [draft(text, to: message, scenarioID: scenario.id)]
            if composer.announcementChanges(from: scenario, to: after) { outbox.append(composer.update(after)) }
            try await store.append(
                [received, NewEvent(scenarioID: scenario.id, at: now, actor: who, body: body)],
                outbox: outbox, settling: message.inboxID)
            doorbell.ring()
        }
        switch request.reply.command {
        case .ack:
            guard scenario.status == .open else {
                try await say("#\(scenario.id) is already \(scenario.status.rawValue)\(scenario.acknowledgedBy.map { " by \($0)" } ?? "").", to: message, scenarioID: scenario.id)
                return
            }
            try await record(.acknowledged, saying: "👍 #\(scenario.id) acknowledged by \(who).")
        case .resolve(let note):
            guard scenario.status.isActive else {
                try await say("#\(scenario.id) is already resolved.", to: message, scenarioID: scenario.id)
                return
            }
            try await record(.resolved(NoteFacts(text: note)), saying: "✅ #\(scenario.id) resolved by \(who)" + (note.isEmpty ? "." : ": \(note)"))
        case .note(let text):
            try await record(.note(NoteFacts(text: text)), saying: "📝 noted on #\(scenario.id).")
        case .silence(let duration):
            guard scenario.status.isActive else {
                try await say("#\(scenario.id) is resolved; there is nothing to silence.", to: message, scenarioID: scenario.id)
                return
            }
            let until = Date().addingTimeInterval(duration.secondsValue)
            try await record(
                .silenced(SilenceFacts(until: until)),
                saying: "🔕 #\(scenario.id) silenced by \(who) for \(ChatDuration.format(duration)) "
                    + "(until \(NotificationComposer.time(until))): repeats and escalations stay out of chat.")
        case .status:
            let events = try await store.events(of: scenario.id)
            try await say(composer.status(scenario, events: events), to: message, scenarioID: scenario.id)
        case .history:
            let events = try await store.events(of: scenario.id)
            try await say(composer.history(scenario, events: events), to: message, scenarioID: scenario.id)
        case .handoff(let name, let note):
            guard let target = directory.engineers.first(where: { $0.name.lowercased() == name.lowercased() }) else {
                let names = directory.engineers.map { "@\($0.name)" }.joined(separator: ", ")
                try await say("There is no engineer named @\(name); handoff to one of: \(names).", to: message, scenarioID: scenario.id)
                return
            }
            guard target.roles.contains(Role.responder) else {
                try await say("@\(target.name) is not a responder and cannot take #\(scenario.id).", to: message, scenarioID: scenario.id)
                return
            }
            guard scenario.status.isActive else {
                try await say("#\(scenario.id) is resolved; there is nothing to hand off.", to: message, scenarioID: scenario.id)
                return
            }
            let events = try await store.events(of: scenario.id)
            try await record(.handedOff(HandoffFacts(to: target.name, note: note)),
                             saying: composer.handoff(scenario, events: events, from: who, to: target.name, note: note))
        case .run(_, let arguments, let labels):
            guard let action = request.action else { return }
            try await run(action, arguments: arguments, on: labels, for: scenario, received: received, message: message, engineer: who)
        case .cancel(let prefix):
            try await cancel(prefix, on: scenario, received: received, message: message, engineer: who)
        case .help:
            break
        }
    }

    /// The scenario a reply is about: `#N`, else the scenario of the message it replies to,
    /// else the newest active one.
    func correlate(_ message: IncomingMessage, explicitID: Int64?) async throws -> Scenario? {
        if let explicitID { return try await store.scenario(id: explicitID) }
        if let parent = message.replyTo, let id = try await store.scenarioID(for: parent) {
            return try await store.scenario(id: id)
        }
        return try await store.newestActiveScenario()
    }

    func refuseStranger(_ message: IncomingMessage) async throws {
        let reason = "\(message.displayName) (\(message.ref.transport) user \(message.userID)) is not on the TeleOps engineer list"
        logger.warning("refused a reply from a stranger", metadata: ["user": "\(message.userID)", "transport": "\(message.ref.transport)"])
        let explicitID = try? grammar.parse(message.text).scenarioID
        let scenario = try await correlate(message, explicitID: explicitID ?? nil)
        let events = scenario.map {
            [NewEvent(scenarioID: $0.id, actor: message.displayName,
                      body: .replyRefused(RefusalFacts(text: message.text, reason: reason, userID: message.userID)))]
        } ?? []
        try await store.append(
            events, outbox: [draft("Sorry, only engineers listed in the TeleOps configuration may issue commands.", to: message, scenarioID: scenario?.id)],
            settling: message.inboxID)
        doorbell.ring()
    }

    func reject(_ message: IncomingMessage, by engineer: String, scenario: Scenario?, reason: String) async throws {
        let events = scenario.map {
            [NewEvent(scenarioID: $0.id, actor: engineer, body: .commandRejected(RefusalFacts(text: message.text, reason: reason)))]
        } ?? []
        try await store.append(events, outbox: [draft("✋ \(reason)", to: message, scenarioID: scenario?.id)], settling: message.inboxID)
        doorbell.ring()
    }

    func say(_ text: String, to message: IncomingMessage, scenarioID: Int64?) async throws {
        try await store.append([], outbox: [draft(text, to: message, scenarioID: scenarioID)], settling: message.inboxID)
        doorbell.ring()
    }

    func draft(_ text: String, to message: IncomingMessage, scenarioID: Int64?) -> OutboxDraft {
        OutboxDraft(scenarioID: scenarioID, purpose: .reply, text: text, replyTo: message.ref, chat: message.ref.chat)
    }
}
