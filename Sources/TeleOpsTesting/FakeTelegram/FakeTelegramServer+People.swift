import Foundation
import TeleOpsCore

// The test's side: chats, people typing, editing and pressing buttons, other bots, and what
// the bot posted.
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
