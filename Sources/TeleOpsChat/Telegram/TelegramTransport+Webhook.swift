import Foundation
import Logging
import TeleOpsCore

extension TelegramTransport {
    /// The endpoint Telegram POSTs updates to in webhook mode, mounted by the HTTP server at
    /// `/v1/chat/telegram`. It checks the `X-Telegram-Bot-Api-Secret-Token` header, stores the
    /// update in the inbox (a redelivery has the same `update_id`, so it is stored and
    /// delivered once), and answers 200 only once the update is stored, so Telegram retries
    /// anything TeleOps could not keep.
    ///
    /// ```swift
    /// let response = await telegram.webhook.handle(ChatWebhookRequest(headers: headers, body: body))
    /// ```
    public var webhook: any ChatWebhook { TelegramWebhook(transport: self) }

    /// Tells Telegram where to deliver updates. Retries while Telegram cannot be reached;
    /// when Telegram refuses the URL, says so and stops (nothing arrives until it is fixed).
    func registerWebhook(url: String, secret: String) async {
        var attempt = 0
        while !Task.isCancelled {
            let request = SetWebhookRequest(url: url, secretToken: secret, allowedUpdates: telegramAllowedUpdates)
            switch await call("setWebhook", request, as: IgnoredResult.self) {
            case .success:
                logger.info("Telegram delivers updates to the webhook", metadata: ["url": "\(url)"])
                return
            case .failure(let error):
                let failure = failure(error, method: "setWebhook")
                if !failure.isRetryable {
                    logger.error(
                        "Telegram refused the webhook, so no messages or button presses will arrive until it is fixed: check that the URL is public HTTPS on port 443, 80, 88 or 8443 with a valid certificate, or receive by polling instead",
                        metadata: ["url": "\(url)", "error": "\(failure.message)"])
                    return
                }
                attempt += 1
                if attempt == 1 {
                    logger.warning("could not register the webhook with Telegram yet; retrying with backoff",
                                   metadata: ["url": "\(url)", "error": "\(failure.message)"])
                }
                try? await Task.sleep(for: max(failure.retryAfter ?? .zero, settings.pollBackoff.delay(attempt: attempt)))
            }
        }
    }

    func handleWebhook(_ request: ChatWebhookRequest) async -> ChatWebhookResponse {
        guard case .webhook(_, let secret) = settings.receive else {
            return Self.error(404, "the Telegram transport receives by long polling, not by webhook; remove the webhook with deleteWebhook")
        }
        guard let given = request.header(TelegramSettings.secretHeader), Self.constantTimeEqual(given, secret) else {
            return Self.error(401, "missing or wrong \(TelegramSettings.secretHeader) header")
        }
        let update: TelegramUpdate
        do {
            update = try JSONDecoder().decode(TelegramUpdate.self, from: Data(request.body))
        } catch {
            return Self.error(400, "the body is not a Telegram Update: \(Self.describe(error))")
        }
        do {
            _ = try await accept([update], cursor: nil)
        } catch {
            logger.error("a Telegram update could not be stored; answering 500 so that Telegram delivers it again",
                         metadata: ["update_id": "\(update.updateID)", "error": "\(error)"])
            return Self.error(500, "the update could not be stored; deliver it again")
        }
        return .json(200, "{}")
    }

    private static func error(_ status: Int, _ message: String) -> ChatWebhookResponse {
        let body = (try? JSONEncoder().encode(["error": message])) ?? Data(#"{"error":"error"}"#.utf8)
        return ChatWebhookResponse(status: status, body: Array(body))
    }

    /// Compares every byte whatever the first difference, so the time taken says nothing about the secret.
    static func constantTimeEqual(_ given: String, _ expected: String) -> Bool {
        let a = Array(given.utf8), b = Array(expected.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// A decoding error in a line: what is missing or mistyped, and where.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the body" : keys.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let at = path(context)
            return "missing \"\(key.stringValue)\"" + (at == "the body" ? "" : " in \(at)")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "\(path(context)): expected \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// `TelegramTransport.webhook`.
struct TelegramWebhook: ChatWebhook {
    let transport: TelegramTransport
    var path: String { TelegramSettings.webhookPath }

    func handle(_ request: ChatWebhookRequest) async -> ChatWebhookResponse {
        await transport.handleWebhook(request)
    }
}
