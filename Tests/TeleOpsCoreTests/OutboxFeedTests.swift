import Foundation
import Testing
import TeleOpsCore

@Suite struct OutboxFeedTests {
    static func messages(_ ids: ClosedRange<Int64>) -> [OutboxMessage] {
        ids.map { OutboxMessage(id: $0, draft: OutboxDraft(scenarioID: nil, purpose: .reply, text: "m\($0)"),
                                createdAt: Date(timeIntervalSince1970: 0), attempts: 0) }
    }

    @Test func handsOverInOrderAtMostTheLimit() {
        let feed = OutboxFeed(capacity: 10)
        feed.publish(Self.messages(1...3))
        feed.publish(Self.messages(4...5))
        #expect(feed.take(upTo: 4)?.map(\.id) == [1, 2, 3, 4])
        #expect(feed.count == 1)
        #expect(feed.take(upTo: 4)?.map(\.id) == [5])
        #expect(feed.take(upTo: 4) == [])
    }

    @Test func overflowDropsEverythingAndSaysSoOnce() {
        let feed = OutboxFeed(capacity: 4)
        feed.publish(Self.messages(1...3))
        feed.publish(Self.messages(4...5))  // 5 > 4: dropped, all of it
        feed.publish(Self.messages(6...6))  // still dropped until the consumer hears of it
        #expect(feed.take(upTo: 10) == nil, "read the store")
        feed.publish(Self.messages(7...8))
        #expect(feed.take(upTo: 10)?.map(\.id) == [7, 8], "starts again after the nil")
    }
}
