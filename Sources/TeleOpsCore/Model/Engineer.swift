/// A person allowed to issue commands, and how each chat transport knows them.
///
/// ```swift
/// let ana = Engineer(name: "ana", roles: ["responder"], identities: ["telegram": "123456", "console": "ana"])
/// ```
public struct Engineer: Sendable, Equatable, Codable {
    public var name: String
    public var roles: Set<String>
    /// Transport name → that transport's user id for this engineer.
    public var identities: [String: String]

    public init(name: String, roles: Set<String> = [Role.responder], identities: [String: String] = [:]) {
        self.name = name
        self.roles = roles
        self.identities = identities
    }
}

/// Role names used by the built-in commands.
public enum Role {
    /// May run actions, acknowledge, resolve and add notes.
    public static let responder = "responder"
}

/// Finds the engineer behind a chat identity.
public struct EngineerDirectory: Sendable {
    public let engineers: [Engineer]
    private let index: [String: Int]

    public init(_ engineers: [Engineer]) {
        self.engineers = engineers
        var index: [String: Int] = [:]
        for (position, engineer) in engineers.enumerated() {
            for (transport, userID) in engineer.identities {
                index[Self.key(transport, userID)] = position
            }
        }
        self.index = index
    }

    /// The engineer whose identity on `transport` is `userID`, or nil for a stranger.
    public func engineer(transport: String, userID: String) -> Engineer? {
        index[Self.key(transport, userID)].map { engineers[$0] }
    }

    private static func key(_ transport: String, _ userID: String) -> String { transport + "\u{1F}" + userID }
}
