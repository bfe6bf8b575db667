import Foundation
import TeleOpsCore
import TeleOpsTesting
import Testing

/// `ChainVerifier` replays a scenario's events onto its opening alert to check its stored
/// columns (`ScenarioReplay`), and decodes only the events of the kinds
/// `Scenario.kindsChangingMoreThanTheTime` names: that set must match what `applying` does.
@Suite struct ScenarioReplayTests {
    static let opened = Scenario(
        id: 1, fingerprint: "f", source: "sensu", host: "web-1", check: "disk", severity: .warning, summary: "full",
        status: .open, occurrences: 1, openedAt: Date(millisecondsSince1970: 1_000), updatedAt: Date(millisecondsSince1970: 1_000))
    static let later = Date(millisecondsSince1970: 5_000)

    @Test func theKindsNamedAreExactlyThoseThatChangeMoreThanTheTime() {
        let bodies = ScenarioStoreConformance.bodyOfEveryKind
        #expect(Set(bodies.map(\.kind)) == Set(EventKind.allCases))
        for body in bodies {
            let changesMore = Self.opened.applying(body, actor: "ana", at: Self.later) != Self.opened.touched(at: Self.later)
            #expect(changesMore == Scenario.kindsChangingMoreThanTheTime.contains(body.kind),
                    "\(body.kind): applying it \(changesMore ? "changes" : "does not change") more than updated_at")
        }
    }
}
