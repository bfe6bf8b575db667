import Foundation

/// Sensu events posted to `POST /v1/alerts/sensu`: what a pipe handler reads on stdin, the
/// body of a Sensu Go API POST, or what the Sensu events APIs list.
///
/// ```json
/// {"entity": {"metadata": {"name": "server1", "namespace": "default"}},
///  "check": {"metadata": {"name": "server-health"}, "status": 2, "output": "Server error"},
///  "id": "3c3e68f6-6db7-40d3-9b84-4d61817ae559", "timestamp": 1617050507}
/// ```
///
/// One event or an array of them, as `GET /api/core/v2/namespaces/{ns}/events` (Go) and
/// `GET /events` (Classic) answer; an empty array holds no alerts. Errors in the n-th event
/// name its path from `[n]`. The flavour is told by shape:
///
/// - **Sensu Go** has an `entity`: host `entity.metadata.name`, check `check.metadata.name`,
///   occurrences `check.occurrences`. The namespace is the event's `metadata.namespace`, else
///   the entity's, else the check's (a POSTed body may carry only the entity's).
/// - **Sensu Classic 1.x** has a `client` (and no `entity`): host `client.name`, check
///   `check.name`, `action` (`create`, `resolve` or `flapping`, default `create`) and
///   `occurrences` (default 1) at the root.
///
/// Host and check are required. `check.status` (default 0, as Sensu does for POSTed events) gives
/// the severity: 0 OK is `info`, 1 WARNING `warning`, 2 CRITICAL `critical`, anything else
/// (3 UNKNOWN by convention, or a custom code) `error`. Status 0 resolves, any other fires;
/// a Classic `action: resolve` resolves whatever the status. Flapping (Go `check.state`
/// `flapping`, Classic `action: flapping`) adds the label `flapping=true`; the status still
/// decides firing or resolved.
///
/// - summary: the first non-blank line of `check.output`, trimmed, cut to `maxSummaryLength`
///   characters ending in "…"; for a blank output, "check_cpu is CRITICAL on sensu-centos"
///   (`OK`, `WARNING`, `CRITICAL`, or `UNKNOWN(3)` with the code).
/// - labels: Go: the entity's `metadata.labels` and the check's, the check's winning, then
///   `namespace`. Classic: `environment`, when the client has it as a string (Classic client
///   attributes are free-form: any other type is left alone).
/// - details: `flavour` (`go` or `classic`), `status`, `state` (Go), `action` (Classic),
///   `occurrences`, `history` as given (Go objects, Classic strings), `namespace`, `event_id`,
///   `timestamp`, `issued` and `executed` (ISO 8601), and `output` (at most `maxOutputBytes`
///   of UTF-8, ending in "…" with `output_truncated: true` when cut).
/// - fingerprint: `sensu|<namespace or default>|<host>|<check>` (Go), `sensu|<host>|<check>` (Classic).
/// - idempotency key: Go: `sensu|<id>` (each event Sensu Go delivers has a fresh UUID);
///   Classic: `sensu|<id>|<occurrences>|<action>` (Classic keeps one id while the incident is
///   open). None when the event has no `id` (a POSTed body).
///
/// Times (`timestamp`, `check.issued`, `check.executed`) are seconds since 1970; 0 is unset,
/// and one before 2000 or more than a day ahead (milliseconds sent as seconds) is an error.
/// Unknown fields are ignored (Sensu events are large and grow); a field that is read and
/// has the wrong type is an error naming its path.
public struct SensuAlertDecoder: AlertDecoder {
    public let source = "sensu"
    /// Longest summary kept, in characters; the first output line is cut, not rejected.
    public static let maxSummaryLength = 1024
    /// Most of `check.output` kept in `details`, in UTF-8 bytes (check outputs can be megabytes).
    public static let maxOutputBytes = 64 * 1024
    /// Longest accepted host, check, namespace, event id and environment, in characters.
    public static let maxNameLength = 1024
    /// Highest exit status accepted (Sensu Go stores it as a 32-bit unsigned integer).
    public static let maxStatus = 4_294_967_295

    public init() {}

    public func decode(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> [Alert] {
        let events = try JSONFields.objects(in: JSONBody.parse(body), expected: "a Sensu event object or an array of them")
        var alerts: [Alert] = []
        alerts.reserveCapacity(events.count)
        for event in events {
            alerts.append(try alert(from: event, receivedAt: receivedAt))
        }
        return alerts
    }

    private func alert(from event: JSONFields, receivedAt: Date) throws(AlertDecodeError) -> Alert {
        if event["entity"] != nil { return try goAlert(from: event, receivedAt: receivedAt) }
        if event["client"] != nil { return try classicAlert(from: event, receivedAt: receivedAt) }
        throw event.error("entity", "is required: a Sensu Go event has an `entity`, a Sensu Classic event a `client`")
    }

    // MARK: Flavours

    private func goAlert(from event: JSONFields, receivedAt: Date) throws(AlertDecodeError) -> Alert {
        let entityMetadata = try event.requiredObject("entity").requiredObject("metadata")
        let host = try entityMetadata.requiredString("name", maxLength: Self.maxNameLength)
        let check = try event.requiredObject("check")
        let checkMetadata = try check.requiredObject("metadata")
        let name = try checkMetadata.requiredString("name", maxLength: Self.maxNameLength)
        var namespace = try event.object("metadata")?.nonEmptyString("namespace", maxLength: Self.maxNameLength)
        if namespace == nil { namespace = try entityMetadata.nonEmptyString("namespace", maxLength: Self.maxNameLength) }
        if namespace == nil { namespace = try checkMetadata.nonEmptyString("namespace", maxLength: Self.maxNameLength) }
        let id = try event.nonEmptyString("id", maxLength: Self.maxNameLength)
        let state = try check.string("state")

        var labels = try entityMetadata.stringMap("labels")
        labels.merge(try checkMetadata.stringMap("labels")) { _, fromCheck in fromCheck }
        if let namespace { labels["namespace"] = namespace }
        if state == "flapping" { labels["flapping"] = "true" }

        var result = try CheckResult(event: event, check: check, receivedAt: receivedAt)
        result.details["flavour"] = "go"
        result.details["namespace"] = namespace.map(JSONValue.string)
        result.details["event_id"] = id.map(JSONValue.string)
        result.details["state"] = state.map(JSONValue.string)
        result.details["occurrences"] = try check.int("occurrences", in: 0...Int.max).map { .number(Double($0)) }
        return result.alert(
            source: source, host: host, check: name, resolved: result.status == 0, labels: labels,
            fingerprint: "sensu|\(namespace ?? "default")|\(host)|\(name)", idempotencyKey: id.map { "sensu|\($0)" },
            receivedAt: receivedAt)
    }

    /// Sensu Classic's `action`: what changed for the check.
    private enum ClassicAction: String, CaseIterable {
        case create, resolve, flapping
    }

    private func classicAlert(from event: JSONFields, receivedAt: Date) throws(AlertDecodeError) -> Alert {
        let client = try event.requiredObject("client")
        let host = try client.requiredString("name", maxLength: Self.maxNameLength)
        let check = try event.requiredObject("check")
        let name = try check.requiredString("name", maxLength: Self.maxNameLength)
        let action = try event.oneOf("action", ClassicAction.self) ?? .create
        let occurrences = try event.int("occurrences", in: 0...Int.max)
        let id = try event.nonEmptyString("id", maxLength: Self.maxNameLength)

        var labels: [String: String] = [:]
        if client["environment"]?.stringValue != nil,
           let environment = try client.nonEmptyString("environment", maxLength: Self.maxNameLength) {
            labels["environment"] = environment
        }
        if action == .flapping { labels["flapping"] = "true" }

        var result = try CheckResult(event: event, check: check, receivedAt: receivedAt)
        result.details["flavour"] = "classic"
        result.details["event_id"] = id.map(JSONValue.string)
        result.details["action"] = .string(action.rawValue)
        result.details["occurrences"] = occurrences.map { .number(Double($0)) }
        return result.alert(
            source: source, host: host, check: name, resolved: action == .resolve || result.status == 0,
            labels: labels, fingerprint: "sensu|\(host)|\(name)",
            idempotencyKey: id.map { "sensu|\($0)|\(occurrences ?? 1)|\(action.rawValue)" }, receivedAt: receivedAt)
    }

    // MARK: The check result both flavours share

    /// Status, output, history and times, read the same way from either flavour.
    private struct CheckResult {
        var status: Int
        /// `check.output`, cut to `maxOutputBytes` (without the "…" that marks a cut).
        var output: Substring
        var details: [String: JSONValue]

        init(event: JSONFields, check: JSONFields, receivedAt: Date) throws(AlertDecodeError) {
            status = try check.int("status", in: 0...SensuAlertDecoder.maxStatus) ?? 0
            let full = try check.string("output") ?? ""
            let kept = SensuAlertDecoder.prefix(full, maxUTF8Bytes: SensuAlertDecoder.maxOutputBytes)
            output = kept
            details = ["status": .number(Double(status))]
            if kept.endIndex < full.endIndex {
                details["output"] = .string(String(
                    SensuAlertDecoder.prefix(full, maxUTF8Bytes: SensuAlertDecoder.maxOutputBytes - Self.ellipsisBytes)) + "…")
                details["output_truncated"] = true
            } else {
                details["output"] = .string(full)
            }
            if let history = try check.array("history") { details["history"] = .array(history) }
            let times = [(event, "timestamp"), (check, "issued"), (check, "executed")]
            for (object, key) in times {
                if let date = try object.epochSeconds(key, receivedAt: receivedAt) {
                    details[key] = .string(date.ISO8601Format())
                }
            }
        }

        private static let ellipsisBytes = "…".utf8.count

        func alert(
            source: String, host: String, check: String, resolved: Bool, labels: [String: String],
            fingerprint: String, idempotencyKey: String?, receivedAt: Date
        ) -> Alert {
            let summary: String
            if let line = SensuAlertDecoder.firstLine(of: output) {
                let limit = SensuAlertDecoder.maxSummaryLength
                summary = line.count <= limit ? line : String(line.prefix(limit - 1)) + "…"
            } else {
                summary = "\(check) is \(SensuAlertDecoder.statusName(status)) on \(host)"
            }
            return Alert(
                source: source, host: host, check: check, severity: SensuAlertDecoder.severity(status: status),
                status: resolved ? .resolved : .firing, summary: summary, labels: labels, details: .object(details),
                fingerprint: fingerprint, idempotencyKey: idempotencyKey, receivedAt: receivedAt)
        }
    }

    // MARK: Status and output

    private static func severity(status: Int) -> Severity {
        switch status {
        case 0: .info
        case 1: .warning
        case 2: .critical
        default: .error
        }
    }

    private static func statusName(_ status: Int) -> String {
        switch status {
        case 0: "OK"
        case 1: "WARNING"
        case 2: "CRITICAL"
        default: "UNKNOWN(\(status))"
        }
    }

    /// The longest prefix of `text` that is at most `maxUTF8Bytes` of UTF-8 and ends on a
    /// character boundary.
    private static func prefix(_ text: String, maxUTF8Bytes: Int) -> Substring {
        guard text.utf8.count > maxUTF8Bytes else { return text[...] }
        var end = text.utf8.index(text.startIndex, offsetBy: maxUTF8Bytes)
        while end > text.startIndex, end.samePosition(in: text) == nil {
            end = text.utf8.index(before: end)
        }
        return text[..<end]
    }

    /// The first line of `text` that is not blank, trimmed; nil when every line is blank.
    private static func firstLine(of text: Substring) -> String? {
        var rest = text
        while !rest.isEmpty {
            let end = rest.firstIndex(where: \.isNewline) ?? rest.endIndex
            let line = rest[..<end].trimmed()
            if !line.isEmpty { return line }
            rest = end == rest.endIndex ? "" : rest[rest.index(after: end)...]
        }
        return nil
    }
}
