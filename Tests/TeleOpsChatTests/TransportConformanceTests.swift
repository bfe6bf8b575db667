import Testing
import TeleOpsCore
import TeleOpsTesting

/// Every transport passes the same suite, each against its fake platform over real HTTP.
@Suite struct TransportConformanceTests {
    @Test(arguments: ChatTransportConformance.cases.map(\.name))
    func telegram(_ name: String) async throws {
        try await TelegramHarness.with { harness in
            try await ChatTransportConformance.run(name, on: harness)
        }
    }
}
