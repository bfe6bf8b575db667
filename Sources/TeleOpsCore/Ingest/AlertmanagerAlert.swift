import Foundation

/// One alert object in the shape Alertmanager defines and Grafana copies, as it sits in a
/// webhook notification (`alerts[i]`) or in a list posted to Alertmanager's API v2 (`[i]`):
///
/// ```json
/// {"status": "firing",
///  "labels": {"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
///  "annotations": {"summary": "Disk almost full on db1"},
///  "startsAt": "2026-08-01T10:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
///  "generatorURL": "http://prometheus:9090/graph?g0.expr=disk_used_pct+%3E+90", "fingerprint": "1a30ba71cca2921f"}
/// ```
///
/// The three decoders that read this shape (`AlertmanagerWebhookDecoder`,
/// `AlertmanagerAPIDecoder`, `GrafanaAlertDecoder`) turn it into an `Alert` the same way:
///
/// - **host**: the first non-blank label of `hostLabels` (`host`, `hostname`, `instance`,
///   `node`, `nodename`, `pod`); `instance` loses its port (`db1:9100` → `db1`,
///   `[::1]:9100` → `::1`) or, when it is a URL (a blackbox probe target), keeps only the
///   URL's host. No such label: `"unknown"`.
/// - **check**: the `alertname` label (required in a posted list, where Alertmanager
///   requires it; `"unnamed"` in a notification that lacks it).
/// - **severity**: the `severity` label, read with `severity(label:)`; absent or unknown
///   words are `warning`: an alert someone bothered to route is worth a look.
/// - **summary**: annotation `summary`, else `description`, else `message`, else
///   `"<alertname> on <host>"`; cut to `maxSummaryLength` characters with `…`, never rejected.
/// - **labels**: all of the alert's labels. **details**: annotations, startsAt, endsAt,
///   generatorURL and fingerprint as sent, plus what the decoder adds about the notification.
/// - **fingerprint** (identity): `"<source>|<fingerprint>"` when the sender gives one
///   (Alertmanager since 0.19, Grafana); otherwise `"<source>|" + Alert.digest` of the sorted
///   `name=value` label pairs. That digest is TeleOps's own, not Alertmanager's label hash,
///   so the same alert sent with and without a fingerprint has two identities.
/// - **idempotency key**: identity, status and `startsAt` as sent (and, for a resolved alert
///   in a notification, `endsAt`). Alertmanager resends a group (retries, `repeat_interval`)
///   with the same `startsAt`, so a resend is a duplicate, while the same alert firing again
///   later has a new `startsAt` and counts. A posted alert without `startsAt` has no key.
///
/// Timestamps are RFC 3339 and checked with `AlertTime.check`; Go's zero time
/// (`0001-01-01T00:00:00Z`, how a firing alert's `endsAt` is sent) means "not set".
/// Label and annotation names must not be empty and values are at most `maxValueBytes`.
/// Fields not named here are ignored: these payloads grow fields with new releases.
struct AlertmanagerAlert: Sendable {
    /// Which of the two places the object comes from; they differ in what is required.
    enum Shape: Sendable {
        /// An alert in a notification (Alertmanager webhook, Grafana): `status` and `startsAt`
        /// are required, `fingerprint` is used when present.
        case notification
        /// An alert posted to Alertmanager's API v2: `labels.alertname` is required, there is
        /// no status (resolved iff `endsAt` is not after the time received) and no fingerprint;
        /// `startsAt` defaults to the time received and `endsAt` may be up to
        /// `maxPostedEndsAtAhead` in the future (Prometheus sets it a few minutes ahead).
        case posted
    }

    /// Most alerts accepted in one request (Alertmanager's webhook sends a whole group).
    static let maxAlerts = 10_000
    /// Longest label or annotation value, in bytes of UTF-8: 16 KiB.
    static let maxValueBytes = 16 * 1024
    /// Longest summary, in characters; longer ones are cut, ending with `…`.
    static let maxSummaryLength = 1024
    /// Longest fingerprint, in characters (Alertmanager's and Grafana's are 16 hex digits).
    static let maxFingerprintLength = 255
    /// How far ahead of the time received a posted alert's `endsAt` may be: 366 days.
    static let maxPostedEndsAtAhead: TimeInterval = 366 * 86_400
    /// The labels that name the host, in the order they are tried.
    static let hostLabels = ["host", "hostname", "instance", "node", "nodename", "pod"]
    /// The host of an alert with none of `hostLabels`.
    static let unknownHost = "unknown"
    /// The check of a notified alert with no `alertname` label.
    static let unnamedCheck = "unnamed"

    /// The object itself, for decoders that read more fields of it (Grafana's `values`).
    let object: JSONFields
    let shape: Shape
    let labels: [String: String]
    let annotations: [String: String]
    let status: AlertStatus
    /// `startsAt` as sent; nil when a posted alert has none.
    let startsAtText: String?
    /// `endsAt` as sent; nil when absent or Go's zero time.
    let endsAtText: String?
    let generatorURL: String?
    let fingerprint: String?
    let check: String
    let host: String

    init(_ object: JSONFields, shape: Shape, receivedAt: Date) throws(AlertDecodeError) {
        self.object = object
        self.shape = shape
        let notifiedStatus = shape == .notification ? try Self.status(object) : nil
        if shape == .posted, object["labels"] == nil { throw object.error("labels", "is required") }
        labels = try object.labelSet("labels", maxValueBytes: Self.maxValueBytes)
        annotations = try object.labelSet("annotations", maxValueBytes: Self.maxValueBytes)
        let alertname = labels["alertname"].map { $0.trimmed() } ?? ""
        if shape == .posted, alertname.isEmpty {
            throw object.error("labels.alertname", labels["alertname"] == nil ? "is required" : "must not be empty")
        }
        check = alertname.isEmpty ? Self.unnamedCheck : alertname
        host = Self.host(labels: labels)

        let startsAt = try object.rfc3339("startsAt", receivedAt: receivedAt)
        if shape == .notification, startsAt == nil {
            throw object.error("startsAt", object["startsAt"] == nil ? "is required" : "is Go's zero time (not set)")
        }
        startsAtText = try startsAt == nil ? nil : object.string("startsAt")
        let endsAtAhead = shape == .posted ? Self.maxPostedEndsAtAhead : AlertTime.maxFuture
        let endsAt = try object.rfc3339("endsAt", receivedAt: receivedAt, maxFuture: endsAtAhead)
        endsAtText = try endsAt == nil ? nil : object.string("endsAt")
        generatorURL = try object.nonEmptyString("generatorURL", maxLength: Self.maxValueBytes)

        status = notifiedStatus ?? (endsAt.map { $0 <= receivedAt } == true ? .resolved : .firing)
        fingerprint = shape == .notification
            ? try object.nonEmptyString("fingerprint", maxLength: Self.maxFingerprintLength) : nil
    }

    /// A notified alert's `status`: `firing` or `resolved`, in any case.
    private static func status(_ object: JSONFields) throws(AlertDecodeError) -> AlertStatus {
        let text = try object.requiredString("status", maxLength: 64)
        switch text.lowercased() {
        case "firing": return .firing
        case "resolved": return .resolved
        default: throw object.error("status", "'\(text)' is not one of: firing, resolved")
        }
    }

    var severity: Severity { Self.severity(label: labels["severity"]) }

    var summary: String {
        let text = ["summary", "description", "message"].lazy
            .compactMap { self.annotations[$0]?.trimmed() }
            .first { !$0.isEmpty } ?? "\(check) on \(host)"
        guard text.count > Self.maxSummaryLength else { return text }
        return String(text.prefix(Self.maxSummaryLength - 1)) + "…"
    }

    /// `"<source>|<fingerprint>"`, or the digest of the label set when there is no fingerprint.
    func identity(source: String) -> String {
        "\(source)|\(fingerprint ?? Alert.digest(labels.map { "\($0.key)=\($0.value)" }.sorted()))"
    }

    func idempotencyKey(identity: String) -> String? {
        guard let startsAtText else { return nil }
        // RFC 3339 allows any number of fraction digits: keep the key short whatever is sent.
        let starts = startsAtText.count <= 64 ? startsAtText : Alert.digest([startsAtText])
        var key = "\(identity)|\(status.rawValue)|\(starts)"
        if shape == .notification, status == .resolved, let endsAtText {
            key += "|" + (endsAtText.count <= 64 ? endsAtText : Alert.digest([endsAtText]))
        }
        return key
    }

    /// The `Alert`, its details being this object's fields plus `details` from the decoder.
    func alert(source: String, details: [String: JSONValue], receivedAt: Date) -> Alert {
        var all = details
        if !annotations.isEmpty { all["annotations"] = .object(annotations.mapValues(JSONValue.string)) }
        all["startsAt"] = startsAtText.map(JSONValue.string)
        all["endsAt"] = endsAtText.map(JSONValue.string)
        all["generatorURL"] = generatorURL.map(JSONValue.string)
        all["fingerprint"] = fingerprint.map(JSONValue.string)
        let identity = identity(source: source)
        return Alert(
            source: source, host: host, check: check, severity: severity, status: status, summary: summary,
            labels: labels, details: .object(all), fingerprint: identity,
            idempotencyKey: idempotencyKey(identity: identity), receivedAt: receivedAt)
    }

    // MARK: Label conventions

    /// The host named by the first non-blank of `hostLabels`, or `unknownHost`.
    static func host(labels: [String: String]) -> String {
        for name in hostLabels {
            guard let value = labels[name]?.trimmed(), !value.isEmpty else {
                continue
            }
            let host = name == "instance" ? host(instance: value) : value
            if !host.isEmpty { return host }
        }
        return unknownHost
    }

    /// The host in a Prometheus `instance` label: `db1:9100` → `db1`, `[::1]:9100` → `::1`,
    /// `https://example.org:8443/health` → `example.org`; anything else (`db1`, `::1`) as it is.
    static func host(instance: String) -> String {
        func isPort(_ text: Substring) -> Bool { !text.isEmpty && text.allSatisfy { $0.isASCII && $0.isNumber } }
        if instance.contains("://") {
            guard let host = URLComponents(string: instance)?.host, !host.isEmpty else { return instance }
            return host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        }
        if instance.hasPrefix("["), let close = instance.firstIndex(of: "]") {
            let address = instance[instance.index(after: instance.startIndex)..<close]
            let rest = instance[instance.index(after: close)...]
            guard !address.isEmpty, rest.isEmpty || (rest.first == ":" && isPort(rest.dropFirst())) else { return instance }
            return String(address)
        }
        let parts = instance.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, isPort(parts[1]) else { return instance }
        return String(parts[0])
    }

    /// The words seen in `severity` labels, by the severity they mean (compared lower-cased).
    static let severityWords: [String: Severity] = {
        var words: [String: Severity] = [:]
        for word in ["critical", "crit", "page", "p1", "high", "emergency", "alert"] { words[word] = .critical }
        for word in ["error", "err", "major", "p2"] { words[word] = .error }
        for word in ["warning", "warn", "minor", "medium", "p3"] { words[word] = .warning }
        for word in ["info", "informational", "low", "none", "notice", "p4", "p5"] { words[word] = .info }
        return words
    }()

    /// The severity a `severity` label means (`severityWords`, any case); `warning` when absent or unknown.
    static func severity(label: String?) -> Severity {
        guard let label else { return .warning }
        return severityWords[label.trimmed().lowercased()] ?? .warning
    }
}

/// One notification about a group of alerts, as Alertmanager's webhook and Grafana send it:
/// the alerts, and what the sender says about the notification itself.
public struct AlertGroup: Sendable, Equatable {
    /// One alert per entry of the notification's `alerts`, in order.
    public var alerts: [Alert]
    /// How many alerts of the group the sender left out (Alertmanager's `max_alerts`); 0 when
    /// it says nothing. Worth a warning in the log: those alerts never reach TeleOps.
    public var truncatedAlerts: Int
    /// The receiver (Alertmanager) or contact point (Grafana) that sent the notification.
    public var receiver: String?
    /// The sender's key for the group (`{}:{alertname="DiskFull"}`).
    public var groupKey: String?

    public init(alerts: [Alert], truncatedAlerts: Int = 0, receiver: String? = nil, groupKey: String? = nil) {
        self.alerts = alerts
        self.truncatedAlerts = truncatedAlerts
        self.receiver = receiver
        self.groupKey = groupKey
    }
}

/// A decoder of notifications about a group of alerts (Alertmanager's webhook, Grafana),
/// which can say how many alerts the sender left out; the route logs that.
public protocol AlertGroupDecoder: AlertDecoder {
    func decodeGroup(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> AlertGroup
}

/// The object Alertmanager's webhook and Grafana wrap one group's alerts in: `alerts`
/// (1 to `AlertmanagerAlert.maxAlerts` of them) and the notification's `receiver`,
/// `groupKey`, `externalURL`, `truncatedAlerts` and `notification_reason`, which go into
/// each alert's details. `version` is for the decoder to check.
struct AlertmanagerNotification: Sendable {
    let root: JSONFields
    let alerts: [AlertmanagerAlert]
    let truncatedAlerts: Int
    let receiver: String?
    let groupKey: String?
    /// The notification's fields, for each alert's details.
    let details: [String: JSONValue]

    init(_ root: JSONFields, receivedAt: Date) throws(AlertDecodeError) {
        self.root = root
        var details: [String: JSONValue] = [:]
        func text(_ key: String) throws(AlertDecodeError) -> String? {
            let value = try root.nonEmptyString(key, maxLength: AlertmanagerAlert.maxValueBytes)
            details[key] = value.map(JSONValue.string)
            return value
        }
        receiver = try text("receiver")
        groupKey = try text("groupKey")
        _ = try text("externalURL")
        _ = try text("notification_reason")
        let truncated = try root.int("truncatedAlerts", in: 0...Int.max)
        details["truncatedAlerts"] = truncated.map { .number(Double($0)) }
        truncatedAlerts = truncated ?? 0
        self.details = details
        var alerts: [AlertmanagerAlert] = []
        for object in try root.alertObjects("alerts", maxCount: AlertmanagerAlert.maxAlerts) {
            alerts.append(try AlertmanagerAlert(object, shape: .notification, receivedAt: receivedAt))
        }
        self.alerts = alerts
    }

    /// The group as `Alert`s of `source`, each alert's details being the notification's
    /// plus `extraDetails(alert)`.
    func group(
        source: String, receivedAt: Date,
        extraDetails: (AlertmanagerAlert) throws(AlertDecodeError) -> [String: JSONValue] = { _ in [:] }
    ) throws(AlertDecodeError) -> AlertGroup {
        var result: [Alert] = []
        result.reserveCapacity(alerts.count)
        for alert in alerts {
            let extra = try extraDetails(alert)
            result.append(alert.alert(
                source: source, details: details.merging(extra) { _, new in new }, receivedAt: receivedAt))
        }
        return AlertGroup(alerts: result, truncatedAlerts: truncatedAlerts, receiver: receiver, groupKey: groupKey)
    }
}
