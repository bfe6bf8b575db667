import Foundation
import TeleOpsCore
import TeleOpsTesting
import Testing

/// Every decoder against random and mutated bodies: it either returns alerts that are whole
/// (non-empty fingerprint, summary within bounds, times in range) or throws an
/// `AlertDecodeError` that says something. It never crashes, whatever the bytes.
@Suite struct DecoderFuzzTests {
    static let decoders: [(any AlertDecoder, [String])] = [
        (GenericAlertDecoder(), ["../../alerts/generic-disk.json", "../../alerts/generic-batch.json"]),
        (SensuAlertDecoder(), ["alerts/sensu-go-event.json", "alerts/sensu-classic-handler-stdin.json", "alerts/sensu-go-events-array.variant.json"]),
        (AlertmanagerWebhookDecoder(), ["alerts/alertmanager-webhook-v0.34-firing.CONSTRUCTED.json", "alerts/alertmanager-webhook-gist-mobeigi.VERBATIM.json"]),
        (AlertmanagerAPIDecoder(), ["alerts/alertmanager-api-v2-post-alerts.CONSTRUCTED.json"]),
        (GrafanaAlertDecoder(), ["alerts/grafana-webhook.VERBATIM.json"]),
        (PagerDutyAlertDecoder(), ["alerts/pagerduty-enqueue-trigger.json", "alerts/pagerduty-enqueue-resolve.json"]),
    ]

    /// Mutations per decoder (bytes flipped, inserted, deleted, truncated, JSON tokens swapped).
    static let mutationsPerDecoder = 1500

    @Test(arguments: decoders.map(\.0.source))
    func mutatedSamplesNeverCrashAndErrorsSaySomething(source: String) throws {
        let (decoder, samples) = try #require(Self.decoders.first { $0.0.source == source })
        let bodies = try samples.map { try Fixtures.data($0) }
        var random = SplitMix64(seed: UInt64(source.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) }))
        let receivedAt = Date()
        var accepted = 0
        var rejected = 0
        for _ in 0..<Self.mutationsPerDecoder {
            let body = Self.mutate(bodies[Int.random(in: 0..<bodies.count, using: &random)], using: &random)
            do {
                let alerts = try decoder.decode(body, receivedAt: receivedAt)
                for alert in alerts {
                    #expect(!alert.fingerprint.isEmpty)
                    #expect(alert.summary.count <= 1024)
                    #expect(alert.source == decoder.source)
                }
                accepted += 1
            } catch {
                #expect(!error.message.isEmpty)
                rejected += 1
            }
        }
        // Both paths were exercised: the mutations are neither all harmless nor all fatal.
        #expect(accepted > 0 && rejected > 0, "accepted \(accepted), rejected \(rejected)")
    }

    @Test(arguments: decoders.map(\.0.source))
    func randomBytesAndRandomJSONAreRejectedCleanly(source: String) throws {
        let decoder = try #require(Self.decoders.first { $0.0.source == source }).0
        var random = SplitMix64(seed: 42)
        for round in 0..<400 {
            let body: Data
            if round % 2 == 0 {
                body = Data((0..<Int.random(in: 0..<200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            } else {
                body = try JSONEncoder().encode(Self.randomJSON(depth: 0, using: &random))
            }
            do {
                _ = try decoder.decode(body, receivedAt: Date())
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    static func mutate(_ data: Data, using random: inout SplitMix64) -> Data {
        var bytes = [UInt8](data)
        let tokens: [[UInt8]] = ["null", "0", "-1", "1e400", "\"\"", "[]", "{}", "true", "\"\u{1F525}\"", "\"0001-01-01T00:00:00Z\"", "99999999999"].map { Array($0.utf8) }
        for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
            let index = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: bytes[index] ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
            case 1: bytes.insert(UInt8.random(in: 0...255, using: &random), at: index)
            case 2: bytes.remove(at: index)
            case 3: bytes = Array(bytes.prefix(index))
            default:
                // Replace a value after a ':' with another JSON token, keeping the JSON valid more often.
                if let colon = bytes[index...].firstIndex(of: UInt8(ascii: ":")),
                   let end = bytes[(colon + 1)...].firstIndex(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "}") }) {
                    bytes.replaceSubrange((colon + 1)..<end, with: tokens[Int.random(in: 0..<tokens.count, using: &random)])
                }
            }
        }
        return Data(bytes)
    }

    static func randomJSON(depth: Int, using random: inout SplitMix64) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .number(Double(Int.random(in: -1000...1000, using: &random)))
        case 3: return .string(["host", "check", "status", "firing", "", "x"][Int.random(in: 0..<6, using: &random)])
        case 4: return .array((0..<Int.random(in: 0..<4, using: &random)).map { _ in randomJSON(depth: depth + 1, using: &random) })
        default:
            let keys = ["host", "check", "severity", "summary", "status", "labels", "alerts", "entity", "check", "client", "payload", "routing_key", "event_action", "version"]
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0..<6, using: &random) {
                object[keys[Int.random(in: 0..<keys.count, using: &random)]] = randomJSON(depth: depth + 1, using: &random)
            }
            return .object(object)
        }
    }
}
