import Foundation
import TeleOpsCore
import TeleOpsDispatch
import TeleOpsHTTP

/// Everything `teleops serve` needs. Every field has an embedded default, so no file is
/// needed: SQLite under `./.teleops`, HTTP on 127.0.0.1:8080, two local workers, the console
/// chat with one engineer (`operator`), and the default action catalogue. docs/configuration.md
/// describes each key.
public struct TeleOpsConfig: Sendable {
    public var dataDirectory: String = "./.teleops"
    /// Listening address and the alert sources (`sources:` in the file).
    public var http = HTTPSettings()
    public var intake = IngestQueue.Settings()
    /// statsd over UDP (off by default) and HTTP, and the threshold rules that turn metrics into alerts.
    public var statsd = StatsdSettings()
    public var dispatch = DispatchSettings()
    public var console = ConsoleSettings()
    /// Telegram and Slack, which one announces, failover, and the outbox's retry policy.
    public var chat = ChatConfig()
    public var engineers: [Engineer] = [Engineer(name: "operator", roles: [Role.responder], identities: ["console": "operator"])]
    public var actions: ActionCatalogue = .defaults
    /// What the scenario log keeps (`retention:`): everything by default.
    public var retention = RetentionService.Settings()

    public init() {}

    /// The SQLite file inside the data directory.
    public var databasePath: String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("teleops.sqlite").path
    }
}

/// The ZeroMQ broker and the workers the controller starts itself.
public struct DispatchSettings: Sendable, Equatable {
    /// Where the broker's ROUTER binds. `*` as the port picks a free one.
    public var endpoint: String = "tcp://127.0.0.1:7311"
    /// `teleops worker` processes the controller spawns and supervises; they serve every host.
    public var localWorkers: Int = 2
    /// Tasks each local worker runs at once.
    public var workerCapacity: Int = 8
    /// When the controller runs as root: the user and group the local workers run commands as
    /// unless an action names others (`teleops worker --user/--group`).
    public var workerUser: String?
    public var workerGroup: String?
    public var heartbeatInterval: Duration = .seconds(1)
    /// A worker silent this long is declared lost, with its running tasks.
    public var heartbeatTimeout: Duration = .seconds(5)
    /// Tasks waiting for a free worker slot before new ones are refused as busy.
    public var maxQueued: Int = 1000
    /// CURVE encryption and the allowlist of worker keys (`curve:`, docs/curve.md); required
    /// when `endpoint` is not on loopback.
    public var curve: BrokerCurve?

    public init() {}
}

/// The terminal as a chat.
public struct ConsoleSettings: Sendable, Equatable {
    /// The console identity of the person at the terminal (matched against engineers' `console`).
    public var operatorID: String = "operator"

    public init() {}
}
