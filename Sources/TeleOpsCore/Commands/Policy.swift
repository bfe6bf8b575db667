/// A command on its way to dispatch, as the policy filters see it.
public struct CommandRequest: Sendable {
    public var engineer: Engineer
    public var reply: ParsedReply
    public var scenario: Scenario?
    public var action: ActionDefinition?

    public init(engineer: Engineer, reply: ParsedReply, scenario: Scenario?, action: ActionDefinition?) {
        self.engineer = engineer
        self.reply = reply
        self.scenario = scenario
        self.action = action
    }
}

public enum PolicyDecision: Sendable, Equatable {
    case allow
    case deny(reason: String)
}

/// One link of the policy chain in front of dispatch (access control, approval, lock, rate limit).
/// Each may stop a command with a reason the engineer sees.
public protocol PolicyFilter: Sendable {
    func evaluate(_ request: CommandRequest) -> PolicyDecision
}

/// Requires the role each command declares.
public struct RoleFilter: PolicyFilter {
    public init() {}

    public func evaluate(_ request: CommandRequest) -> PolicyDecision {
        guard let role = request.reply.spec.requiredRole, !request.engineer.roles.contains(role) else { return .allow }
        return .deny(reason: "\(request.reply.spec.name) needs the '\(role)' role, which \(request.engineer.name) does not have")
    }
}

/// The filters in order; the first denial wins.
///
/// ```swift
/// let policy = Policy(filters: [RoleFilter()])
/// if case .deny(let reason) = policy.evaluate(request) { print(reason) }
/// ```
public struct Policy: Sendable {
    public var filters: [any PolicyFilter]

    public init(filters: [any PolicyFilter]) {
        self.filters = filters
    }

    public static let standard = Policy(filters: [RoleFilter()])

    public func evaluate(_ request: CommandRequest) -> PolicyDecision {
        for filter in filters {
            let decision = filter.evaluate(request)
            if decision != .allow { return decision }
        }
        return .allow
    }
}
