/// Why a `ScenarioStore` call failed, with a message a person can act on.
///
/// Match on `code`; the set of codes may grow, so `switch` over it with a `default`.
///
/// ```swift
/// do {
///     try await store.append([NewEvent(scenarioID: 42, actor: "ana", body: .acknowledged)], outbox: [])
/// } catch let error as ScenarioStoreError where error.code == .scenarioNotFound {
///     print(error)  // "no scenario 42: ..."
/// }
/// ```
public struct ScenarioStoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case scenarioNotFound = "scenario not found"
            case outboxMessageNotFound = "outbox message not found"
            case inboxMessageNotFound = "inbox message not found"
            case cannotOpen = "cannot open store"
            case newerSchema = "store written by a newer TeleOps"
            case corruptData = "corrupt data"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// An event or outbox draft named a scenario id that does not exist.
        public static let scenarioNotFound = Code(.scenarioNotFound)
        /// `markSent` / `markFailed` named an outbox id that does not exist.
        public static let outboxMessageNotFound = Code(.outboxMessageNotFound)
        /// `append(settling:)` named an inbox id that does not exist.
        public static let inboxMessageNotFound = Code(.inboxMessageNotFound)
        /// The store's file or server could not be opened.
        public static let cannotOpen = Code(.cannotOpen)
        /// The store's schema has migrations this build does not know.
        public static let newerSchema = Code(.newerSchema)
        /// A stored row could not be read back (unknown enum value, bad JSON).
        public static let corruptData = Code(.corruptData)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What was wrong, where, and what to do.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// `events` or `outbox` named scenario `id`, which does not exist.
    public static func scenarioNotFound(_ id: Int64) -> ScenarioStoreError {
        ScenarioStoreError(
            .scenarioNotFound,
            "no scenario \(id): events and outbox messages can only be added to an existing scenario; "
                + "check the id (`teleops scenarios list`) and retry; nothing was written")
    }

    /// `markSent` / `markFailed` named outbox message `id`, which does not exist.
    public static func outboxMessageNotFound(_ id: Int64) -> ScenarioStoreError {
        ScenarioStoreError(
            .outboxMessageNotFound,
            "no outbox message \(id): pass an id returned by pendingOutbox(limit:); nothing was written")
    }

    /// `append(settling:)` named inbox message `id`, which does not exist.
    public static func inboxMessageNotFound(_ id: Int64) -> ScenarioStoreError {
        ScenarioStoreError(
            .inboxMessageNotFound,
            "no inbox message \(id): pass the inboxID of a message returned by receive(_:cursor:); nothing was written")
    }
}
