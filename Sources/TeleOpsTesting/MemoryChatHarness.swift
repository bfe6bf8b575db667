import TeleOpsCore

/// `MemoryChatTransport` as a platform harness: the reference the transport conformance
/// suite is checked against.
public struct MemoryChatHarness: ChatPlatformHarness {
    public let memory: MemoryChatTransport
    public var transport: any ChatTransport { memory }
    public let chat = "chat"

    public init(maxMessageLength: Int = 4096) {
        memory = MemoryChatTransport(name: "memory", maxMessageLength: maxMessageLength)
    }

    public func whileReceiving(_ body: () async throws -> Void) async throws { try await body() }

    public func botMessages() async -> [PlatformMessage] {
        let edits = memory.edits.all
        return memory.posts.all.map { post in
            let mine = edits.filter { $0.ref == post.ref }
            return PlatformMessage(
                id: post.ref.messageID, text: mine.last?.text ?? post.message.text, replyTo: post.message.replyTo?.messageID,
                buttons: mine.last?.buttons ?? post.message.buttons, edits: mine.count)
        }
    }

    public func userTypes(_ text: String, userID: String, replyTo: String?) async throws -> String {
        memory.type(text, from: userID, replyTo: replyTo.map { MessageRef(transport: memory.name, chat: chat, messageID: $0) }).messageID
    }

    public func userPresses(command: String, on messageID: String, userID: String) async throws {
        let ref = MessageRef(transport: memory.name, chat: chat, messageID: messageID)
        let label = memory.posts.all.first { $0.ref == ref }?.message.buttons.first { $0.command == command }?.label ?? command
        memory.press(ChatButton(label: label, command: command), on: ref, from: userID)
    }

    public func otherBotPosts(_ text: String) async throws {}

    public func failNext(_ failure: PlatformFailure, count: Int) async {
        let chatFailure = switch failure {
        case .rateLimited(let seconds): ChatFailure(reason: .rateLimited, message: "429", retryAfter: .seconds(seconds))
        case .serverError: ChatFailure(reason: .serverError, message: "500")
        case .rejected(let text): ChatFailure(reason: .clientError, message: text)
        }
        memory.failNextPosts(with: Array(repeating: chatFailure, count: count))
    }
}
