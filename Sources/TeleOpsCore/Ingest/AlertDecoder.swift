import Foundation

/// Why a body could not be read as alerts: says what was wrong and where.
///
/// `field` is a path into the body (`[1].severity`, `host`), empty when the body as a whole is bad.
public struct AlertDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
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
