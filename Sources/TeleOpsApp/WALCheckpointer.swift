import Logging
import ServiceLifecycle
import TeleOpsSQLite

/// Copies the store's WAL into its database file beside the writer
/// (`SQLiteScenarioStore.checkpointInBackground`), every `busy` while the WAL grows and every
/// `idle` otherwise, so that commits, and the alerts waiting on them, never do it themselves.
struct WALCheckpointer: Service {
    let store: SQLiteScenarioStore
    var busy: Duration = .milliseconds(100)
    var idle: Duration = .seconds(1)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPages = -1
            while !Task.isCancelled {
                var grew = false
                do {
                    if let result = try await store.checkpointInBackground() {
                        grew = result.walPages != lastPages
                        lastPages = result.walPages
                    } else {
                        // Another checkpoint (the writer's backstop after a burst) is running.
                        logger.debug("another checkpoint is running; will try again")
                        grew = true
                    }
                } catch {
                    if Task.isCancelled { break }  // stopping: the store refuses work for a cancelled task
                    logger.error("checkpointing the store failed; will try again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: grew ? busy : idle)
            }
        }
    }
}
