import Foundation
import Glibc
import Synchronization
import Testing
@testable import TeleOpsDispatch

/// Jobs each get a thread at once; finished threads are parked for the next jobs, and no more
/// than `keepIdle` of them.
@Suite struct ThreadPoolTests {
    @Test func jobsThatWaitForEachOtherAllRunAtOnce() async throws {
        let pool = ThreadPool(name: "pool-test-wait", keepIdle: 2)
        let met = try await withDeadline("five jobs that wait for each other") {
            await runTogether(5, on: pool)
        }
        #expect(met.allSatisfy { $0.allArrived }, "a job waited behind another")
    }

    @Test func finishedThreadsAreParkedForTheNextJobsUpToKeepIdle() async throws {
        let pool = ThreadPool(name: "pool-test-park", keepIdle: 2)
        let first = try await withDeadline("four jobs at once") { await runTogether(4, on: pool) }
        #expect(first.allSatisfy { $0.allArrived })
        #expect(first.map(\.poolThreads).max() == 4)
        try await eventually("two threads parked, the other two ended") {
            pool.parkedCount == 2 && threadCount(named: pool.name) == 2
        }
        // The next two jobs run on the parked threads: no thread is created for them.
        let second = try await withDeadline("two jobs at once") { await runTogether(2, on: pool) }
        #expect(second.allSatisfy { $0.allArrived })
        #expect(second.map(\.poolThreads) == [2, 2])
    }

    @Test func keepIdleCanBeRaisedButNotLowered() async throws {
        let pool = ThreadPool(name: "pool-test-raise", keepIdle: 1)
        pool.keepIdle(atLeast: 3)
        pool.keepIdle(atLeast: 2)
        #expect(pool.keepIdle == 3)
        let jobs = try await withDeadline("three jobs at once") { await runTogether(3, on: pool) }
        #expect(jobs.allSatisfy { $0.allArrived })
        try await eventually("all three threads parked") {
            pool.parkedCount == 3 && threadCount(named: pool.name) == 3
        }
    }
}

/// What one job of `runTogether` saw once every job had started (or it gave up waiting).
struct Meeting: Sendable {
    var allArrived: Bool
    /// Threads named like the pool's while all jobs were running.
    var poolThreads: Int
}

/// Runs `count` jobs on `pool` that each wait (at most 10 s) until all of them have started.
func runTogether(_ count: Int, on pool: ThreadPool) async -> [Meeting] {
    let arrived = Arrivals()
    return await withTaskGroup(of: Meeting.self) { group in
        for _ in 0..<count {
            group.addTask {
                await withCheckedContinuation { continuation in
                    pool.run {
                        arrived.count.withLock { $0 += 1 }
                        var waited = 0
                        while arrived.count.withLock({ $0 }) < count && waited < 10_000 {
                            usleep(1000)
                            waited += 1
                        }
                        let allArrived = arrived.count.withLock { $0 } == count
                        continuation.resume(returning: Meeting(allArrived: allArrived,
                                                               poolThreads: threadCount(named: pool.name)))
                    }
                }
            }
        }
        return await group.reduce(into: []) { $0.append($1) }
    }
}

/// How many jobs of a `runTogether` have started.
final class Arrivals: Sendable {
    let count = Mutex(0)
}

/// Threads of this process whose OS name is `name` (/proc/self/task/TID/comm).
func threadCount(named name: String) -> Int {
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return 0 }
    return tasks.filter { task in
        (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .newlines) == name
    }.count
}
