import Testing
import TeleOpsTesting

/// The transport conformance suite, against the fake Slack in each receive mode.
@Suite struct SlackConformanceTests {
    @Test(arguments: ChatTransportConformance.cases.map(\.name))
    func socketMode(_ name: String) async throws {
        try await SlackSocketHarness.with { try await ChatTransportConformance.run(name, on: $0) }
    }

    @Test(arguments: ChatTransportConformance.cases.map(\.name))
    func eventsAPI(_ name: String) async throws {
        try await SlackEventsHarness.with { try await ChatTransportConformance.run(name, on: $0) }
    }
}
