import Foundation

/// The payload of an event alone, for stores that keep `kind` and `data` in separate columns.
///
/// The JSON is the `data` member of `ScenarioEvent`'s JSON form, with sorted keys.
///
/// ```swift
/// let body = EventBody.note(NoteFacts(text: "restarted nginx"))
/// let data = try body.jsonData()                                   // {"text":"restarted nginx"}
/// try EventBody(kind: .note, jsonData: data) == body                // true
/// ```
extension EventBody {
    /// The payload encoded as a JSON object (`{}` for kinds without one).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(PayloadBox(body: self))
    }

    /// Decodes the payload of an event of `kind` from `jsonData` (what `jsonData()` wrote).
    public init(kind: EventKind, jsonData: Data) throws {
        let decoder = JSONDecoder()
        decoder.userInfo[PayloadBox.kindKey] = kind
        self = try decoder.decode(PayloadBox.self, from: jsonData).body
    }
}

/// Codes an `EventBody` as its payload only; the kind travels in `userInfo` when decoding.
private struct PayloadBox: Codable {
    static let kindKey = CodingUserInfoKey(rawValue: "teleops.eventKind")!

    var body: EventBody

    init(body: EventBody) { self.body = body }

    init(from decoder: any Decoder) throws {
        guard let kind = decoder.userInfo[Self.kindKey] as? EventKind else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: [], debugDescription: "event kind missing from userInfo"))
        }
        body = try EventBody(kind: kind, from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try body.encodeData(to: encoder)
    }
}
