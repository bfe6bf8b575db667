/// What puts an alert's stored row under the hash chain.
///
/// An alert event (`alert_fired`, `alert_repeated`, `alert_resolved`) records in its `data` the
/// digest of its alert's content (`AlertFacts.alertDigest`), and `data` is hashed into the
/// chain (`EventChain`). `ChainVerifier` recomputes the digest from the row the store holds, so
/// an edit of the row (its labels or details, which the review page, `scenarios show` and the
/// export display) is reported as `alert_altered`, and a missing row as `alert_removed`.
///
/// The digest is lowercase hex SHA-256 over `teleops-alert-v1` followed by the alert's
/// content as stored, each field `<byte count>:<bytes>` (an absent one is `-`), in this order:
/// source, host, check, severity, status, summary, labels (compact JSON with sorted keys, as
/// stored: `JSONValue.compactJSON(_:)`), details (the same, or absent), fingerprint,
/// idempotency key (or absent), and the received time in whole milliseconds since 1970 (as
/// stored: `Date.millisecondsSince1970`). The alert's id and scenario are not in it: the event
/// names the id, and verify looks for the row among its own scenario's alerts.
///
/// ```swift
/// let row = AlertRow(alert)                 // what the store writes
/// let digest = AlertDigest.hex(of: row)     // 64 lowercase hex digits; the same from the row read back
/// ```
public enum AlertDigest {
    /// The digest of `alert` as a store keeps it (labels and details serialised as stored,
    /// the time truncated to the millisecond).
    public static func hex(of alert: Alert) -> String {
        hex(of: AlertRow(alert))
    }

    /// The digest of an alert row: as intake writes it, or as read back from a store, every
    /// column as stored (a row whose text no longer decodes still has a digest, which differs).
    public static func hex(of row: AlertRow) -> String {
        var input = Input(capacity: 160 + row.summary.utf8.count + row.labels.utf8.count + (row.details?.utf8.count ?? 0))
        input.text(row.source)
        input.text(row.host)
        input.text(row.check)
        input.text(row.severity)
        input.text(row.status)
        input.text(row.summary)
        input.text(row.labels)
        if let details = row.details { input.text(details) } else { input.absent() }
        input.text(row.fingerprint)
        if let key = row.idempotencyKey { input.text(key) } else { input.absent() }
        input.text(String(row.receivedAtMilliseconds))
        return input.hex
    }

    /// The hash input: a tag, then length-prefixed fields (`EventChain`'s framing), so that no
    /// field can run into the next; `-` (never the start of a length) marks an absent one.
    private struct Input {
        private var bytes: [UInt8] = []

        init(capacity: Int) {
            bytes.reserveCapacity(capacity)
            bytes.append(contentsOf: "teleops-alert-v1".utf8)
        }

        mutating func text(_ field: String) {
            EventChain.append(field.utf8, to: &bytes)
        }

        mutating func absent() {
            bytes.append(UInt8(ascii: "-"))
        }

        var hex: String { Hex.string(Digest.sha256(bytes)) }
    }
}

/// An alert as a store keeps it: labels and details as their compact JSON text with sorted keys
/// (`JSONValue.compactJSON`), severity and status as their names, the time in whole
/// milliseconds. Intake serialises an alert once into this form: the SQLite store writes these
/// columns, and `AlertDigest` hashes the same text; verify reads it back from the columns.
public struct AlertRow: Sendable, Equatable {
    public var source: String
    public var host: String
    public var check: String
    public var severity: String
    public var status: String
    public var summary: String
    public var labels: String
    public var details: String?
    public var fingerprint: String
    public var idempotencyKey: String?
    public var receivedAtMilliseconds: Int64

    public init(
        source: String, host: String, check: String, severity: String, status: String, summary: String, labels: String,
        details: String?, fingerprint: String, idempotencyKey: String?, receivedAtMilliseconds: Int64
    ) {
        self.source = source
        self.host = host
        self.check = check
        self.severity = severity
        self.status = status
        self.summary = summary
        self.labels = labels
        self.details = details
        self.fingerprint = fingerprint
        self.idempotencyKey = idempotencyKey
        self.receivedAtMilliseconds = receivedAtMilliseconds
    }

    /// The row a store writes for `alert`.
    public init(_ alert: Alert) {
        self.init(
            source: alert.source, host: alert.host, check: alert.check, severity: alert.severity.rawValue,
            status: alert.status.rawValue, summary: alert.summary, labels: JSONValue.compactJSON(alert.labels),
            details: alert.details?.compactJSON, fingerprint: alert.fingerprint, idempotencyKey: alert.idempotencyKey,
            receivedAtMilliseconds: alert.receivedAt.millisecondsSince1970)
    }
}
