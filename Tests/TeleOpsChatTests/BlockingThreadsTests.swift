import Foundation
import Synchronization
import Testing
@testable import TeleOpsChat

@Suite struct BlockingThreadsTests {
    /// A name for the calling thread, unique for its lifetime (kept in its thread dictionary).
    private static func threadIdentity() -> String {
        if let id = Thread.current.threadDictionary["test-identity"] as? String { return id }
        let id = UUID().uuidString
        Thread.current.threadDictionary["test-identity"] = id
        return id
    }

    /// The threads of the jobs, run one after the other.
    private func sequentialThreads(_ pool: BlockingThreads, count: Int) async -> [String] {
        var ids: [String] = []
        for _ in 0..<count {
            ids.append(await withCheckedContinuation { continuation in
                pool.run { continuation.resume(returning: Self.threadIdentity()) }
            })
            try? await Task.sleep(for: .milliseconds(2))  // the thread goes back to the idle list
        }
        return ids
    }

    @Test func oneAfterAnotherReusesAThread() async {
        let pool = BlockingThreads(name: "test-pool", idleTimeout: .seconds(30))
        let ids = await sequentialThreads(pool, count: 20)
        #expect(Set(ids).count == 1, "one thread served all 20: \(Set(ids).count)")
    }

    @Test func aBlockedThreadDoesNotHoldUpTheNextCall() async {
        let pool = BlockingThreads(name: "test-pool", idleTimeout: .seconds(30))
        let release = DispatchSemaphore(value: 0)
        let blockedStarted = DispatchSemaphore(value: 0)
        pool.run {
            blockedStarted.signal()
            release.wait()
        }
        blockedStarted.wait()
        let ran = await withCheckedContinuation { continuation in pool.run { continuation.resume(returning: true) } }
        #expect(ran, "a second call runs while the first blocks (a long poll)")
        release.signal()
    }

    @Test func idleThreadsExit() async throws {
        let pool = BlockingThreads(name: "test-pool-idle", idleTimeout: .milliseconds(50))
        let first = await sequentialThreads(pool, count: 1)
        try await Task.sleep(for: .milliseconds(300))
        let second = await sequentialThreads(pool, count: 1)
        #expect(first != second, "the idle thread exited and a new one was made")
    }
}
