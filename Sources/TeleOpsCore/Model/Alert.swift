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

/// Whether the monitoring system says the problem is happening, is being handled, or is over.
///
/// `acknowledged` comes from sources that can say "someone is on it" (PagerDuty's
/// `acknowledge` event): it acknowledges the active scenario and opens nothing.
public enum AlertStatus: String, Sendable, Codable, CaseIterable {
    case firing, resolved, acknowledged
}

/// One alert, normalised from whatever source sent it.
///
/// Every decoder produces this shape; everything behind intake only sees it.
/// `fingerprint` is the alert's identity: a firing alert whose fingerprint
/// matches an open scenario joins it instead of opening a new one.
/// `idempotencyKey`, when the source gives one, identifies this delivery: a retry of the
/// same payload carries the same key and changes nothing (see `ScenarioStoreTransaction`).
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
    /// The same for every delivery of one notification (a retry), different for a new one.
    public var idempotencyKey: String?
    public var receivedAt: Date

    public init(
        source: String, host: String, check: String, severity: Severity, status: AlertStatus,
        summary: String, labels: [String: String] = [:], details: JSONValue? = nil,
        fingerprint: String? = nil, idempotencyKey: String? = nil, receivedAt: Date = Date()
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
        self.idempotencyKey = idempotencyKey
        self.receivedAt = receivedAt
    }

    /// The identity used when a source has none of its own: source, host and check.
    public static func defaultFingerprint(source: String, host: String, check: String) -> String {
        "\(source)|\(host)|\(check)"
    }
}

extension Alert {
    /// A short, stable, non-cryptographic digest (64-bit FNV-1a, 16 hex digits) for building
    /// fingerprints and idempotency keys out of long or secret parts (a PagerDuty routing key,
    /// a sorted label set) without storing them.
    public static func digest(_ parts: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (index, part) in parts.enumerated() {
            if index > 0 {
                hash ^= 0x1f
                hash &*= 0x0000_0100_0000_01b3
            }
            for byte in part.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension Alert {
    /// Its labels and details as `name = value` lines, nested details by dotted path
    /// (`check.output`, `history[2]`), for reading on a phone or in a terminal rather than as
    /// JSON; at most `maxLines` lines, then a line saying how many more there were. Empty when
    /// it has neither.
    public func detailLines(maxLines: Int = 200) -> [String] {
        var lines: [String] = []
        if !labels.isEmpty {
            lines.append("labels")
            lines += labels.sorted { $0.key < $1.key }.map { "  \($0.key) = \($0.value)" }
        }
        if let details {
            lines.append("details")
            Self.flatten(details, path: "", into: &lines)
        }
        guard lines.count > maxLines else { return lines }
        return Array(lines.prefix(maxLines)) + ["… \(lines.count - maxLines) more lines"]
    }

    private static func flatten(_ value: JSONValue, path: String, into lines: inout [String]) {
        switch value {
        case .object(let members) where !members.isEmpty:
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                flatten(member, path: path.isEmpty ? key : "\(path).\(key)", into: &lines)
            }
        case .array(let items) where !items.isEmpty:
            for (index, item) in items.enumerated() { flatten(item, path: "\(path)[\(index)]", into: &lines) }
        default:
            lines.append("  \(path.isEmpty ? "(value)" : path) = \(scalar(value))")
        }
    }

    private static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): flag ? "true" : "false"
        case .number(let number): number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .string(let text): text
        case .array: "[]"
        case .object: "{}"
        }
    }
}
