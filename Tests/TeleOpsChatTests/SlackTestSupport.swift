import Foundation
import Logging
import Synchronization
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// A `ChatInbox` in memory, de-duplicating by transport and delivery id as the store does;
/// `failNext` makes receives throw, as a store that cannot write.
final class SlackTestInbox: ChatInbox {
    private struct State {
        var seen: Set<String> = []
        var stored: [IncomingMessage] = []
        var failures = 0
        var delays: [Duration] = []
        var nextID: Int64 = 0
    }

    private let state = Mutex(State())

    struct StoreDown: Error, CustomStringConvertible {
        var description: String { "the store is down (test)" }
    }

    var stored: [IncomingMessage] { state.withLock { $0.stored } }

    func failNext(_ count: Int) { state.withLock { $0.failures += count } }

    /// The next receive waits this long before storing (a slow disk).
    func delayNext(_ delay: Duration) { state.withLock { $0.delays.append(delay) } }

    func receive(_ messages: [IncomingMessage], cursor: ChatCursor?) async throws -> [IncomingMessage] {
        if let delay = state.withLock({ $0.delays.isEmpty ? nil : $0.delays.removeFirst() }) {
            try await Task.sleep(for: delay)
        }
        return try state.withLock { state in
            if state.failures > 0 {
                state.failures -= 1
                throw StoreDown()
            }
            var new: [IncomingMessage] = []
            for var message in messages {
                if let id = message.deliveryID, !state.seen.insert("\(message.ref.transport)|\(id)").inserted { continue }
                state.nextID += 1
                message.inboxID = state.nextID
                state.stored.append(message)
                new.append(message)
            }
            return new
        }
    }

    func cursor(named name: String) async throws -> String? { nil }
}

/// A logger that keeps its lines, so a test can check what was logged (and that no token was).
final class SlackTestLog: LogHandler, @unchecked Sendable {
    // The lines live in a Sendable Collector; `metadata` and `logLevel` are set once before use.
    let lines = Collector<String>()
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.append("\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }

    var logger: Logger { Logger(label: "slack-test") { _ in self } }
}

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
