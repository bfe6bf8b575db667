import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TeleOpsCore

/// Drains the store's outbox to the chat transports: per chat in order, paced to each
/// platform's limits, with retries, splitting of long text, edits of announcements, and
/// failover from the primary transport to the secondary.
///
/// - **Lanes.** Each message is routed to a lane, one per (transport, chat); a lane sends its
///   messages one at a time in outbox order, so a chat sees them in the order they were
///   queued, while a chat held up by a 429 does not hold up the others.
/// - **Pacing.** Before each call, post or edit, the sender waits for the limits of the chat
///   it goes to and the transport's global limits (`ChatLimits`); a 429 empties those
///   buckets and the platform's `retry_after` / `Retry-After` is waited out. A chat has one
///   set of buckets whichever way its calls come (its lane's posts, edits of messages in it,
///   posts moved to it by failover), as its limits are for posts and edits together
///   (`ChatLimits.perChat`): an announcement edited on every state change would otherwise
///   spend a group's 20 a minute unseen, and meet 429s the posts then wait out.
/// - **Retries.** The transport only classifies a failure; this loop owns retries: it waits
///   what the platform asked, else exponential backoff with jitter. Rate limiting and
///   server or network failures are retried until `giveUpAfter` has passed since the message
///   was queued; a client error (400, 403) gives up at once with its reason kept in the
///   outbox, unless a failover transport can take the message.
/// - **Length.** Text over the platform's limit is split at line breaks into at most
///   `maxParts` messages, and beyond that trimmed with a pointer to the scenario log;
///   announcements and edits are trimmed (an edit cannot add messages). Nothing is dropped.
/// - **Updates.** An `.update` draft edits the scenario's announcements on every transport
///   they were posted on; a later update of the same scenario waiting in the same lane makes
///   an earlier one redundant, so it is skipped. An edit of a message on a transport out of
///   service is owed, not dropped: its outbox row stays unsent (so a restart makes it) and
///   the newest owed edit of each message is made once that transport is back
///   (`owedEdits`).
/// - **Failover.** See `FailoverPolicy`: while the primary is out of service, its messages go
///   out on the secondary with a note saying why.
///
/// Delivery is at least once: a message is marked sent after the platform accepted it (all
/// its parts), so a crash in between sends it (or its parts) again after restart.
public final class OutboxSender: Service {
    public struct Settings: Sendable {
        public var backoff = Backoff()
        /// A message still failing with retryable errors this long after it was queued is given up.
        public var giveUpAfter: Duration = .seconds(86_400)
        /// The most messages one long text is split into before the rest is trimmed.
        public var maxParts = 4
        public var failover: FailoverPolicy?
        /// How often the outbox is read when nobody rings the doorbell.
        public var idleCheck: Duration = .seconds(1)
        /// The most messages read ahead from the outbox into memory, over all chats. The rest
        /// wait in the store: during an alert storm the backlog of a chat limited to one
        /// message a second grows on disk, not in memory.
        public var maxQueued = 1000
        /// `chat.routes`: the chat (and topic) on each transport of the route a draft names.
        public var routing = AlertRouting()

        public init(backoff: Backoff = Backoff(), giveUpAfter: Duration = .seconds(86_400), maxParts: Int = 4,
                    failover: FailoverPolicy? = nil, idleCheck: Duration = .seconds(1), maxQueued: Int = 1000,
                    routing: AlertRouting = AlertRouting()) {
            self.backoff = backoff
            self.giveUpAfter = giveUpAfter
            self.maxParts = maxParts
            self.failover = failover
            self.idleCheck = idleCheck
            self.maxQueued = max(1, maxQueued)
            self.routing = routing
        }
    }

    let store: any ScenarioStore
    /// By name; `primary` is the first transport given (announcements go there).
    let transports: [String: any ChatTransport]
    let primary: String
    let settings: Settings
    let doorbell: Doorbell
    let logger: Logger
    let globalPacers: [String: RatePacer]
    let health = Mutex([String: TransportHealth]())
    /// Edits that could not be made because their message's transport was out of service:
    /// for each message, the outbox row of its newest state (an edit replaces the whole text
    /// and buttons, so an older state owed is worthless). A row is marked sent once it owes
    /// no message an edit; until then it stays in the outbox, which is what keeps an owed
    /// edit over a restart.
    let owedEdits = Mutex([MessageRef: OutboxMessage]())
    /// Transports whose owed edits are being made (`catchUp(_:)`), so only one task does it.
    let catchingUp = Mutex(Set<String>())
    /// Edits of one message go one at a time, never back to an older state: an owed edit made
    /// when its transport is back and a newer one from the lane can be ready at once.
    let editOrder = MessageEditOrder()
    private let lanes = Mutex([LaneKey: Lane]())
    /// Each chat's limits, by (transport, chat), made on first use (`chatPacer(for:)`).
    private let chatPacers = Mutex([LaneKey: RatePacer]())
    private let queued = Mutex(0)
    /// The route of each scenario whose routed announcement was read from the outbox lately, so
    /// that its other messages go to the route's chat too while the announcement is not sent
    /// yet, and to the route's chat on the secondary when they fail over. Bounded: the oldest
    /// are forgotten (their messages then go to the transport's own chat on failover).
    let scenarioRoutes = Mutex(RecentRoutes(capacity: 10_000))

    /// Messages read from the outbox and not yet finished (at most `Settings.maxQueued`).
    public var queuedInMemory: Int { queued.withLock { $0 } }

    /// - Parameter transports: the first is the primary (new scenarios are announced there);
    ///   names must differ.
    public init(
        store: any ScenarioStore, transports: [any ChatTransport], settings: Settings = Settings(), doorbell: Doorbell,
        logger: Logger
    ) {
        precondition(!transports.isEmpty, "the outbox needs at least one chat transport")
        self.store = store
        self.transports = Dictionary(transports.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.primary = settings.failover?.primary ?? transports[0].name
        self.settings = settings
        self.doorbell = doorbell
        self.logger = logger
        self.globalPacers = Dictionary(transports.map { ($0.name, RatePacer($0.limits.global)) }, uniquingKeysWith: { first, _ in first })
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // Ids are given in commit order, so each message is read (and queued) once.
                var lastSeen: Int64?
                // The store's feed hands over each commit's messages (`OutboxFeed`); the
                // outbox itself is read at start, when the feed dropped messages, and after
                // every `idleCheck` without a ring (nothing this process commits is missed,
                // but another process could queue messages in the same file).
                let feed = self.store.outboxFeed
                var readStore = true
                while !Task.isCancelled {
                    for transport in self.transportsToCatchUp() {
                        group.addTask { await self.catchUp(transport) }
                    }
                    let room = self.settings.maxQueued - self.queuedInMemory
                    guard room > 0 else {
                        // Full: a lane that finishes a message rings the doorbell.
                        await self.doorbell.wait(timeout: self.settings.idleCheck)
                        continue
                    }
                    let limit = min(256, room)
                    var batch: [OutboxMessage]
                    var more: Bool
                    if !readStore, let feed, let handed = feed.take(upTo: limit) {
                        batch = handed.filter { $0.id > lastSeen ?? 0 }
                        more = handed.count == limit
                    } else {
                        do {
                            batch = try await self.store.pendingOutbox(afterID: lastSeen, limit: limit)
                        } catch {
                            if Task.isCancelled { break }
                            self.logger.error("outbox could not be read", metadata: ["error": "\(error)"])
                            await self.doorbell.wait(timeout: self.settings.idleCheck)
                            continue
                        }
                        more = batch.count == limit
                        // Caught up: whatever is committed from now on is in the feed.
                        readStore = more
                    }
                    for message in batch {
                        if let name = message.draft.route, let scenarioID = message.draft.scenarioID {
                            self.scenarioRoutes.withLock { $0.remember(name, for: scenarioID) }
                        }
                        let route = await self.route(for: message.draft)
                        let key = LaneKey(
                            transport: route.transport, chat: route.chat ?? self.transports[route.transport]?.defaultChat ?? "")
                        let (lane, isNew) = self.lanes.withLock { lanes -> (Lane, Bool) in
                            if let lane = lanes[key] { return (lane, false) }
                            let lane = Lane(key: key)
                            lanes[key] = lane
                            return (lane, true)
                        }
                        self.queued.withLock { $0 += 1 }
                        lane.enqueue(message)
                        if isNew { group.addTask { await self.drain(lane) } }
                    }
                    lastSeen = batch.last?.id ?? lastSeen
                    if !more {
                        // Woken when a transport owed edits comes back, not a whole idle check later.
                        let timeout = min(self.settings.idleCheck, self.untilOwedEditsCanGo() ?? self.settings.idleCheck)
                        let waited = await ContinuousClock().measure {
                            await self.doorbell.wait(timeout: timeout)
                        }
                        if waited >= self.settings.idleCheck { readStore = true }
                    }
                }
            }
        }
    }

    /// Sends a lane's messages in order until the service stops.
    private func drain(_ lane: Lane) async {
        while !Task.isCancelled {
            guard let message = lane.next() else {
                await lane.doorbell.wait(timeout: .seconds(60))
                continue
            }
            if lane.isSuperseded(message) {
                try? await markSent(message.id, as: [])
            } else {
                await deliver(message)
            }
            lane.finish(message.id)
            let wasFull = queued.withLock { count in
                defer { count -= 1 }
                return count >= settings.maxQueued
            }
            if wasFull { doorbell.ring() }
        }
    }

    /// Where a draft goes if every transport works (its lane is that transport and chat): its
    /// pinned transport, the transport and chat of the message it answers, of its scenario's
    /// announcement, else its route's chat on the primary (`routed(_:on:)`). Asked again at
    /// delivery: a reply queued before its scenario's announcement was sent finds the
    /// announcement's thread by then.
    func route(for draft: OutboxDraft) async -> Route {
        if let pinned = draft.transport, transports[pinned] != nil {
            return Route(transport: pinned, chat: draft.chat, replyTo: draft.replyTo?.transport == pinned ? draft.replyTo : nil)
        }
        if let replyTo = draft.replyTo, transports[replyTo.transport] != nil {
            return Route(transport: replyTo.transport, chat: replyTo.chat, replyTo: replyTo)
        }
        if draft.purpose != .announcement, let scenarioID = draft.scenarioID,
            let announcement = await announcement(of: scenarioID, preferring: nil)
        {
            return Route(
                transport: announcement.transport, chat: announcement.chat, topic: topic(of: scenarioID, in: announcement),
                replyTo: announcement)
        }
        return routed(draft, on: primary)
    }

    /// The topic of the scenario's route where its announcement is, when the route is remembered
    /// and sends to that chat: a reply carries it, so it stays in the topic even if the
    /// announcement was deleted.
    private func topic(of scenarioID: Int64, in announcement: MessageRef) -> String? {
        guard let name = scenarioRoutes.withLock({ $0.route(of: scenarioID) }),
              let destination = settings.routing.destination(route: name, transport: announcement.transport),
              let topic = destination.topic
        else { return nil }
        let chat = destination.chat ?? transports[announcement.transport]?.defaultChat
        return chat == announcement.chat ? topic : nil
    }

    /// A draft outside any thread on `transport`: its own chat if it names one, else the chat and
    /// topic its route (or its scenario's) has there, else the transport's default chat.
    func routed(_ draft: OutboxDraft, on transport: String) -> Route {
        if let chat = draft.chat { return Route(transport: transport, chat: chat, replyTo: nil) }
        let name = draft.route ?? draft.scenarioID.flatMap { id in scenarioRoutes.withLock { $0.route(of: id) } }
        let destination = settings.routing.destination(route: name, transport: transport)
        return Route(transport: transport, chat: destination?.chat, topic: destination?.topic, replyTo: nil)
    }

    /// The rate limits of one chat of one transport, shared by every call that goes there.
    func chatPacer(transport: String, chat: String?) -> RatePacer {
        let key = LaneKey(transport: transport, chat: chat ?? transports[transport]?.defaultChat ?? "")
        return chatPacers.withLock { pacers in
            if let pacer = pacers[key] { return pacer }
            let pacer = RatePacer(transports[key.transport]?.limits.limits(forChat: key.chat) ?? [])
            pacers[key] = pacer
            return pacer
        }
    }

    /// The scenario's announcement on a transport in service (`preferring` one if it has it).
    func announcement(of scenarioID: Int64, preferring transport: String?) async -> MessageRef? {
        guard let refs = try? await store.announcements(of: scenarioID) else { return nil }
        let usable = refs.filter { transports[$0.transport] != nil }
        if let transport { return usable.first { $0.transport == transport } }
        return usable.first { !isOutOfService($0.transport) } ?? usable.first
    }
}

/// Where one message goes.
struct Route: Sendable, Equatable {
    var transport: String
    var chat: String?
    /// A topic in the chat (Telegram forums), from the draft's route.
    var topic: String? = nil
    var replyTo: MessageRef?
}

/// Scenario → route name for the newest `capacity` scenarios remembered.
struct RecentRoutes: Sendable {
    let capacity: Int
    private var routes: [Int64: String] = [:]
    private var order: [Int64] = []
    private var head = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    mutating func remember(_ route: String, for scenarioID: Int64) {
        if routes.updateValue(route, forKey: scenarioID) != nil { return }
        order.append(scenarioID)
        if routes.count > capacity {
            routes[order[head]] = nil
            head += 1
            if head * 2 >= order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    func route(of scenarioID: Int64) -> String? { routes[scenarioID] }
}

struct LaneKey: Hashable, Sendable {
    var transport: String
    var chat: String
}

/// One chat's queue: messages in outbox order and a doorbell for new work. The chat's rate
/// limits are not the lane's own: edits and failover posts to the chat share them
/// (`OutboxSender.chatPacer`).
final class Lane: Sendable {
    let key: LaneKey
    let doorbell = Doorbell()
    private let queue = Mutex(Waiting())

    /// The messages in order, those before `head` finished. Finishing the first (what `drain`
    /// does) moves `head`, and the array is compacted once half of it is finished: a storm's
    /// thousand queued messages are not shifted along for each one sent.
    private struct Waiting {
        var messages: [OutboxMessage] = []
        var head = 0

        var waiting: ArraySlice<OutboxMessage> { messages[head...] }

        mutating func remove(_ id: Int64) {
            if head < messages.count, messages[head].id == id {
                head += 1
            } else if let index = messages[head...].firstIndex(where: { $0.id == id }) {
                messages.remove(at: index)
            }
            if head == messages.count {
                messages.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 32, head * 2 >= messages.count {
                messages.removeFirst(head)
                head = 0
            }
        }
    }

    init(key: LaneKey) {
        self.key = key
    }

    func enqueue(_ message: OutboxMessage) {
        queue.withLock { $0.messages.append(message) }
        doorbell.ring()
    }

    /// The oldest message not yet finished.
    func next() -> OutboxMessage? { queue.withLock { $0.waiting.first } }

    func finish(_ id: Int64) {
        queue.withLock { $0.remove(id) }
    }

    /// Whether a later message waiting in this lane makes `message` unnecessary: a later update
    /// of the same scenario's announcements, or a later draft with the same key.
    func isSuperseded(_ message: OutboxMessage) -> Bool {
        let draft = message.draft
        if let key = draft.key {
            return queue.withLock { queue in queue.waiting.contains { $0.id > message.id && $0.draft.key == key } }
        }
        guard draft.purpose == .update, let scenarioID = draft.scenarioID else { return false }
        return queue.withLock { queue in
            queue.waiting.contains { $0.id > message.id && $0.draft.purpose == .update && $0.draft.scenarioID == scenarioID }
        }
    }
}

/// One edit at a time per message, each to a state (outbox row id) newer than the last one made.
///
/// ```swift
/// guard await order.begin(ref, state: message.id) else { return }  // a newer state is shown
/// let made = (try? await transport.edit(ref, text: text, buttons: buttons)) != nil
/// order.end(ref, made: made, state: message.id)                    // the next edit's turn
/// ```
final class MessageEditOrder: Sendable {
    private struct Entry {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []
        /// The newest state an edit made (or found shown already).
        var shown = Int64.min
    }

    /// Messages whose last shown state is remembered; idle ones beyond it are forgotten.
    private static let remembered = 10_000
    private let entries = Mutex([MessageRef: Entry]())

    /// Waits for the message's turn and returns true; returns false (without the turn) when a
    /// state at least as new as `id` is shown already.
    func begin(_ ref: MessageRef, state id: Int64) async -> Bool {
        let stale = entries.withLock { entries in (entries[ref]?.shown ?? .min) >= id }
        if stale { return false }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let turnIsFree = entries.withLock { entries -> Bool in
                var entry = entries[ref] ?? Entry()
                defer { entries[ref] = entry }
                if entry.busy {
                    entry.waiting.append(continuation)
                    return false
                }
                entry.busy = true
                return true
            }
            if turnIsFree { continuation.resume() }
        }
        // The turn is ours; an edit made while this one waited may have shown a newer state.
        let superseded = entries.withLock { entries in (entries[ref]?.shown ?? .min) >= id }
        if superseded { end(ref, made: false, state: id) }
        return !superseded
    }

    /// Ends the turn `begin` gave; `made`: the message now shows state `id`.
    func end(_ ref: MessageRef, made: Bool, state id: Int64) {
        let next = entries.withLock { entries -> CheckedContinuation<Void, Never>? in
            guard var entry = entries[ref] else { return nil }
            if made { entry.shown = max(entry.shown, id) }
            let next = entry.waiting.isEmpty ? nil : entry.waiting.removeFirst()
            entry.busy = next != nil  // the turn passes straight to the next waiter
            entries[ref] = entry
            if entries.count > Self.remembered {
                for (key, value) in entries where !value.busy && value.waiting.isEmpty && key != ref {
                    entries[key] = nil
                    if entries.count <= Self.remembered / 2 { break }
                }
            }
            return next
        }
        next?.resume()
    }
}
