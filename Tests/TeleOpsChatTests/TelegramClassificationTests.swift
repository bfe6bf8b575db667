import Foundation
import Testing
@testable import TeleOpsChat
import TeleOpsCore

/// How answers the fake does not produce are read: a 429 with only a `Retry-After` header, a
/// proxy's page, a 2xx that is not the Bot API envelope.
@Suite struct TelegramClassificationTests {
    static func response(_ status: Int, _ body: String, headers: [String: String] = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: Data(body.utf8))
    }

    @Test(arguments: [
        (response(429, #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3"}"#, headers: ["retry-after": "3"]),
         ChatFailure.Reason.rateLimited, Duration?.some(.seconds(3))),
        (response(429, "<html>slow down</html>", headers: ["retry-after": "9"]), .rateLimited, .seconds(9)),
        (response(429, #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 4","parameters":{"retry_after":4}}"#,
                  headers: ["retry-after": "1"]), .rateLimited, .seconds(4)),
        (response(503, "<html>Service Unavailable</html>"), .serverError, nil),
        (response(200, "<html>captive portal</html>"), .serverError, nil),
        (response(404, #"{"ok":false,"error_code":404,"description":"Not Found"}"#), .clientError, nil),
    ])
    func answersAreClassified(response: HTTPResponse, reason: ChatFailure.Reason, retryAfter: Duration?) throws {
        guard case .failure(let error) = TelegramCallError.check(response, as: IgnoredResult.self) else {
            Issue.record("\(response.status) was read as a success")
            return
        }
        let failure = error.chatFailure(method: "sendMessage", timeout: .seconds(30))
        #expect(failure.reason == reason)
        #expect(failure.retryAfter == retryAfter)
    }

    @Test func plainTextIsEscapedForHTML() {
        #expect(TelegramText.html(#"<b>&"' a>b"#) == #"&lt;b&gt;&amp;"' a&gt;b"#)
    }
}
