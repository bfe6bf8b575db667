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
        if let direct = directJSON() { return Data(direct) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(PayloadBox(body: self))
    }

    /// The payloads written for every alert and every announcement, written directly with
    /// the keys sorted as `JSONEncoder` sorts them: an encoder per event was about a fifth of
    /// an intake transaction's time. Other kinds go through `JSONEncoder`.
    func directJSON() -> [UInt8]? {
        var out: [UInt8] = []
        func member(_ key: StaticString, _ value: String, first: Bool = false) {
            out.append(UInt8(ascii: first ? "{" : ","))
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
            out.append(contentsOf: "\":".utf8)
            JSONValue.writeString(value, to: &out)
        }
        switch self {
        case .alertFired(let facts), .alertRepeated(let facts), .alertResolved(let facts):
            out.reserveCapacity(144 + facts.source.utf8.count + facts.summary.utf8.count)
            if let digest = facts.alertDigest {
                member("alert_digest", digest, first: true)
                out.append(contentsOf: ",\"alert_id\":".utf8)
            } else {
                out.append(contentsOf: "{\"alert_id\":".utf8)
            }
            out.append(contentsOf: String(facts.alertID).utf8)
            member("severity", facts.severity.rawValue)
            member("source", facts.source)
            member("summary", facts.summary)
        case .notified(let ref):
            member("chat", ref.chat, first: true)
            member("message_id", ref.messageID)
            member("transport", ref.transport)
        case .acknowledged:
            out.append(UInt8(ascii: "{"))
        default:
            return nil
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Decodes the payload of an event of `kind` from `jsonData` (what `jsonData()` wrote).
    public init(kind: EventKind, jsonData: Data) throws {
        let decoder = JSONDecoder()
        decoder.userInfo[PayloadBox.kindKey] = kind
        self = try decoder.decode(PayloadBox.self, from: jsonData).body
    }
}

extension AlertFacts {
    /// The alert id and digest that an alert event's stored payload records, nil when it
    /// records no digest (events written before digests were). `ChainVerifier` reads every
    /// alert event's payload: what `directJSON()` writes is read in place, from its first bytes
    /// (`{"alert_digest":"<hex>","alert_id":<id>,…`); any other payload naming a digest is
    /// decoded.
    static func recordedDigest(in data: [UInt8]) -> (alertID: Int64, digest: String)? {
        let head = #"{"alert_digest":""#.utf8
        let middle = #"","alert_id":"#.utf8
        if data.starts(with: head) {
            var index = head.count
            while index < data.count, Self.isLowerHex(data[index]) { index += 1 }
            let digest = head.count..<index
            if data[index...].starts(with: middle) {
                index += middle.count
                var id: Int64 = 0
                let first = index
                while index < data.count, index - first < 18, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[index]) {
                    id = id * 10 + Int64(data[index] - UInt8(ascii: "0"))
                    index += 1
                }
                if index > first, index < data.count, data[index] == UInt8(ascii: ",") || data[index] == UInt8(ascii: "}") {
                    return (id, String(decoding: data[digest], as: UTF8.self))
                }
            }
        }
        guard data.firstRange(of: #""alert_digest""#.utf8) != nil,
              let facts = try? JSONDecoder().decode(AlertFacts.self, from: Data(data)), let digest = facts.alertDigest
        else { return nil }
        return (facts.alertID, digest)
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
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
