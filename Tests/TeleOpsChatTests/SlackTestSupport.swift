import Foundation
import Logging
import Synchronization
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

extension SlackSettings {
    /// Settings pointing at `fake`, fast timeouts and backoff.
    static func forFake(_ fake: FakeSlackServer, mode: ReceiveMode = .socketMode, signingSecret: String? = nil) -> SlackSettings {
        SlackSettings(
            botToken: FakeSlackServer.botToken, appToken: FakeSlackServer.appToken, signingSecret: signingSecret,
            apiURL: fake.apiURL, channel: FakeSlackServer.defaultChannel, receiveMode: mode, connectTimeout: .seconds(2),
            requestTimeout: .seconds(5), helloTimeout: .seconds(2),
            reconnectBackoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(200)), linkDisabledRetry: .milliseconds(300))
    }
}

/// Starts a fake Slack, runs `body`, stops the fake (also when `body` throws).
func withFakeSlack<T>(
    options: FakeSlackOptions = FakeSlackOptions(), _ body: (FakeSlackServer) async throws -> T
) async throws -> T {
    let fake = try await FakeSlackServer.start(options: options)
    do {
        let result = try await body(fake)
        await fake.stop()
        return result
    } catch {
        await fake.stop()
        throw error
    }
}

/// Signs `body` for a Slack webhook request, as Slack does, with the timestamp `at`.
func slackRequest(
    _ body: String, secret: String, at timestamp: Int = Int(Date().timeIntervalSince1970), extraHeaders: [String: String] = [:]
) -> ChatWebhookRequest {
    var headers = [
        "x-slack-request-timestamp": "\(timestamp)",
        "x-slack-signature": FakeSlackSigning.signature(secret: secret, timestamp: "\(timestamp)", body: Array(body.utf8)),
    ]
    for (name, value) in extraHeaders { headers[name.lowercased()] = value }
    return ChatWebhookRequest(headers: headers, body: Array(body.utf8))
}

extension ChatWebhookResponse {
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONParser.parse(Data(body)) }
}

/// Reads `transport.incoming` into a collector while `body` runs.
func collectingIncoming<T>(
    _ transport: any ChatTransport, _ body: (Collector<IncomingMessage>) async throws -> T
) async throws -> T {
    let received = Collector<IncomingMessage>()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            for await message in transport.incoming { received.append(message) }
        }
        defer { group.cancelAll() }
        return try await body(received)
    }
}
