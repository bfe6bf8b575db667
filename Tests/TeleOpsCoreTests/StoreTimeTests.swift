import Foundation
import TeleOpsCore
import Testing

@Suite("Store time: whole milliseconds")
struct StoreTimeTests {
    @Test(arguments: [
        (1_750_000_000.123_456, Int64(1_750_000_000_123)),
        (1_750_000_000.999_9, 1_750_000_000_999),
        (1_750_000_000.000_4, 1_750_000_000_000),
        (1_750_000_000.5, 1_750_000_000_500),
        (0, 0),
    ])
    func truncatesToTheMillisecond(seconds: Double, milliseconds: Int64) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(date.millisecondsSince1970 == milliseconds)
        #expect(date.truncatedToMilliseconds == Date(millisecondsSince1970: milliseconds))
    }

    /// Every millisecond value survives Date and back, including ones a Double sits just below.
    @Test(arguments: [Int64(1_750_000_000_000), 1_700_000_000_123, 1_234_567_890_999, 1, 999])
    func millisecondsRoundTrip(start: Int64) {
        for milliseconds in start..<(start + 2_000) {
            let date = Date(millisecondsSince1970: milliseconds)
            #expect(date.millisecondsSince1970 == milliseconds)
            #expect(date.truncatedToMilliseconds == date)
        }
    }
}
