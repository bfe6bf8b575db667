/// statsd intake: where to listen for UDP packets, how often to evaluate, and the rules.
///
/// UDP is off unless `udpHost` is set; the evaluation still runs for lines posted over HTTP
/// (`POST /v1/alerts/statsd`).
///
/// ```swift
/// let settings = StatsdSettings(udpHost: "127.0.0.1", rules: [rule])  // UDP on 127.0.0.1:8125
/// ```
public struct StatsdSettings: Sendable, Equatable {
    /// The port statsd clients send to by default.
    public static let defaultUDPPort = 8125
    /// Where the UDP socket binds; nil: no UDP socket.
    public var udpHost: String?
    /// 0 picks a free port.
    public var udpPort: Int
    /// How often rules are evaluated (and firing or resolved alerts handed on).
    public var evaluationInterval: Duration
    /// Series (rule × host) held at once; samples of further series are dropped and counted.
    public var maxSeries: Int
    /// Larger datagrams are dropped and counted.
    public var maxPacketBytes: Int
    public var rules: [StatsdRule]

    public init(
        udpHost: String? = nil, udpPort: Int = StatsdSettings.defaultUDPPort, evaluationInterval: Duration = .seconds(1),
        maxSeries: Int = 1_000, maxPacketBytes: Int = 65535, rules: [StatsdRule] = []
    ) {
        self.udpHost = udpHost
        self.udpPort = udpPort
        self.evaluationInterval = evaluationInterval
        self.maxSeries = maxSeries
        self.maxPacketBytes = maxPacketBytes
        self.rules = rules
    }
}
