import Foundation

/// Why a body could not be read as alerts: says what was wrong and where.
///
/// `field` is a path into the body (`[1].severity`, `host`), empty when the body as a whole is bad.
public struct AlertDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// How the body is wrong. Most routes answer every kind with a 400; APIs that answer
    /// differently (PagerDuty's "Unrecognized object", 413 for its size limit) tell them apart.
    public enum Kind: Sendable, Equatable {
        /// Readable, but not a valid alert: a field is missing, of the wrong type, too long.
        case invalid
        /// Not JSON at all: empty, invalid UTF-8 or malformed.
        case unparseable
        /// Larger than the format's own limit (below the server's `max_body_bytes`).
        case tooLarge
    }

    public var field: String
    public var message: String
    public var kind: Kind

    public init(field: String, message: String, kind: Kind = .invalid) {
        self.field = field
        self.message = message
        self.kind = kind
    }

    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}

/// Turns the bytes one monitoring source posts into normalised alerts.
///
/// ```swift
/// let alerts = try GenericAlertDecoder().decode(Data(#"{"host":"web-1","check":"disk","severity":"critical","summary":"full","status":"firing"}"#.utf8))
/// ```
public protocol AlertDecoder: Sendable {
    /// The source name used in URLs (`/v1/alerts/{source}`), fingerprints and the scenario log.
    var source: String { get }
    func decode(_ body: Data, receivedAt: Date) throws(AlertDecodeError) -> [Alert]
}

extension AlertDecoder {
    public func decode(_ body: Data) throws(AlertDecodeError) -> [Alert] {
        try decode(body, receivedAt: Date())
    }
}
