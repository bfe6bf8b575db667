import Foundation

/// The name of an event kind as stored and printed (`alert_fired`, `command_finished`, …).
public enum EventKind: String, Sendable, Codable, CaseIterable {
    case alertFired = "alert_fired"
    case alertRepeated = "alert_repeated"
    case alertResolved = "alert_resolved"
    case notified
    case replyReceived = "reply_received"
    case replyRefused = "reply_refused"
    case commandRejected = "command_rejected"
    case commandDispatched = "command_dispatched"
    case commandFinished = "command_finished"
    case commandLost = "command_lost"
    case cancelRequested = "cancel_requested"
    case acknowledged
    case resolved
    case note
    case silenced
    case handedOff = "handed_off"
}

/// What an event says. Each kind carries its own payload; the JSON form is
/// `{"kind": "...", "data": {...}}` (see `ScenarioEvent`).
public enum EventBody: Sendable, Equatable {
    case alertFired(AlertFacts)
    case alertRepeated(AlertFacts)
    case alertResolved(AlertFacts)
    case notified(MessageRef)
    case replyReceived(ReplyFacts)
    case replyRefused(RefusalFacts)
    case commandRejected(RefusalFacts)
    case commandDispatched(DispatchFacts)
    case commandFinished(TaskResult)
    case commandLost(LostFacts)
    /// An engineer asked to stop a running command; its `commandFinished` (cancelled) follows.
    case cancelRequested(CancelFacts)
    case acknowledged
    case resolved(NoteFacts)
    case note(NoteFacts)
    /// An engineer silenced the scenario: repeats and escalations say nothing until `until`.
    case silenced(SilenceFacts)
    /// An engineer handed the scenario to another, with the note they need.
    case handedOff(HandoffFacts)

    public var kind: EventKind {
        switch self {
        case .alertFired: .alertFired
        case .alertRepeated: .alertRepeated
        case .alertResolved: .alertResolved
        case .notified: .notified
        case .replyReceived: .replyReceived
        case .replyRefused: .replyRefused
        case .commandRejected: .commandRejected
        case .commandDispatched: .commandDispatched
        case .commandFinished: .commandFinished
        case .commandLost: .commandLost
        case .cancelRequested: .cancelRequested
        case .acknowledged: .acknowledged
        case .resolved: .resolved
        case .note: .note
        case .silenced: .silenced
        case .handedOff: .handedOff
        }
    }

    init(kind: EventKind, from decoder: any Decoder) throws {
        switch kind {
        case .alertFired: self = .alertFired(try AlertFacts(from: decoder))
        case .alertRepeated: self = .alertRepeated(try AlertFacts(from: decoder))
        case .alertResolved: self = .alertResolved(try AlertFacts(from: decoder))
        case .notified: self = .notified(try MessageRef(from: decoder))
        case .replyReceived: self = .replyReceived(try ReplyFacts(from: decoder))
        case .replyRefused: self = .replyRefused(try RefusalFacts(from: decoder))
        case .commandRejected: self = .commandRejected(try RefusalFacts(from: decoder))
        case .commandDispatched: self = .commandDispatched(try DispatchFacts(from: decoder))
        case .commandFinished: self = .commandFinished(try TaskResult(from: decoder))
        case .commandLost: self = .commandLost(try LostFacts(from: decoder))
        case .cancelRequested: self = .cancelRequested(try CancelFacts(from: decoder))
        case .acknowledged: self = .acknowledged
        case .resolved: self = .resolved(try NoteFacts(from: decoder))
        case .note: self = .note(try NoteFacts(from: decoder))
        case .silenced: self = .silenced(try SilenceFacts(from: decoder))
        case .handedOff: self = .handedOff(try HandoffFacts(from: decoder))
        }
    }

    func encodeData(to encoder: any Encoder) throws {
        switch self {
        case .alertFired(let facts), .alertRepeated(let facts), .alertResolved(let facts): try facts.encode(to: encoder)
        case .notified(let ref): try ref.encode(to: encoder)
        case .replyReceived(let facts): try facts.encode(to: encoder)
        case .replyRefused(let facts), .commandRejected(let facts): try facts.encode(to: encoder)
        case .commandDispatched(let facts): try facts.encode(to: encoder)
        case .commandFinished(let result): try result.encode(to: encoder)
        case .commandLost(let facts): try facts.encode(to: encoder)
        case .cancelRequested(let facts): try facts.encode(to: encoder)
        case .acknowledged: _ = encoder.container(keyedBy: NoteFacts.CodingKeys.self)
        case .resolved(let facts), .note(let facts): try facts.encode(to: encoder)
        case .silenced(let facts): try facts.encode(to: encoder)
        case .handedOff(let facts): try facts.encode(to: encoder)
        }
    }

    /// One line for a person: what `teleops scenarios show` prints.
    public var summary: String {
        switch self {
        case .alertFired(let facts): "alert fired (\(facts.severity.rawValue)): \(facts.summary)"
        case .alertRepeated(let facts): "alert repeated (\(facts.severity.rawValue)): \(facts.summary)"
        case .alertResolved(let facts): "alert resolved: \(facts.summary)"
        case .notified(let ref): "notified on \(ref.transport) (chat \(ref.chat), message \(ref.messageID))"
        case .replyReceived(let facts): "replied on \(facts.transport): \(facts.text)"
        case .replyRefused(let facts): "refused \"\(facts.text)\": \(facts.reason)"
        case .commandRejected(let facts):
            "rejected \"\(facts.text)\"" + (facts.taskID.map { " (task \($0))" } ?? "") + ": \(facts.reason)"
        case .commandDispatched(let facts):
            "dispatched \(facts.action) to \(facts.worker.map { "worker \($0)" } ?? facts.host) (task \(facts.taskID)): "
                + facts.argv.joined(separator: " ")
        case .commandFinished(let result): "finished \(result.action) (task \(result.taskID)): \(result.outcomeDescription)"
        case .commandLost(let facts): "lost \(facts.action) (task \(facts.taskID)) on worker \(facts.worker): \(facts.reason)"
        case .cancelRequested(let facts): "asked to cancel \(facts.action) (task \(facts.taskID))"
        case .acknowledged: "acknowledged"
        case .resolved(let facts): facts.text.isEmpty ? "resolved" : "resolved: \(facts.text)"
        case .note(let facts): "note: \(facts.text)"
        case .silenced(let facts): "silenced until \(facts.until.ISO8601Format())"
        case .handedOff(let facts): "handed to \(facts.to)" + (facts.note.isEmpty ? "" : ": \(facts.note)")
        }
    }
}

/// The alert as an event records it.
public struct AlertFacts: Sendable, Equatable, Codable {
    public var alertID: Int64
    public var source: String
    public var severity: Severity
    public var summary: String
    /// `AlertDigest.hex(of:)` of the alert as stored, which puts its row under the chain
    /// (`ChainVerifier` recomputes it). Nil in events written before it was recorded; those
    /// are not checked against their alert.
    public var alertDigest: String?

    public init(alertID: Int64, source: String, severity: Severity, summary: String, alertDigest: String? = nil) {
        self.alertID = alertID
        self.source = source
        self.severity = severity
        self.summary = summary
        self.alertDigest = alertDigest
    }

    enum CodingKeys: String, CodingKey { case alertID = "alert_id", source, severity, summary, alertDigest = "alert_digest" }
}

/// How long a scenario stays quiet.
public struct SilenceFacts: Sendable, Equatable, Codable {
    public var until: Date

    public init(until: Date) {
        self.until = until
    }
}

/// A chat message: which transport, which chat, which message. Replies to it find its scenario.
public struct MessageRef: Sendable, Hashable, Codable {
    public var transport: String
    public var chat: String
    public var messageID: String

    public init(transport: String, chat: String, messageID: String) {
        self.transport = transport
        self.chat = chat
        self.messageID = messageID
    }

    enum CodingKeys: String, CodingKey { case transport, chat, messageID = "message_id" }
}

public struct ReplyFacts: Sendable, Equatable, Codable {
    public var transport: String
    public var text: String

    public init(transport: String, text: String) {
        self.transport = transport
        self.text = text
    }
}

public struct RefusalFacts: Sendable, Equatable, Codable {
    public var text: String
    public var reason: String
    /// The chat user id, kept when the sender is not a known engineer.
    public var userID: String?
    /// For a command that was dispatched and then did not run (busy, cancelled while queued,
    /// its worker gone): the task of its `command_dispatched` event, so every dispatch has an
    /// end that names it. Nil for a command refused before it was dispatched.
    public var taskID: String?

    public init(text: String, reason: String, userID: String? = nil, taskID: String? = nil) {
        self.text = text
        self.reason = reason
        self.userID = userID
        self.taskID = taskID
    }

    enum CodingKeys: String, CodingKey { case text, reason, userID = "user_id", taskID = "task_id" }
}

public struct DispatchFacts: Sendable, Equatable, Codable {
    public var taskID: String
    public var action: String
    public var argv: [String]
    public var host: String
    /// The worker it was sent to by name (a fan-out by labels); nil when routed by host.
    public var worker: String?

    public init(taskID: String, action: String, argv: [String], host: String, worker: String? = nil) {
        self.taskID = taskID
        self.action = action
        self.argv = argv
        self.host = host
        self.worker = worker
    }

    enum CodingKeys: String, CodingKey { case taskID = "task_id", action, argv, host, worker }
}

/// Which running command an engineer asked to stop.
public struct CancelFacts: Sendable, Equatable, Codable {
    public var taskID: String
    public var action: String

    public init(taskID: String, action: String) {
        self.taskID = taskID
        self.action = action
    }

    enum CodingKeys: String, CodingKey { case taskID = "task_id", action }
}

public struct LostFacts: Sendable, Equatable, Codable {
    public var taskID: String
    public var action: String
    public var worker: String
    public var reason: String

    public init(taskID: String, action: String, worker: String, reason: String) {
        self.taskID = taskID
        self.action = action
        self.worker = worker
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case taskID = "task_id", action, worker, reason }
}

/// Who a scenario was handed to, and the note for them.
public struct HandoffFacts: Sendable, Equatable, Codable {
    public var to: String
    public var note: String

    public init(to: String, note: String) {
        self.to = to
        self.note = note
    }

    enum CodingKeys: String, CodingKey { case to, note }
}

public struct NoteFacts: Sendable, Equatable, Codable {
    public var text: String

    public init(text: String) { self.text = text }

    enum CodingKeys: String, CodingKey { case text }
}

extension ScenarioEvent {
    /// The journaled alert an alert event (fired, repeated, resolved) is about; nil for other kinds.
    public var alertID: Int64? {
        switch body {
        case .alertFired(let facts), .alertRepeated(let facts), .alertResolved(let facts): facts.alertID
        default: nil
        }
    }
}
