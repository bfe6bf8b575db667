import Foundation

/// Everything the fake holds, behind one lock.
struct FakeTelegramState {
    var chats: [Int64: FakeTelegramChat] = [:]
    /// Group id → supergroup id, once upgraded.
    var migrated: [Int64: Int64] = [:]
    /// Private chats whose person blocked the bot.
    var blocked: Set<Int64> = []
    /// Per chat, in id order; message ids in a chat count up from 1, so `id - 1` is the index.
    var messages: [Int64: [FakeTelegramMessage]] = [:]
    /// Forum chat → its topics (the id of each topic's first message).
    var topics: [Int64: Set<Int64>] = [:]

    /// Updates not confirmed yet (by a `getUpdates` offset or a 2xx from the webhook).
    var updates: [PendingUpdate] = []
    var lastUpdateID: Int64
    /// Update types that are queued; nil means Telegram's default (all but `chat_member`,
    /// `message_reaction`, `message_reaction_count`).
    var allowedUpdates: Set<String>?

    var polls: [Int: Poll] = [:]
    var activePoll: Int?
    var lastPollID = 0
    /// Telegram answers at most one 409 at once every few seconds; later ones wait for this.
    var nextConflictAnswer: ContinuousClock.Instant?

    var webhook: Webhook?
    /// Callback query id → whether it was answered.
    var callbackQueries: [String: Bool] = [:]
    var lastCallbackID: Int64 = 4_382_000_000

    var failures: [(failure: FakeTelegramFailure, methods: Set<String>)] = []
    var floodControl: FakeTelegramFloodControl?
    var buckets: [String: TokenBucket] = [:]
    var stopping = false

    init(firstUpdateID: Int64) {
        lastUpdateID = firstUpdateID - 1
    }

    struct PendingUpdate {
        var id: Int64
        var kind: String
        /// The update without `update_id`, which is added when it is sent.
        var payload: FakeJSON

        var json: FakeJSON {
            guard case .object(let members) = payload else { return payload }
            return .object([("update_id", .int(id))] + members)
        }
    }

    enum PollEnd: Sendable {
        case updatesAvailable, timedOut, conflict(String), shutdown
    }

    struct Poll {
        var continuation: CheckedContinuation<PollEnd, Never>?
        var end: PollEnd?
    }

    struct Webhook {
        var url: String
        var secret: String?
        var lastErrorDate: Int64?
        var lastErrorMessage: String?
        var maxConnections = 40
    }

    static let defaultUpdateKinds: Set<String> = [
        "message", "edited_message", "channel_post", "edited_channel_post", "callback_query", "my_chat_member",
    ]

    // MARK: Chats and messages

    func chat(_ id: Int64) -> FakeTelegramChat? { chats[id] }

    func chat(username: String) -> FakeTelegramChat? {
        let name = username.dropFirst().lowercased()
        return chats.values.first { $0.username?.lowercased() == name }
    }

    func message(_ id: Int64, in chat: Int64) -> FakeTelegramMessage? {
        guard let list = messages[chat], id >= 1, id <= Int64(list.count) else { return nil }
        return list[Int(id - 1)]
    }

    mutating func store(_ message: FakeTelegramMessage) {
        let index = Int(message.id - 1)
        if index < messages[message.chatID, default: []].count {
            messages[message.chatID]![index] = message
        } else {
            messages[message.chatID, default: []].append(message)
        }
    }

    func nextMessageID(in chat: Int64) -> Int64 { Int64(messages[chat]?.count ?? 0) + 1 }

    /// A Message object as the Bot API returns it.
    func json(_ message: FakeTelegramMessage, withReply: Bool = true) -> FakeJSON {
        var members: [(String, FakeJSON)] = [("message_id", .int(message.id))]
        let chat = chats[message.chatID] ?? FakeTelegramChat(id: message.chatID, kind: .group)
        if let thread = message.threadID, chat.isForum {
            members.append(("message_thread_id", .int(thread)))
        }
        members.append(("from", message.from.json))
        members.append(("chat", chat.json))
        members.append(("date", .int(message.date)))
        if let editDate = message.editDate { members.append(("edit_date", .int(editDate))) }
        if message.threadID != nil, chat.isForum { members.append(("is_topic_message", .bool(true))) }
        if withReply, let replyID = message.replyTo, let replied = self.message(replyID, in: message.chatID) {
            members.append(("reply_to_message", json(replied, withReply: false)))
        }
        if message.isTopicRoot {
            members.append(("forum_topic_created", .object([("name", .string(message.text)), ("icon_color", .int(7_322_096))])))
        } else {
            members.append(("text", .string(message.text)))
        }
        if !message.keyboard.isEmpty {
            members.append(("reply_markup", .object([("inline_keyboard", .array(message.keyboard.map { .array($0.map(\.json)) }))])))
        }
        return .object(members)
    }

    // MARK: Flood control

    /// Nil when the call may pass (its tokens are taken), else the seconds to wait.
    mutating func floodWait(chat: FakeTelegramChat, now: ContinuousClock.Instant) -> Int? {
        guard let control = floodControl else { return nil }
        var keys: [(String, Double, Double)] = [
            ("chat:\(chat.id)", Double(control.chatBurst), control.chatPerSecond),
            ("global", Double(control.globalPerSecond), Double(control.globalPerSecond)),
        ]
        if chat.kind == .group || chat.kind == .supergroup {
            keys.append(("group:\(chat.id)", Double(control.groupPerMinute), Double(control.groupPerMinute) / 60))
        }
        var wait = 0.0
        for (key, capacity, rate) in keys {
            var bucket = buckets[key] ?? TokenBucket(tokens: capacity, capacity: capacity, rate: rate, last: now)
            bucket.refill(now: now)
            buckets[key] = bucket
            if bucket.tokens < 1 { wait = max(wait, (1 - bucket.tokens) / bucket.rate) }
        }
        if wait > 0 { return max(1, Int(wait.rounded(.up))) }
        for (key, _, _) in keys { buckets[key]!.tokens -= 1 }
        return nil
    }
}

struct TokenBucket {
    var tokens: Double
    var capacity: Double
    /// Tokens per second.
    var rate: Double
    var last: ContinuousClock.Instant

    mutating func refill(now: ContinuousClock.Instant) {
        let elapsed = (now - last) / .seconds(1)
        tokens = min(capacity, tokens + elapsed * rate)
        last = now
    }
}
