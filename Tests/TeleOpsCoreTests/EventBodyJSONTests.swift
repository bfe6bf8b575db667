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
