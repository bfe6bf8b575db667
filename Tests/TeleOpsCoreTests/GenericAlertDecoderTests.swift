import Foundation
import Testing
@testable import TeleOpsCore

@Suite struct GenericAlertDecoderTests {
    let decoder = GenericAlertDecoder()

    @Test func decodesOneObject() throws {
        let body = #"{"host":"web-1","check":"disk","severity":"CRITICAL","summary":" full ","status":"firing","labels":{"team":"storage"},"details":{"pct":95}}"#
        let alerts = try decoder.decode(Data(body.utf8))
        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        #expect(alert.host == "web-1")
        #expect(alert.severity == .critical)
        #expect(alert.summary == "full")
        #expect(alert.labels == ["team": "storage"])
        #expect(alert.details == ["pct": 95])
        #expect(alert.fingerprint == "generic|web-1|disk")
    }

    @Test func decodesTheShippedSamples() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (name, count) in [("generic-disk.json", 1), ("generic-disk-resolved.json", 1), ("generic-batch.json", 2)] {
            let data = try Data(contentsOf: root.appendingPathComponent("alerts/\(name)"))
            #expect(try decoder.decode(data).count == count, "alerts/\(name)")
        }
    }

    @Test(arguments: [
        (#"{"host":"a""#, "", "not valid JSON"),
        ("42", "", "found number"),
        ("[]", "", "holds no alerts"),
        (#"{"check":"c","severity":"info","summary":"s","status":"firing"}"#, "host", "is required"),
        (#"{"host":"","check":"c","severity":"info","summary":"s","status":"firing"}"#, "host", "must not be empty"),
        (#"{"host":7,"check":"c","severity":"info","summary":"s","status":"firing"}"#, "host", "expected a string, found number"),
        (#"{"host":"h","check":"c","severity":"bad","summary":"s","status":"firing"}"#, "severity", "'bad' is not one of: info, warning, error, critical"),
        (#"{"host":"h","check":"c","severity":"info","summary":"s","status":"open"}"#, "status", "is not one of: firing, resolved"),
        (#"{"host":"h","check":"c","severity":"info","summary":"s","status":"firing","labels":{"a":1}}"#, "labels.a", "expected a string"),
        (#"{"host":"h","check":"c","severity":"info","summary":"s","status":"firing","sevrity":"x"}"#, "sevrity", "is not a field"),
        (#"[{"host":"h","check":"c","severity":"info","summary":"s","status":"firing"},{"host":"h"}]"#, "[1].check", "is required"),
    ])
    func namesTheFieldThatIsWrong(body: String, field: String, message: String) {
        #expect {
            try decoder.decode(Data(body.utf8))
        } throws: { error in
            guard let error = error as? AlertDecodeError else { return false }
            return error.field == field && error.message.contains(message)
        }
    }
}
