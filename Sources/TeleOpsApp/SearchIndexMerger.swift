import Logging
import ServiceLifecycle
import TeleOpsSQLite

/// Merges the full-text index's segments between writes (`SQLiteScenarioStore.mergeSearchIndex`),
/// so that an alert's transaction only adds its own: a step at a time while there is work,
/// then a look every `idle`.
struct SearchIndexMerger: Service {
    let store: SQLiteScenarioStore
    var idle: Duration = .seconds(1)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let merged: Bool
                do {
                    merged = try await store.mergeSearchIndex()
                } catch {
                    if Task.isCancelled { break }  // stopping: the store refuses work for a cancelled task
                    logger.error("merging the search index failed; will try again", metadata: ["error": "\(error)"])
                    merged = false
                }
                // Between steps, queued writes (intake) go first.
                try? await Task.sleep(for: merged ? .milliseconds(5) : idle)
            }
        }
    }
}
