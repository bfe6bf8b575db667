import Foundation
import Testing
import TeleOpsCore

/// `since` and `until` read the same on the command line and over HTTP.
@Suite struct QueryTimeTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)

    @Test(arguments: [
        ("2026-11-20T08:00:00Z", 1_795_161_600),
        ("2026-11-20T09:00:00+01:00", 1_795_161_600),
        ("2026-11-20T09:00:00 01:00", 1_795_161_600),  // a '+' sent unencoded in a query string
        ("2026-11-20T08:00:00.250Z", 1_795_161_600.25),
        ("2026-11-20", 1_795_132_800),
        (" 2026-11-20 ", 1_795_132_800),
        ("24h", 1_794_913_600),
        ("1d12h", 1_794_870_400),
        ("90m", 1_794_994_600),
    ] as [(String, Double)])
    func accepted(text: String, seconds: Double) {
        #expect(QueryTime.parse(text, now: Self.now)?.timeIntervalSince1970 == seconds)
    }

    @Test(arguments: ["yesterday", "2026-11-20T25:00:00Z", "2026-11-20Tnoon", "2026-11-20T09:30", "2026-13-01", "0h", "24",
                      "", "20261120"])
    func refused(text: String) {
        #expect(QueryTime.parse(text, now: Self.now) == nil)
    }
}
