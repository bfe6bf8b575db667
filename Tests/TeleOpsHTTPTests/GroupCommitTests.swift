import Foundation
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
import Testing

@Suite struct GroupCommitTests {
    /// Requests that arrive while a commit is under way share the next one, and none is
    /// answered before its commit.
    @Test func concurrentRequestsShareOneCommit() async throws {
        let memory = MemoryScenarioStore()
        let store = GatedStore(memory)
        try await IntakeServer.with(store: store) { server in
            let answers = Collector<Int>()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let body = diskAlert.replacingOccurrences(of: "web-1", with: "web-\(index)")
                        answers.append(try await server.post("/v1/alerts/generic", body).status)
                    }
                }
                // The first commit is held at the gate; the other requests gather behind it.
                try await withDeadline(.seconds(10), what: "the first commit to start") {
                    while store.commits.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
                }
                try await Task.sleep(for: .milliseconds(500))
                #expect(answers.count == 0, "nothing is answered before its commit")
                store.open()
                try await group.waitForAll()
            }
            #expect(answers.all == Array(repeating: 202, count: 20))
            #expect(memory.journaledAlerts().count == 20)
            #expect(store.commits.reduce(0, +) == 20)
            #expect(store.commits.count <= 3, "commits: \(store.commits)")
        }
    }

    @Test func overloadIsAnswered503WithRetryAfterAndNothingIsKept() async throws {
        let memory = MemoryScenarioStore()
        let store = GatedStore(memory)
        var queue = IngestQueue.Settings()
        queue.maxPendingAlerts = 3
        queue.retryAfter = .seconds(2)
        try await IntakeServer.with(store: store, queue: queue) { server in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<3 {
                    group.addTask {
                        try await server.post("/v1/alerts/generic", diskAlert.replacingOccurrences(of: "web-1", with: "w\(index)")).status
                    }
                }
                try await withDeadline(.seconds(10), what: "the first commit to start") {
                    while store.commits.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
                }
                try await Task.sleep(for: .milliseconds(300))
                let refused = try await server.post("/v1/alerts/generic", diskAlert.replacingOccurrences(of: "web-1", with: "late"))
                #expect(refused.status == 503)
                #expect(refused.header("Retry-After") == "2")
                #expect((refused.json?["error"] as? String)?.contains("overloaded") == true)
                store.open()
                var statuses: [Int] = []
                for try await status in group { statuses.append(status) }
                #expect(statuses == [202, 202, 202])
            }
            #expect(!memory.journaledAlerts().contains { $0.alert.host == "late" })
        }
    }
}
