import Foundation
import Synchronization
import Testing
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting

/// A webhook that records what it was given and answers as told.
private final class RecordingWebhook: ChatWebhook {
    let path: String
    let requests = Collector<ChatWebhookRequest>()
    let answer: ChatWebhookResponse

    init(path: String, answer: ChatWebhookResponse) {
        self.path = path
        self.answer = answer
    }

    func handle(_ request: ChatWebhookRequest) async -> ChatWebhookResponse {
        requests.append(request)
        return answer
    }
}

@Suite struct ChatWebhookRoutesTests {
    @Test func theExactBodyAndHeadersReachTheTransportAndItsAnswerGoesBack() async throws {
        let slack = RecordingWebhook(
            path: "/v1/chat/slack/events",
            answer: ChatWebhookResponse(status: 401, body: Array(#"{"error":"bad signature"}"#.utf8), headers: ["X-Slack-No-Retry": "1"]))
        let telegram = RecordingWebhook(path: "/v1/chat/telegram", answer: .json(200, "{}"))
        try await IntakeServer.with(webhooks: [slack, telegram]) { server in
            let body = "payload=%7B%22type%22%3A%22block_actions%22%7D&x=1 2"
            let response = try await server.post(
                "/v1/chat/slack/events", body, contentType: "application/x-www-form-urlencoded",
                headers: ["X-Slack-Signature": "v0=abc", "X-Slack-Request-Timestamp": "1531420618"])
            #expect(response.status == 401)
            #expect(response.text == #"{"error":"bad signature"}"#)
            #expect(response.header("x-slack-no-retry") == "1")
            let seen = try #require(slack.requests.all.first)
            #expect(seen.body == Array(body.utf8), "the raw bytes, for the signature")
            #expect(seen.header("X-Slack-Signature") == "v0=abc", "headers by any case")
            #expect(seen.headers["x-slack-request-timestamp"] == "1531420618")

            let ok = try await server.post("/v1/chat/telegram", #"{"update_id":1}"#)
            #expect(ok.status == 200)
            #expect(telegram.requests.all.count == 1)
            #expect(try await server.post("/v1/chat/nothing", "{}").status == 404)
        }
    }

    @Test func anOversizedBodyIsRefusedBeforeTheTransportSeesIt() async throws {
        let webhook = RecordingWebhook(path: "/v1/chat/telegram", answer: .json(200, "{}"))
        var settings = HTTPSettings(port: 0)
        settings.maxBodyBytes = 1024
        try await IntakeServer.with(settings, webhooks: [webhook]) { server in
            let response = try await server.post("/v1/chat/telegram", String(repeating: "x", count: 4096))
            #expect(response.status == 413)
            #expect(webhook.requests.all.isEmpty)
        }
    }
}
