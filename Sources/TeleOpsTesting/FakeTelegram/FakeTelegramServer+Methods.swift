import Foundation
import TeleOpsCore

// Bot API methods that change or read chats: sendMessage, editMessageText, answerCallbackQuery, getMe.
extension FakeTelegramServer {
    static let notModified =
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

    func sendMessage(_ params: FakeTelegramParams) throws(FakeTelegramError) -> FakeJSON {
        let now = ContinuousClock.now
        let (message, json) = try state.withLock { state throws(FakeTelegramError) -> (FakeTelegramMessage, FakeJSON) in
            let chat = try Self.writableChat(params, in: &state)
            let (text, sentText, parseMode) = try Self.text(params, strict: options.strictEntities)
            let keyboard = try Self.keyboard(params) ?? []
            var threadID: Int64?
            if chat.isForum, let thread = try params.int("message_thread_id") {
                guard state.topics[chat.id]?.contains(thread) == true else { throw .badRequest("message thread not found") }
                threadID = thread
            }
            var replyTo: Int64?
            let reply = try Self.replyParameters(params)
            if let reply {
                if let replied = state.message(reply.messageID, in: chat.id) {
                    replyTo = replied.id
                    if threadID == nil { threadID = replied.threadID }
                } else if !reply.allowWithoutReply {
                    throw .badRequest("message to be replied not found")
                }
            }
            if replyTo == nil, let threadID { replyTo = threadID }  // forum: messages in a topic reply to its first message
            if let wait = state.floodWait(chat: chat, now: now) { throw Self.tooManyRequests(wait) }
            let message = FakeTelegramMessage(
                id: state.nextMessageID(in: chat.id), chatID: chat.id, from: options.bot, text: text, sentText: sentText,
                parseMode: parseMode, threadID: threadID, replyTo: replyTo, keyboard: keyboard, date: Self.unixNow(), arrival: now,
                edits: 0, editDate: nil, linkPreviewDisabled: Self.linkPreviewDisabled(params), isTopicRoot: false)
            state.store(message)
            return (message, state.json(message))
        }
        activity.append(message)
        return json
    }

    func editMessageText(_ params: FakeTelegramParams) throws(FakeTelegramError) -> FakeJSON {
        let now = ContinuousClock.now
        let (message, json) = try state.withLock { state throws(FakeTelegramError) -> (FakeTelegramMessage, FakeJSON) in
            if params.string("inline_message_id") != nil, params["chat_id"] == nil { throw .badRequest("message to edit not found") }
            let chat = try Self.writableChat(params, in: &state)
            guard let id = try params.int("message_id") else { throw .badRequest("message identifier is not specified") }
            guard var message = state.message(id, in: chat.id) else { throw .badRequest("message to edit not found") }
            guard message.from.id == options.bot.id else { throw .badRequest("message can't be edited") }
            guard !message.isTopicRoot else { throw .badRequest("there is no text in the message to edit") }
            let (text, sentText, parseMode) = try Self.text(params, strict: options.strictEntities)
            // Without reply_markup the inline keyboard goes away.
            let keyboard = try Self.keyboard(params) ?? []
            let sameFormatting = message.sentText == sentText || !(message.sentText ?? "").contains("<") && !sentText.contains("<")
            if message.text == text, sameFormatting, message.keyboard == keyboard {
                throw FakeTelegramError(code: 400, description: Self.notModified)
            }
            if let wait = state.floodWait(chat: chat, now: now) { throw Self.tooManyRequests(wait) }
            message.text = text
            message.sentText = sentText
            message.parseMode = parseMode
            message.keyboard = keyboard
            message.edits += 1
            message.editDate = Self.unixNow()
            message.arrival = now
            state.store(message)
            return (message, state.json(message))
        }
        activity.append(message)
        return json
    }

    func answerCallbackQuery(_ params: FakeTelegramParams) throws(FakeTelegramError) -> FakeJSON {
        guard let id = params.string("callback_query_id"), !id.isEmpty else { throw .badRequest("query ID is not specified") }
        if let text = params.string("text"), text.count > 200 { throw .badRequest("MESSAGE_TOO_LONG") }
        try state.withLock { state throws(FakeTelegramError) in
            guard state.callbackQueries[id] == false else {
                throw .badRequest("query is too old and response timeout expired or query ID is invalid")
            }
            state.callbackQueries[id] = true
        }
        return .bool(true)
    }

    func getMe() -> FakeJSON {
        guard case .object(let members) = options.bot.json else { return options.bot.json }
        return .object(members + [
            ("can_join_groups", .bool(true)), ("can_read_all_group_messages", .bool(false)), ("supports_inline_queries", .bool(false)),
        ])
    }

    // MARK: Parameters

    /// The chat a send or edit goes to, with Telegram's refusals: unknown, upgraded, blocked.
    static func writableChat(_ params: FakeTelegramParams, in state: inout FakeTelegramState) throws(FakeTelegramError) -> FakeTelegramChat {
        guard let raw = params.string("chat_id"), !raw.isEmpty else { throw .badRequest("chat_id is empty") }
        let chat: FakeTelegramChat?
        if raw.hasPrefix("@") {
            chat = state.chat(username: raw)
        } else if let id = Int64(raw) {
            if let newID = state.migrated[id] {
                throw FakeTelegramError(
                    code: 400, description: "Bad Request: group chat was upgraded to a supergroup chat",
                    parameters: [("migrate_to_chat_id", .int(newID))])
            }
            chat = state.chat(id)
        } else {
            chat = nil
        }
        guard let chat else { throw .badRequest("chat not found") }
        if state.blocked.contains(chat.id) { throw FakeTelegramError(code: 403, description: "Forbidden: bot was blocked by the user") }
        return chat
    }

    /// (visible text, text as sent, parse mode).
    static func text(_ params: FakeTelegramParams, strict: Bool) throws(FakeTelegramError) -> (String, String, String?) {
        let raw = params.string("text") ?? ""
        if raw.utf8.count > 32768 { throw .badRequest("text is too long") }
        let mode = params.string("parse_mode")
        let visible: String
        switch mode?.lowercased() ?? "" {
        case "", "none":
            visible = raw
        case "html":
            do {
                visible = try FakeTelegramHTML.visibleText(raw, strictEntities: strict)
            } catch {
                throw .badRequest("can't parse entities: \(error.detail)")
            }
        case "markdown", "markdownv2":
            throw .badRequest("the fake Telegram server parses HTML only; Markdown is not implemented")
        default:
            throw .badRequest("unsupported parse_mode")
        }
        let trimmed = visible.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { throw .badRequest("message text is empty") }
        if trimmed.utf16.count > 4096 { throw .badRequest("message is too long") }
        return (trimmed, raw, mode)
    }

    /// The inline keyboard, nil when `reply_markup` is absent; other keyboards count as none.
    static func keyboard(_ params: FakeTelegramParams) throws(FakeTelegramError) -> [[FakeTelegramButton]]? {
        guard let markup = try params.structured("reply_markup") else { return nil }
        guard case .object(let members) = markup else { throw .badRequest("object expected as reply markup") }
        guard let keyboard = members["inline_keyboard"] else { return [] }
        guard case .array(let rows) = keyboard else { throw .badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array") }
        return try rows.map { row throws(FakeTelegramError) -> [FakeTelegramButton] in
            guard case .array(let buttons) = row else { throw .badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays") }
            return try buttons.map { button throws(FakeTelegramError) -> FakeTelegramButton in
                guard case .object(let fields) = button, case .string(let text)? = fields["text"] else {
                    throw .badRequest("can't parse inline keyboard button: Field \"text\" must be of type String")
                }
                if case .string(let data)? = fields["callback_data"] {
                    guard (1...64).contains(data.utf8.count) else { throw .badRequest("BUTTON_DATA_INVALID") }
                    return FakeTelegramButton(text: text, callbackData: data)
                }
                if case .string(let url)? = fields["url"] { return FakeTelegramButton(text: text, url: url) }
                throw .badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
            }
        }
    }

    /// `reply_parameters`, or the older top-level `reply_to_message_id` the server still accepts.
    static func replyParameters(_ params: FakeTelegramParams) throws(FakeTelegramError) -> (messageID: Int64, allowWithoutReply: Bool)? {
        if let reply = try params.structured("reply_parameters") {
            guard case .object(let fields) = reply, case .number(let id)? = fields["message_id"] else {
                throw .badRequest("can't parse reply parameters: Field \"message_id\" must be of type Number")
            }
            var allow = false
            if case .bool(let flag)? = fields["allow_sending_without_reply"] { allow = flag }
            return (Int64(id), allow)
        }
        guard let id = try params.int("reply_to_message_id") else { return nil }
        return (id, params.bool("allow_sending_without_reply"))
    }

    static func linkPreviewDisabled(_ params: FakeTelegramParams) -> Bool {
        if case .object(let fields)? = (try? params.structured("link_preview_options")) ?? nil, case .bool(true)? = fields["is_disabled"] {
            return true
        }
        return params.bool("disable_web_page_preview")
    }

    static func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }
}
