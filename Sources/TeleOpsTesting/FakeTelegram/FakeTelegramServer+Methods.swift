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

// MARK: What people do (the test's side)

extension FakeTelegramServer {
    /// Adds a chat the bot is a member of.
    public func addChat(_ chat: FakeTelegramChat) {
        state.withLock { $0.chats[chat.id] = chat }
    }

    /// Opens a topic in a forum chat; returns its `message_thread_id`.
    @discardableResult
    public func createTopic(in chatID: Int64, name: String) throws -> Int64 {
        try state.withLock { state in
            guard let chat = state.chat(chatID), chat.isForum else { throw FakeTelegramMisuse(description: "chat \(chatID) is not a forum the fake knows") }
            let id = state.nextMessageID(in: chatID)
            state.store(FakeTelegramMessage(
                id: id, chatID: chatID, from: options.bot, text: name, sentText: nil, parseMode: nil, threadID: id, replyTo: nil,
                keyboard: [], date: Self.unixNow(), arrival: .now, edits: 0, editDate: nil, linkPreviewDisabled: false, isTopicRoot: true))
            state.topics[chatID, default: []].insert(id)
            return id
        }
    }

    /// Upgrades group `chat` to supergroup `newID`: the supergroup gets the same title (its
    /// message ids start afresh), and calls for the old id answer 400 with `migrate_to_chat_id`.
    public func migrate(chat: Int64, to newID: Int64) {
        state.withLock { state in
            let old = state.chats[chat]
            state.migrated[chat] = newID
            if state.chats[newID] == nil {
                state.chats[newID] = .supergroup(id: newID, title: old?.title ?? "supergroup \(newID)")
            }
        }
    }

    /// The person in private chat `chat` blocks the bot: sends there answer 403.
    public func blockBot(inPrivateChat chat: Int64) {
        _ = state.withLock { $0.blocked.insert(chat) }
    }

    /// A person types `text` in `chat`, replying to message `replyTo` when given, in forum
    /// topic `topic` when given. Queues the `message` update.
    @discardableResult
    public func userTypes(
        chat chatID: Int64, from user: FakeTelegramUser, text: String, replyTo: Int64? = nil, topic: Int64? = nil
    ) throws -> FakeTelegramMessage {
        try post(chat: chatID, from: user, text: text, replyTo: replyTo, topic: topic, kind: "message")
    }

    /// Another bot posts in `chat` (the transport must not deliver it).
    @discardableResult
    public func otherBotPosts(chat chatID: Int64, text: String, bot: FakeTelegramUser = .otherBot) throws -> FakeTelegramMessage {
        try post(chat: chatID, from: bot, text: text, replyTo: nil, topic: nil, kind: "message")
    }

    /// A post in a channel (`channel_post` update).
    @discardableResult
    public func channelPost(chat chatID: Int64, text: String) throws -> FakeTelegramMessage {
        try post(chat: chatID, from: options.bot, text: text, replyTo: nil, topic: nil, kind: "channel_post")
    }

    /// The person who wrote message `messageID` changes its text (`edited_message` update).
    public func userEdits(chat chatID: Int64, messageID: Int64, text: String) throws {
        try state.withLock { state in
            guard var message = state.message(messageID, in: chatID), message.from.id != options.bot.id else {
                throw FakeTelegramMisuse(description: "no message \(messageID) by a person in chat \(chatID)")
            }
            message.text = text
            message.edits += 1
            message.editDate = Self.unixNow()
            state.store(message)
            enqueue("edited_message", [("edited_message", state.json(message))], in: &state)
        }
        wakeReceivers()
    }

    /// A person presses the button with `data` under the bot's message `messageID`. Queues the
    /// `callback_query` update; returns the query id (to be answered with answerCallbackQuery).
    @discardableResult
    public func userPresses(chat chatID: Int64, messageID: Int64, data: String, from user: FakeTelegramUser) throws -> String {
        let id = try state.withLock { state -> String in
            guard let message = state.message(messageID, in: chatID) else {
                throw FakeTelegramMisuse(description: "no message \(messageID) in chat \(chatID)")
            }
            guard message.keyboard.joined().contains(where: { $0.callbackData == data }) else {
                throw FakeTelegramMisuse(description: "message \(messageID) in chat \(chatID) has no button with callback_data '\(data)'")
            }
            state.lastCallbackID += 1
            let id = String(state.lastCallbackID) + "fake"
            state.callbackQueries[id] = false
            enqueue("callback_query", [("callback_query", .object([
                ("id", .string(id)), ("from", user.json), ("message", state.json(message)),
                ("chat_instance", .string(String(-4_356_722_348_923_948_562 &+ chatID))), ("data", .string(data)),
            ]))], in: &state)
            return id
        }
        wakeReceivers()
        return id
    }

    /// Queues any update (`{"my_chat_member": {…}}`); the fake adds the `update_id`, returned.
    @discardableResult
    public func injectUpdate(_ json: String) throws -> Int64 {
        guard case .object(let members) = try JSONParser.parse(Data(json.utf8)), let kind = members.keys.first(where: { $0 != "update_id" }) else {
            throw FakeTelegramMisuse(description: "an update is a JSON object with one field besides update_id")
        }
        let id = state.withLock { state in
            enqueue(kind, FakeJSON(.object(members.filter { $0.key != "update_id" })).objectMembers, in: &state)
        }
        wakeReceivers()
        return id
    }

    /// Whether callback query `id` was answered (nil: no such query).
    public func callbackQueryAnswered(_ id: String) -> Bool? {
        state.withLock { $0.callbackQueries[id] }
    }

    /// The messages in `chat`, oldest first (topic roots included).
    public func messages(in chatID: Int64) -> [FakeTelegramMessage] {
        state.withLock { $0.messages[chatID] ?? [] }
    }

    /// The bot's messages in `chat`, oldest first.
    public func botMessages(in chatID: Int64) -> [FakeTelegramMessage] {
        messages(in: chatID).filter { $0.from.id == options.bot.id && !$0.isTopicRoot }
    }

    public func message(_ id: Int64, in chatID: Int64) -> FakeTelegramMessage? {
        state.withLock { $0.message(id, in: chatID) }
    }

    /// Waits until the bot sent (or edited) a message whose visible text contains `needle`.
    @discardableResult
    public func waitForMessage(containing needle: String, in chatID: Int64? = nil, timeout: Duration = .seconds(10)) async throws -> FakeTelegramMessage {
        try await activity.waitFor(what: "a Telegram message containing '\(needle)'", timeout: timeout) { message in
            message.text.contains(needle) && (chatID == nil || message.chatID == chatID)
        }
    }

    private func post(
        chat chatID: Int64, from user: FakeTelegramUser, text: String, replyTo: Int64?, topic: Int64?, kind: String
    ) throws -> FakeTelegramMessage {
        let message = try state.withLock { state in
            guard let chat = state.chat(chatID), state.migrated[chatID] == nil else {
                throw FakeTelegramMisuse(description: "chat \(chatID) is not a chat the fake knows (or it was upgraded)")
            }
            if let replyTo, state.message(replyTo, in: chatID) == nil {
                throw FakeTelegramMisuse(description: "no message \(replyTo) in chat \(chatID) to reply to")
            }
            let thread = topic ?? replyTo.flatMap { state.message($0, in: chatID)?.threadID }
            if let topic, state.topics[chatID]?.contains(topic) != true {
                throw FakeTelegramMisuse(description: "no topic \(topic) in chat \(chatID)")
            }
            let message = FakeTelegramMessage(
                id: state.nextMessageID(in: chatID), chatID: chatID, from: user, text: text, sentText: nil, parseMode: nil,
                threadID: chat.isForum ? thread : nil, replyTo: replyTo ?? (chat.isForum ? thread : nil), keyboard: [],
                date: Self.unixNow(), arrival: .now, edits: 0, editDate: nil, linkPreviewDisabled: false, isTopicRoot: false)
            state.store(message)
            enqueue(kind, [(kind, state.json(message))], in: &state)
            return message
        }
        wakeReceivers()
        return message
    }
}

extension FakeJSON {
    var objectMembers: [(String, FakeJSON)] {
        if case .object(let members) = self { members } else { [] }
    }
}
