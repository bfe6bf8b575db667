import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TeleOpsCore

/// The Telegram Bot API as a real HTTP server on 127.0.0.1, behaving as the official server
/// does (tdlib/telegram-bot-api): `/bot<token>/<method>` with case-insensitive method names,
/// JSON, form and query parameters, the `{"ok":false,"error_code",…}` error body with the HTTP
/// status equal to `error_code`, Telegram's exact error texts, HTML parsing, long polling with
/// 409 conflicts, webhooks with the secret header and retries, group upgrades, and flood control.
///
/// A test plays the people and the platform: it adds chats, types and presses buttons, reads
/// what the bot posted, and makes calls fail. Every request is logged with its arrival time,
/// so a benchmark can measure pacing against it.
///
/// ```swift
/// try await FakeTelegramServer.with { fake in
///     fake.addChat(.supergroup(id: -1001234567890, title: "oncall"))
///     // point TelegramSettings.apiURL at fake.apiURL, token fake.token
///     try fake.userTypes(chat: -1001234567890, from: ana, text: "ack")
///     let alert = try await fake.waitForMessage(containing: "CRITICAL")
/// }
/// ```
public final class FakeTelegramServer: Service, Sendable {
    public struct Options: Sendable {
        /// The only token the server accepts.
        public var token = "123456789:AAFakeTokenForTestsOnly_x-y"
        /// The bot behind the token (`getMe`, `from` of its messages).
        public var bot = FakeTelegramUser(id: 7_000_000_001, firstName: "TeleOps", username: "teleops_bot", isBot: true)
        /// The first `update_id` handed out.
        public var firstUpdateID: Int64 = 100_000_001
        /// Telegram answers one 409 at once, then holds further conflicting polls until this
        /// much time has passed since (3 s on the real server).
        public var conflictInterval: Duration = .seconds(3)
        /// Wait before the next attempt after the webhook answered non-2xx or failed.
        public var webhookRetryDelay: Duration = .seconds(1)
        /// How long a webhook POST may take before it counts as failed.
        public var webhookTimeout: Duration = .seconds(10)
        /// Reject a `&` that starts no entity (Telegram keeps it as written): catches text that was not escaped.
        public var strictEntities = false
        /// Enforce Telegram's rate limits with 429s from the start.
        public var floodControl: FakeTelegramFloodControl?
        /// Port to listen on; 0 picks a free one.
        public var port = 0

        public init() {}
    }

    public let options: Options
    /// Every call answered, in the order the answers went out.
    public let requests = Collector<FakeTelegramRequest>()
    /// A snapshot of every message the bot sent, and of each message after each edit.
    public let activity = Collector<FakeTelegramMessage>()
    /// Every POST of an update to the webhook.
    public let webhookDeliveries = Collector<FakeTelegramWebhookDelivery>()
    /// The ids of `getUpdates` calls that found nothing and started waiting (a signal for tests).
    public let longPollsStarted = Collector<Int>()

    let state: Mutex<FakeTelegramState>
    let webhookDoorbell = Doorbell()
    private let ports = Collector<Int>()
    private let logger: Logger

    public init(options: Options = Options(), logger: Logger? = nil) {
        self.options = options
        var state = FakeTelegramState(firstUpdateID: options.firstUpdateID)
        state.floodControl = options.floodControl
        self.state = Mutex(state)
        self.logger = logger ?? {
            var logger = Logger(label: "fake-telegram")
            logger.logLevel = .critical
            return logger
        }()
    }

    /// The token to configure the transport with.
    public var token: String { options.token }
    public var bot: FakeTelegramUser { options.bot }

    /// The port, once listening (waits for it).
    public func port(timeout: Duration = .seconds(15)) async throws -> Int {
        try await ports.waitFor(what: "the fake Telegram server to listen", timeout: timeout) { _ in true }
    }

    /// `http://127.0.0.1:<port>`, the `apiURL` for the transport; empty until listening.
    public var apiURL: String {
        ports.all.first.map { "http://127.0.0.1:\($0)" } ?? ""
    }

    /// Serves until graceful shutdown; pending long polls are answered at once then.
    public func run() async throws {
        let responder = CallbackResponder { (request: Request, _: BasicRequestContext) in
            await self.respond(to: request)
        }
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: options.port), serverName: nil),
            onServerRunning: { channel in self.ports.append(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                group.addTask { await cancelWhenGracefulShutdown { await self.deliverWebhooks() } }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Runs a fake for the duration of `body`.
    public static func with<T: Sendable>(
        options: Options = Options(), _ body: (FakeTelegramServer) async throws -> T
    ) async throws -> T {
        let fake = FakeTelegramServer(options: options)
        var logger = Logger(label: "fake-telegram")
        logger.logLevel = .critical
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: fake)], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: Result<T, any Error>
            do {
                _ = try await fake.port()
                result = .success(try await body(fake))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    private func stop() {
        let waiting = state.withLock { state -> [CheckedContinuation<FakeTelegramState.PollEnd, Never>] in
            state.stopping = true
            return state.polls.keys.compactMap { Self.end(poll: $0, .shutdown, in: &state) }
        }
        waiting.forEach { $0.resume(returning: .shutdown) }
        webhookDoorbell.ring()
    }

    // MARK: HTTP

    private func respond(to request: Request) async -> Response {
        let arrival = ContinuousClock.now
        let date = Date()
        var method = ""
        var params = FakeTelegramParams()
        let reply: FakeReply
        do {
            (method, params) = try await route(request)
            reply = await handle(method: method, params: params)
        } catch let error as FakeTelegramError {
            reply = .error(error)
        } catch {
            reply = .error(.badRequest("can't read the request: \(error)"))
        }
        let (status, description) = reply.summary
        requests.append(FakeTelegramRequest(
            method: method, params: params, arrival: arrival, date: date, finished: .now, status: status,
            errorDescription: description))
        return reply.response
    }

    /// `/bot<token>/<method>` (an optional `/test` before the method selects the test environment).
    private func route(_ request: Request) async throws -> (String, FakeTelegramParams) {
        let path = request.uri.path
        guard path.hasPrefix("/bot") else { throw FakeTelegramError(code: 404, description: "Not Found") }
        let rest = path.dropFirst(4)
        guard let slash = rest.firstIndex(of: "/") else { throw FakeTelegramError(code: 404, description: "Not Found") }
        let token = String(rest[..<slash])
        var method = String(rest[rest.index(after: slash)...])
        if method.hasPrefix("test/") { method.removeFirst(5) }
        guard token == options.token else { throw FakeTelegramError(code: 401, description: "Unauthorized: invalid token specified") }

        var values = FakeTelegramParams.form(request.uri.query ?? "")
        var request = request
        let body = try await request.collectBody(upTo: 1 << 22)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if body.readableBytes > 0 {
            let text = String(buffer: body)
            if contentType.hasPrefix("application/json") {
                guard case .object(let object)? = try? JSONParser.parse(Data(text.utf8)) else {
                    throw FakeTelegramError.badRequest("can't parse JSON object")
                }
                values.merge(object) { _, body in body }
            } else if contentType.hasPrefix("application/x-www-form-urlencoded") || contentType.isEmpty {
                values.merge(FakeTelegramParams.form(text)) { _, body in body }
            } else {
                throw FakeTelegramError.badRequest("the fake Telegram server reads JSON, form and query parameters, not \(contentType)")
            }
        }
        return (method.lowercased(), FakeTelegramParams(values))
    }

    private func handle(method: String, params: FakeTelegramParams) async -> FakeReply {
        let failure = state.withLock { state -> FakeTelegramFailure? in
            guard let index = state.failures.firstIndex(where: { $0.methods.contains(method) }) else { return nil }
            return state.failures.remove(at: index).failure
        }
        switch failure {
        case .tooManyRequests(let seconds)?: return .error(Self.tooManyRequests(seconds))
        case .internalError(let text)?: return .error(FakeTelegramError(code: 500, description: "Internal Server Error: \(text)"))
        case .badGateway?:
            return .raw(status: 502, contentType: "text/html", body: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n")
        case .error(let code, let description)?: return .error(FakeTelegramError(code: code, description: description))
        case .slowAnswer(let delay)?:
            let reply = await dispatch(method: method, params: params)
            try? await Task.sleep(for: delay)
            return reply
        case nil:
            return await dispatch(method: method, params: params)
        }
    }

    private func dispatch(method: String, params: FakeTelegramParams) async -> FakeReply {
        do {
            switch method {
            case "sendmessage": return .ok(try sendMessage(params))
            case "editmessagetext": return .ok(try editMessageText(params))
            case "answercallbackquery": return .ok(try answerCallbackQuery(params))
            case "getupdates": return try await getUpdates(params)
            case "setwebhook": return try setWebhook(params)
            case "deletewebhook": return deleteWebhook(params)
            case "getwebhookinfo": return .ok(webhookInfo())
            case "getme": return .ok(getMe())
            default: throw FakeTelegramError(code: 404, description: "Not Found: method not found")
            }
        } catch let error as FakeTelegramError {
            return .error(error)
        } catch {
            return .error(.badRequest("\(error)"))
        }
    }

    static func tooManyRequests(_ seconds: Int) -> FakeTelegramError {
        FakeTelegramError(
            code: 429, description: "Too Many Requests: retry after \(seconds)", parameters: [("retry_after", .int(Int64(seconds)))],
            headers: ["Retry-After": String(seconds)])
    }

    // MARK: Failures and limits on demand

    /// The next `count` posts or edits (`sendMessage`, `editMessageText`) fail with `failure`.
    public func failNext(_ failure: PlatformFailure, count: Int = 1) {
        failNext(FakeTelegramFailure(failure), count: count)
    }

    /// The next `count` calls of `methods` (lower-cased) fail with `failure`.
    public func failNext(_ failure: FakeTelegramFailure, count: Int = 1, methods: Set<String> = ["sendmessage", "editmessagetext"]) {
        state.withLock { state in
            for _ in 0..<count { state.failures.append((failure, Set(methods.map { $0.lowercased() }))) }
        }
    }

    /// Forgets the failures queued by `failNext` (the platform recovers).
    public func clearFailures() {
        state.withLock { $0.failures.removeAll() }
    }

    /// Turns Telegram's rate limits on (or off with nil) for sends and edits.
    public func setFloodControl(_ control: FakeTelegramFloodControl?) {
        state.withLock { state in
            state.floodControl = control
            state.buckets = [:]
        }
    }

    /// The calls of one method (lower-cased), in the order they were answered.
    public func requests(method: String) -> [FakeTelegramRequest] {
        requests.all.filter { $0.method == method.lowercased() }
    }

    /// Waits for an answered call of `method` (lower-cased) from the `from`-th request on.
    @discardableResult
    public func waitForRequest(
        method: String, from start: Int = 0, timeout: Duration = .seconds(10),
        where matches: @escaping @Sendable (FakeTelegramRequest) -> Bool = { _ in true }
    ) async throws -> FakeTelegramRequest {
        let method = method.lowercased()
        return try await requests.waitFor(what: "a \(method) call", from: start, timeout: timeout) {
            $0.method == method && matches($0)
        }
    }
}

/// A method's answer.
enum FakeReply {
    case ok(FakeJSON, description: String? = nil)
    case error(FakeTelegramError)
    /// Not from the Bot API at all (a proxy's page).
    case raw(status: Int, contentType: String, body: String)

    static func ok(_ result: FakeJSON) -> FakeReply { .ok(result, description: nil) }

    var summary: (status: Int, description: String?) {
        switch self {
        case .ok: (200, nil)
        case .error(let error): (error.code, error.description)
        case .raw(let status, _, let body): (status, body)
        }
    }

    var response: Response {
        let status: Int
        var headers = HTTPFields()
        let body: String
        switch self {
        case .ok(let result, let description):
            status = 200
            var members: [(String, FakeJSON)] = [("ok", .bool(true)), ("result", result)]
            if let description { members.append(("description", .string(description))) }
            body = FakeJSON.object(members).text
            headers[.contentType] = "application/json"
        case .error(let error):
            status = error.code
            body = error.body.text
            headers[.contentType] = "application/json"
            for (name, value) in error.headers {
                if let field = HTTPField.Name(name) { headers[field] = value }
            }
        case .raw(let code, let contentType, let text):
            status = code
            body = text
            headers[.contentType] = contentType
        }
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
