import Foundation
import Testing
@testable import TeleOpsChat
import TeleOpsCore

/// How HTTP answers the fake Slack does not produce are read: a refused token before Slack's
/// JSON (a proxy, an HTTP 401 or 403) is the transport failing, any other 4xx one call refused.
@Suite struct SlackClassificationTests {
    @Test(arguments: [
        (401, ChatFailure.Reason.unauthorized), (403, .unauthorized), (404, .clientError), (400, .clientError), (502, .serverError),
    ])
    func httpStatusesAreClassified(status: Int, reason: ChatFailure.Reason) {
        let response = HTTPResponse(status: status, headers: [:], body: Data(#"{"ok":false,"error":"x"}"#.utf8))
        let failure = #expect(throws: ChatFailure.self) { _ = try SlackAPI.classify(method: "chat.postMessage", response: response) }
        #expect(failure?.reason == reason)
        #expect(failure?.isTransportFailure == (reason != .clientError), "only a refusal of this one call leaves failover alone")
    }
}
