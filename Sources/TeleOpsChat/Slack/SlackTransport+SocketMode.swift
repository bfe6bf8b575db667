import Foundation
import ServiceLifecycle
import TeleOpsCore

/// Socket Mode (docs.slack.dev/apis/events-api/using-socket-mode): `apps.connections.open` with
/// the app token gives a one-use WebSocket URL; Slack says `hello`, then sends envelopes, each
/// acknowledged with `{"envelope_id": …}` once what it carries is in the inbox (an envelope the
/// inbox could not take is not acknowledged, so Slack sends it again).
///
/// One task manages the connections; each connection has a reader task. On `disconnect` with
/// `warning` or `refresh_requested` a new connection is opened, and the old one is closed
/// once the new one said `hello` (both are read meanwhile, so nothing in flight is lost).
/// When the last connection ends, the next one is opened after a backoff with jitter; after
/// `link_disabled`, after `linkDisabledRetry`.
extension SlackTransport {
    enum SocketEvent: Sendable {
        case hello(Int)
        case disconnect(Int, reason: String)
        case ended(Int, error: String?)
    }

    private struct SocketLoop {
        var connections: [Int: WebSocketConnection] = [:]
        /// A new connection → the one it replaces once it says hello.
        var replacing: [Int: Int] = [:]
        var saidHello: Set<Int> = []
        var nextID = 0
        /// Consecutive failures to get a connection that says hello.
        var failures = 0
        var everConnected = false
        var linkDisabled = false
    }

    func runSocketMode() async throws {
        guard let appToken = settings.appToken, !appToken.isEmpty else {
            logger.error("Socket Mode needs the app-level token (TELEOPS_SLACK_APP_TOKEN); nothing will be received")
            throw SlackTransportError(message: "slack.app_token is missing; Socket Mode needs an app-level token with connections:write")
        }
        let (events, control) = AsyncStream.makeStream(of: SocketEvent.self)
        var loop = SocketLoop()
        try await withThrowingDiscardingTaskGroup { group in
            func start(_ connection: WebSocketConnection) -> Int {
                loop.nextID += 1
                let id = loop.nextID
                loop.connections[id] = connection
                group.addTask { await self.read(connection, id: id, control: control) }
                return id
            }
            defer { control.finish() }
            guard let first = try await connect(appToken: appToken, loop: &loop, after: nil) else { return }
            _ = start(first)
            for await event in events {
                switch event {
                case .hello(let id):
                    loop.failures = 0
                    loop.everConnected = true
                    loop.linkDisabled = false
                    loop.saidHello.insert(id)
                    receiver.receiving.open()
                    if let old = loop.replacing.removeValue(forKey: id), let connection = loop.connections[old] {
                        logger.debug("Socket Mode: the new connection said hello; closing the old one", metadata: ["old": "\(old)", "new": "\(id)"])
                        await connection.close()
                    }
                case .disconnect(let id, let reason):
                    if reason == "link_disabled" {
                        logger.error(
                            "Slack ended Socket Mode (link_disabled): Socket Mode was turned off in the app settings (Settings → Socket Mode); trying again later",
                            metadata: ["retry_in": "\(settings.linkDisabledRetry)"])
                        loop.linkDisabled = true
                        await loop.connections[id]?.close()
                    } else if !loop.replacing.values.contains(id), loop.connections[id] != nil {
                        logger.info("Slack asked for a new Socket Mode connection", metadata: ["reason": "\(reason)"])
                        if let fresh = await open(appToken: appToken) {
                            loop.replacing[start(fresh)] = id
                        }
                        // If that failed, the old connection keeps working until Slack closes
                        // it, and its end starts the usual reconnect.
                    }
                case .ended(let id, let error):
                    loop.connections[id] = nil
                    loop.replacing[id] = nil
                    if loop.saidHello.remove(id) == nil { loop.failures += 1 }
                    if let error { logger.warning("Socket Mode connection ended", metadata: ["error": "\(error)"]) }
                    guard loop.connections.isEmpty, !Task.isCancelled else { continue }
                    let delay = loop.linkDisabled ? settings.linkDisabledRetry : settings.reconnectBackoff.delay(attempt: max(loop.failures, 1))
                    guard let next = try await connect(appToken: appToken, loop: &loop, after: delay) else { return }
                    _ = start(next)
                }
            }
        }
        for connection in loop.connections.values { await connection.close() }
    }

    /// Opens a connection, retrying with backoff; nil when cancelled first. Throws when Slack
    /// refuses the app token before any connection worked.
    private func connect(appToken: String, loop: inout SocketLoop, after firstDelay: Duration?) async throws -> WebSocketConnection? {
        var delay = firstDelay
        while !Task.isCancelled {
            if let delay {
                do { try await Task.sleep(for: delay) } catch { return nil }
            }
            do {
                let answer = try await api.call("apps.connections.open", token: appToken, body: [:])
                guard let url = answer["url"]?.stringValue else {
                    throw ChatFailure(reason: .serverError, message: "apps.connections.open: the answer has no url")
                }
                return try await WebSocketConnection.connect(url: url, options: webSocketOptions)
            } catch let failure as ChatFailure where !failure.isRetryable {
                loop.failures += 1
                if !loop.everConnected {
                    logger.error("Slack refused the app token; Socket Mode cannot start", metadata: ["error": "\(failure.message)"])
                    throw SlackTransportError(message: "Slack refused the app-level token: \(failure.message)")
                }
                logger.error("Slack refused the app token; trying again later", metadata: [
                    "error": "\(failure.message)", "retry_in": "\(settings.linkDisabledRetry)",
                ])
                delay = settings.linkDisabledRetry
            } catch {
                if Task.isCancelled { return nil }
                loop.failures += 1
                let failure = error as? ChatFailure
                let wait = failure?.retryAfter ?? settings.reconnectBackoff.delay(attempt: loop.failures)
                logger.warning("could not open a Socket Mode connection; trying again", metadata: [
                    "error": "\(failure?.message ?? Self.redactedURL(in: "\(error)"))", "attempt": "\(loop.failures)",
                    "retry_in": "\(wait)",
                ])
                delay = wait
            }
        }
        return nil
    }

    /// One attempt, for a refresh: the old connection still works if it fails.
    private func open(appToken: String) async -> WebSocketConnection? {
        do {
            let answer = try await api.call("apps.connections.open", token: appToken, body: [:])
            guard let url = answer["url"]?.stringValue else { return nil }
            return try await WebSocketConnection.connect(url: url, options: webSocketOptions)
        } catch {
            logger.warning("could not open the replacement Socket Mode connection",
                           metadata: ["error": "\(Self.redactedURL(in: "\(error)"))"])
            return nil
        }
    }

    private var webSocketOptions: WebSocketOptions {
        var options = WebSocketOptions()
        options.connectTimeout = settings.connectTimeout
        return options
    }

    /// Reads one connection until it ends: `hello`, `disconnect` and envelopes. A connection
    /// that says nothing within `helloTimeout` is closed.
    private func read(_ connection: WebSocketConnection, id: Int, control: AsyncStream<SocketEvent>.Continuation) async {
        let hello = SlackLatch()
        var failure: String?
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: self.settings.helloTimeout)
                guard !Task.isCancelled, !hello.isOpen else { return }
                self.logger.warning("Slack sent no hello on a new Socket Mode connection; closing it",
                                    metadata: ["timeout": "\(self.settings.helloTimeout)"])
                await connection.close()
            }
            do {
                for try await text in connection.messages {
                    await handle(text, on: connection, id: id, hello: hello, control: control)
                }
            } catch {
                failure = Self.redactedURL(in: "\(error)")
            }
            group.cancelAll()
        }
        control.yield(.ended(id, error: failure))
    }

    private func handle(
        _ text: String, on connection: WebSocketConnection, id: Int, hello: SlackLatch, control: AsyncStream<SocketEvent>.Continuation
    ) async {
        guard let message = try? JSONParser.parse(Data(text.utf8)), case .object = message else {
            logger.warning("Socket Mode: a message that is not a JSON object; ignored", metadata: ["bytes": "\(text.utf8.count)"])
            return
        }
        let type = message["type"]?.stringValue ?? ""
        guard let envelopeID = message["envelope_id"]?.stringValue else {
            switch type {
            case "hello":
                hello.open()
                logger.info("Socket Mode connected", metadata: [
                    "connections": "\(message["num_connections"].map(\.compactJSON) ?? "?")",
                    "approximate_connection_time": "\(message["debug_info"]?["approximate_connection_time"].map(\.compactJSON) ?? "?")",
                ])
                control.yield(.hello(id))
            case "disconnect":
                control.yield(.disconnect(id, reason: message["reason"]?.stringValue ?? ""))
            default:
                logger.debug("Socket Mode: message ignored", metadata: ["type": "\(type)"])
            }
            return
        }
        let payload = message["payload"] ?? .null
        var note = "envelope \(envelopeID) (\(type))"
        if let attempt = message["retry_attempt"], attempt != .number(0) {
            note += " retry \(attempt.compactJSON) \(message["retry_reason"]?.stringValue ?? "")"
        }
        let delivery: SlackReceiver.Payload? = switch type {
        case "events_api": .events(payload)
        case "interactive": .interactive(payload)
        case "slash_commands":
            if case .object(let fields) = payload { .slashCommand(fields.compactMapValues(\.stringValue)) } else { nil }
        default: nil
        }
        if let delivery {
            do {
                try await receiver.receive(delivery, deliveryNote: note)
            } catch {
                logger.error("could not store a Slack envelope; not acknowledging it, so Slack sends it again",
                             metadata: ["envelope": "\(envelopeID)", "error": "\(error)"])
                return
            }
        } else {
            logger.debug("Socket Mode: envelope type ignored", metadata: ["type": "\(type)"])
        }
        do {
            try await connection.send(JSONValue.object(["envelope_id": .string(envelopeID)]).compactJSON)
        } catch {
            logger.warning("could not acknowledge a Slack envelope; Slack will send it again",
                           metadata: ["envelope": "\(envelopeID)", "error": "\(error)"])
        }
    }

    /// Error text with any WebSocket URL's query (its one-use ticket) removed.
    static func redactedURL(in text: String) -> String {
        guard let query = text.range(of: "?ticket=") else { return text }
        let end = text[query.upperBound...].firstIndex { $0 == " " || $0 == ":" || $0 == "\"" } ?? text.endIndex
        return text.replacingCharacters(in: query.lowerBound..<end, with: "?ticket=…")
    }
}
