import Foundation

/// How bad an alert is. Ordered: `info < warning < error < critical`.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case info, warning, error, critical

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .error: 2
        case .critical: 3
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// Whether the monitoring system says the problem is happening or is over.
public enum AlertStatus: String, Sendable, Codable, CaseIterable {
    case firing, resolved
}

/// One alert, normalised from whatever source sent it.
///
/// Every decoder produces this shape; everything behind intake only sees it.
/// `fingerprint` is the alert's identity: a firing alert whose fingerprint
/// matches an open scenario joins it instead of opening a new one.
///
/// ```swift
/// let alert = Alert(source: "generic", host: "web-1", check: "disk", severity: .critical,
///                   status: .firing, summary: "/var is 95% full")
/// alert.fingerprint  // "generic|web-1|disk"
/// ```
public struct Alert: Sendable, Codable, Equatable {
    public var source: String
    public var host: String
    public var check: String
    public var severity: Severity
    public var status: AlertStatus
    public var summary: String
    public var labels: [String: String]
    public var details: JSONValue?
    public var fingerprint: String
    public var receivedAt: Date

    public init(
        source: String, host: String, check: String, severity: Severity, status: AlertStatus,
        summary: String, labels: [String: String] = [:], details: JSONValue? = nil,
        fingerprint: String? = nil, receivedAt: Date = Date()
    ) {
        self.source = source
        self.host = host
        self.check = check
        self.severity = severity
        self.status = status
        self.summary = summary
        self.labels = labels
        self.details = details
        self.fingerprint = fingerprint ?? Alert.defaultFingerprint(source: source, host: host, check: check)
        self.receivedAt = receivedAt
    }

    /// The identity used when a source has none of its own: source, host and check.
    public static func defaultFingerprint(source: String, host: String, check: String) -> String {
        "\(source)|\(host)|\(check)"
    }
}
