import TeleOpsSQLite
import TeleOpsTesting
import Testing

@Suite("SQLiteScenarioStore conformance")
struct SQLiteConformanceTests {
    /// Each case on a fresh file in its own temporary directory.
    @Test("conformance", arguments: ScenarioStoreConformance.cases.map(\.name))
    func conformance(_ name: String) async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteScenarioStore(path: directory.appendingPathComponent("teleops.sqlite").path)
            try await ScenarioStoreConformance.run(name, on: store)
            try store.close()
        }
    }
}
