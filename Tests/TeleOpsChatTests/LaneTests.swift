import Foundation
import TeleOpsCore
@testable import TeleOpsChat
import Testing

/// A chat's lane hands out its messages in order, whatever is finished and however many wait.
@Suite struct LaneTests {
    static func message(_ id: Int64, key: String? = nil) -> OutboxMessage {
        OutboxMessage(id: id, draft: OutboxDraft(scenarioID: 1, purpose: .reply, text: "m\(id)", key: key),
                      createdAt: Date(), attempts: 0)
    }

    @Test func messagesComeOutInOrderAsTheFirstIsFinished() {
        let lane = Lane(key: LaneKey(transport: "console", chat: "c"))
        for id in 1...1_000 { lane.enqueue(Self.message(Int64(id))) }
        var seen: [Int64] = []
        while let next = lane.next() {
            seen.append(next.id)
            lane.finish(next.id)
            // Later arrivals join the end while the lane drains.
            if next.id % 100 == 0, next.id <= 1_000 { lane.enqueue(Self.message(next.id + 1_000)) }
        }
        let expected: [Int64] = Array(1...1_000) + (1...10).map { Int64(1_000 + $0 * 100) }
        #expect(seen == expected)
    }

    @Test func finishingAMessageOutOfOrderLeavesTheRest() {
        let lane = Lane(key: LaneKey(transport: "console", chat: "c"))
        for id in 1...5 { lane.enqueue(Self.message(Int64(id), key: id == 2 || id == 4 ? "progress" : nil)) }
        lane.finish(3)
        #expect(lane.isSuperseded(Self.message(2, key: "progress")), "4 has the same key and comes later")
        lane.finish(1)
        lane.finish(4)
        #expect(!lane.isSuperseded(Self.message(2, key: "progress")), "4 is finished")
        #expect(lane.next()?.id == 2)
        lane.finish(2)
        #expect(lane.next()?.id == 5)
        lane.finish(5)
        #expect(lane.next() == nil)
    }
}
