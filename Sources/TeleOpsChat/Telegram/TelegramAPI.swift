import Foundation
import TeleOpsCore

// The Bot API as TeleOps uses it: request bodies, the response envelope, the objects it reads,
// and how a failed call is classified. Names follow the Bot API docs (core.telegram.org/bots/api).

/// A `chat_id`: a number for chats known by id, a string for `@channelname`.
enum TelegramChatID: Encodable, Equatable {
    case id(Int64)
    case username(String)

    init(_ chat: String) {
        if let id = Int64(chat) { self = .id(id) } else { self = .username(chat) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .id(let id): try container.encode(id)
        case .username(let name): try container.encode(name)
        }
    }
}

struct InlineKeyboardButton: Codable, Equatable {
    var text: String
    var callbackData: String?

    enum CodingKeys: String, CodingKey { case text, callbackData = "callback_data" }
}

struct InlineKeyboardMarkup: Codable, Equatable {
    var inlineKeyboard: [[InlineKeyboardButton]]

    enum CodingKeys: String, CodingKey { case inlineKeyboard = "inline_keyboard" }

    /// Buttons in rows of at most `TelegramSettings.buttonsPerRow`, in order.
    init(_ buttons: [ChatButton]) {
        inlineKeyboard = stride(from: 0, to: buttons.count, by: TelegramSettings.buttonsPerRow).map { start in
            buttons[start..<min(start + TelegramSettings.buttonsPerRow, buttons.count)].map {
                InlineKeyboardButton(text: $0.label, callbackData: $0.command)
            }
        }
    }
}

struct LinkPreviewOptions: Encodable {
    var isDisabled = true

    enum CodingKeys: String, CodingKey { case isDisabled = "is_disabled" }
}

struct ReplyParameters: Encodable {
    var messageID: Int64
    var allowSendingWithoutReply = true

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", allowSendingWithoutReply = "allow_sending_without_reply"
    }
}

struct SendMessageRequest: Encodable {
    var chatID: TelegramChatID
    var text: String
    var parseMode = "HTML"
    var linkPreviewOptions = LinkPreviewOptions()
    var messageThreadID: Int?
    var replyParameters: ReplyParameters?
    var replyMarkup: InlineKeyboardMarkup?

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id", text, parseMode = "parse_mode", linkPreviewOptions = "link_preview_options"
        case messageThreadID = "message_thread_id", replyParameters = "reply_parameters", replyMarkup = "reply_markup"
    }
}

struct EditMessageTextRequest: Encodable {
    var chatID: TelegramChatID
    var messageID: Int64
    var text: String
    var parseMode = "HTML"
    var linkPreviewOptions = LinkPreviewOptions()
    /// Always sent: an empty keyboard removes the buttons.
    var replyMarkup: InlineKeyboardMarkup

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id", messageID = "message_id", text, parseMode = "parse_mode"
        case linkPreviewOptions = "link_preview_options", replyMarkup = "reply_markup"
    }
}

struct GetUpdatesRequest: Encodable {
    var offset: Int64?
    var timeout: Int
    var allowedUpdates: [String]

    enum CodingKeys: String, CodingKey { case offset, timeout, allowedUpdates = "allowed_updates" }
}

struct SetWebhookRequest: Encodable {
    var url: String
    var secretToken: String
    var allowedUpdates: [String]

    enum CodingKeys: String, CodingKey { case url, secretToken = "secret_token", allowedUpdates = "allowed_updates" }
}

struct AnswerCallbackQueryRequest: Encodable {
    var callbackQueryID: String

    enum CodingKeys: String, CodingKey { case callbackQueryID = "callback_query_id" }
}

/// The update types TeleOps asks for: typed messages and button presses.
let telegramAllowedUpdates = ["message", "callback_query"]

// MARK: Objects

struct TelegramUser: Decodable {
    var id: Int64
    var isBot: Bool
    var firstName: String
    var username: String?

    enum CodingKeys: String, CodingKey { case id, isBot = "is_bot", firstName = "first_name", username }
}

struct TelegramChat: Decodable {
    var id: Int64
    var type: String?
}

/// The fields TeleOps reads from a Message (and from the shorter `reply_to_message` and
/// InaccessibleMessage, which share them).
struct TelegramMessageHeader: Decodable {
    var messageID: Int64
    var chat: TelegramChat

    enum CodingKeys: String, CodingKey { case messageID = "message_id", chat }
}

struct TelegramMessage: Decodable {
    var messageID: Int64
    var messageThreadID: Int64?
    var isTopicMessage: Bool?
    var from: TelegramUser?
    var chat: TelegramChat
    var replyToMessage: TelegramMessageHeader?
    var text: String?

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", messageThreadID = "message_thread_id", isTopicMessage = "is_topic_message"
        case from, chat, replyToMessage = "reply_to_message", text
    }
}

struct TelegramCallbackQuery: Decodable {
    var id: String
    var from: TelegramUser
    var message: TelegramMessageHeader?
    var data: String?
}

/// One update. Only the kinds TeleOps acts on are decoded; any other (edited messages, channel
/// posts, membership changes) decodes with both nil and is skipped. A `message` or
/// `callback_query` of an unexpected shape is kept as `unreadable` so the update can still be
/// passed over instead of blocking the queue.
struct TelegramUpdate: Decodable {
    var updateID: Int64
    var message: TelegramMessage?
    var callbackQuery: TelegramCallbackQuery?
    var unreadable: String?

    enum CodingKeys: String, CodingKey { case updateID = "update_id", message, callbackQuery = "callback_query" }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        updateID = try container.decode(Int64.self, forKey: .updateID)
        do {
            message = try container.decodeIfPresent(TelegramMessage.self, forKey: .message)
            callbackQuery = try container.decodeIfPresent(TelegramCallbackQuery.self, forKey: .callbackQuery)
        } catch {
            unreadable = "\(error)"
        }
    }
}

/// `getUpdates`' result, read one update at a time so that one odd update cannot block the rest.
struct TelegramUpdateBatch: Decodable {
    var updates: [TelegramUpdate]
    /// The highest `update_id` seen, including updates that could not be read at all.
    var maxUpdateID: Int64?

    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        updates = []
        while !container.isAtEnd {
            if let update = try? container.decode(TelegramUpdate.self) {
                updates.append(update)
                maxUpdateID = max(maxUpdateID ?? update.updateID, update.updateID)
            } else if let bare = try? container.decode(BareUpdate.self) {
                maxUpdateID = max(maxUpdateID ?? bare.updateID, bare.updateID)
            } else {
                _ = try? container.decode(IgnoredValue.self)
            }
        }
    }

    private struct BareUpdate: Decodable {
        var updateID: Int64
        enum CodingKeys: String, CodingKey { case updateID = "update_id" }
    }

    private struct IgnoredValue: Decodable {
        init(from decoder: any Decoder) throws {}
    }
}

// MARK: Envelope and failures

struct ResponseParameters: Decodable {
    var migrateToChatID: Int64?
    var retryAfter: Int?

    enum CodingKeys: String, CodingKey { case migrateToChatID = "migrate_to_chat_id", retryAfter = "retry_after" }
}

/// `{"ok":true,"result":…}` or `{"ok":false,"error_code":…,"description":…,"parameters":{…}}`.
struct TelegramEnvelope<Result: Decodable>: Decodable {
    var ok: Bool
    var result: Result?
    var errorCode: Int?
    var description: String?
    var parameters: ResponseParameters?

    enum CodingKeys: String, CodingKey {
        case ok, result, errorCode = "error_code", description, parameters
    }
}

/// A result TeleOps does not read (`true`, or a Message it has no use for).
struct IgnoredResult: Decodable {
    init(from decoder: any Decoder) throws {}
}

/// Why a Bot API call did not succeed, before it is turned into a `ChatFailure` or a poller decision.
enum TelegramCallError: Error {
    /// Telegram answered `ok: false` (or a non-2xx status with no readable body).
    case api(status: Int, description: String, retryAfter: Int?, migrateToChatID: Int64?)
    /// The request took longer than the client's timeout.
    case timedOut(String)
    /// No answer: connection refused, DNS, TLS, reset.
    case network(String)
    /// 2xx, but not the envelope or result expected.
    case unreadable(String)

    var status: Int? {
        if case .api(let status, _, _, _) = self { status } else { nil }
    }

    /// The `ChatFailure` for a post or edit; `method` names the call for the operator.
    func chatFailure(method: String, timeout: Duration) -> ChatFailure {
        switch self {
        case .api(let status, let description, let retryAfter, _):
            switch status {
            case 429:
                return ChatFailure(
                    reason: .rateLimited, message: "Telegram flood control on \(method): \(description)",
                    retryAfter: retryAfter.map { .seconds(max($0, 0)) })
            case 401:
                // The token: every call fails alike. A 403 is about one chat (the bot was
                // blocked, or removed from the group), so it stays a client error.
                return ChatFailure(
                    reason: .unauthorized,
                    message: "Telegram refused the bot token on \(method) (\(description)); check the token from @BotFather")
            case 400..<500:
                return ChatFailure(reason: .clientError, message: "Telegram refused \(method): \(description)")
            default:
                return ChatFailure(reason: .serverError, message: "Telegram failed \(method): \(description)")
            }
        case .timedOut(let detail):
            return ChatFailure(reason: .timeout, message: "\(method) got no answer from Telegram within \(timeout) (\(detail))")
        case .network(let detail):
            return ChatFailure(reason: .network, message: "\(method) could not reach Telegram: \(detail)")
        case .unreadable(let detail):
            return ChatFailure(reason: .serverError, message: "Telegram's answer to \(method) could not be read: \(detail)")
        }
    }
}

extension TelegramCallError {
    /// Reads a response: the envelope when there is one, else the HTTP status (a proxy's HTML
    /// 502, say). `retryAfter` falls back to the `Retry-After` header.
    static func check<Result: Decodable>(_ response: HTTPResponse, as type: Result.Type) -> Swift.Result<Result, TelegramCallError> {
        let envelope = try? JSONDecoder().decode(TelegramEnvelope<Result>.self, from: response.body)
        if (200..<300).contains(response.status) {
            guard let envelope else { return .failure(.unreadable("HTTP \(response.status) with a body that is not Bot API JSON")) }
            if envelope.ok, let result = envelope.result { return .success(result) }
            if envelope.ok { return .failure(.unreadable("ok without a result")) }
        }
        let headerRetry = response.header("Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let status = envelope?.errorCode.flatMap { (400..<600).contains($0) ? $0 : nil } ?? response.status
        let description = envelope?.description ?? "HTTP \(response.status) \(snippet(response.body))"
        return .failure(.api(
            status: status, description: description, retryAfter: envelope?.parameters?.retryAfter ?? headerRetry,
            migrateToChatID: envelope?.parameters?.migrateToChatID))
    }

    /// A short, single-line sample of an unexpected body, for the operator.
    private static func snippet(_ body: Data) -> String {
        let text = String(decoding: body.prefix(120), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? "(empty body)" : "(\(text))"
    }
}

// MARK: Text

enum TelegramText {
    /// Plain text as Telegram HTML that shows exactly as written: `&`, `<` and `>` become
    /// entities; nothing else is special outside tags.
    static func html(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}
