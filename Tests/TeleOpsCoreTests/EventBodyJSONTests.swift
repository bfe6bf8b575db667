import Foundation
import TeleOpsCore
import Testing

@Suite("EventBody payload JSON")
struct EventBodyJSONTests {
    @Test func payloadIsTheDataMemberWithSortedKeys() throws {
        let body = EventBody.commandDispatched(DispatchFacts(taskID: "t", action: "disk", argv: ["df"], host: "web-1"))
        let json = String(decoding: try body.jsonData(), as: UTF8.self)
        #expect(json == #"{"action":"disk","argv":["df"],"host":"web-1","task_id":"t"}"#)
        #expect(try EventBody(kind: .commandDispatched, jsonData: Data(json.utf8)) == body)
    }

    @Test func acknowledgedHasAnEmptyObject() throws {
        #expect(String(decoding: try EventBody.acknowledged.jsonData(), as: UTF8.self) == "{}")
        #expect(try EventBody(kind: .acknowledged, jsonData: Data("{}".utf8)) == .acknowledged)
    }

    /// Alert and announcement payloads are written without `JSONEncoder`; they must read back
    /// the same and be the bytes the encoder writes, whatever the text holds.
    @Test(arguments: ["disk on web-1 is 95% full", "", "quote \" backslash \\ slash / path", "line\nbreak\ttab\r",
                      "\u{1}\u{1f}\u{7f}", "é 🔥 日本", String(repeating: "x", count: 5_000)])
    func directPayloadsAreWhatTheEncoderWrites(text: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let facts = AlertFacts(alertID: 9_007_199_254_740_993, source: "src \(text)", severity: .critical, summary: text)
        // With the alert's digest (as intake writes them), and without (as before it did).
        var withDigest = facts
        withDigest.alertDigest = AlertDigest.hex(of: Alert(source: "s", host: text, check: "c", severity: .info, status: .firing,
                                                           summary: text, labels: [text: text], details: .string(text)))
        var oddDigest = facts
        oddDigest.alertDigest = text
        for facts in [facts, withDigest, oddDigest] {
            for body in [EventBody.alertFired(facts), .alertRepeated(facts), .alertResolved(facts)] {
                let data = try body.jsonData()
                #expect(data == (try encoder.encode(facts)), "\(body.kind)")
                #expect(try EventBody(kind: body.kind, jsonData: data) == body)
            }
        }
        #expect(String(decoding: try EventBody.alertFired(withDigest).jsonData(), as: UTF8.self)
            .hasPrefix(#"{"alert_digest":"\#(withDigest.alertDigest!)","alert_id":9007199254740993,"severity":"critical","#))
        let ref = MessageRef(transport: "telegram", chat: "-100\(text)", messageID: text)
        let data = try EventBody.notified(ref).jsonData()
        #expect(data == (try encoder.encode(ref)))
        #expect(try EventBody(kind: .notified, jsonData: data) == .notified(ref))
    }

    @Test func wrongPayloadForKindThrows() {
        #expect(throws: DecodingError.self) {
            try EventBody(kind: .commandLost, jsonData: Data(#"{"text":"x"}"#.utf8))
        }
    }
}

@Suite struct JSONValueWritingTests {
    @Test(arguments: [
        JSONValue.object(["b": 1, "a": "x\n\"q\"\\", "c": [true, false, nil, 0.5, -3, "\u{1}é🔥"]]),
        JSONValue.array([]), JSONValue.object([:]), JSONValue.number(1e20), JSONValue.string(""),
    ])
    func compactJSONReadsBackEqual(value: JSONValue) throws {
        let text = value.compactJSON
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) == value)
    }

    @Test func keysAreSortedAndOutputIsCompact() {
        #expect(JSONValue.object(["b": 1, "a": "x"]).compactJSON == #"{"a":"x","b":1}"#)
        #expect(JSONValue.compactJSON(["z": "1", "y": "2"]) == #"{"y":"2","z":"1"}"#)
    }
}
