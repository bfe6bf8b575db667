import Foundation
import TeleOpsCore
import Testing

/// The chain's hash input is fixed: every store written so far holds hashes of this form, and
/// `teleops scenarios verify` must keep reading them. The expected values are SHA-256 of the
/// documented input, computed outside Swift.
@Suite struct EventChainTests {
    @Test func theHashOfAKnownEventIsStable() {
        let at = Date(timeIntervalSince1970: 1_750_000_000.123)
        #expect(EventChain.hash(previous: nil, scenarioID: 42, at: at, actor: "José", kind: "alert_fired",
                                data: Array(#"{"alert_id":7}"#.utf8))
                == "ba8276e6f01583336c7f42f37698ffc9cc7ccf1ffecc61fb8ebfd98a87ac0afd")
        #expect(EventChain.hash(previous: "ab12", scenarioID: 42, at: at, actor: "José", kind: "note", data: Array("{}".utf8))
                == "01af6aed879fe2e4fa3a85bf93b137ab163dc2eb8524e6ebec0243326a9cfe5e")
    }

    @Test func hexIsLowerCaseAndReadsBack() {
        let bytes: [UInt8] = [0x00, 0x0f, 0xa5, 0xff, 0x10]
        #expect(Hex.string(bytes) == "000fa5ff10")
        #expect(Hex.bytes(Hex.string(bytes)) == bytes)
        #expect(Hex.string([]) == "")
    }
}
