import Logging
import ServiceLifecycle
import TeleOpsSQLite

/// Keeps the full-text index up to date (`SQLiteScenarioStore.indexSearch`), off the intake
/// path: woken by each commit, it lets `gather` pass so that a step indexes the alerts of many
/// commits at once (one index segment for them all), then steps until nothing is left. A
/// search catches up by itself too, so this only keeps that catching up short.
struct SearchIndexer: Service {
    let store: SQLiteScenarioStore
    var gather: Duration = .milliseconds(20)
    /// A look without a ring: another process (the CLI) may have written.
    var idle: Duration = .seconds(5)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await store.searchDoorbell.wait(timeout: idle)
                try? await Task.sleep(for: gather)
                do {
                    while !Task.isCancelled, try await store.indexSearch() > 0 {}
                } catch {
                    if Task.isCancelled { break }  // stopping: the store refuses work for a cancelled task
                    logger.error("indexing scenarios for search failed; will try again", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: idle)
                }
            }
        }
    }
}
