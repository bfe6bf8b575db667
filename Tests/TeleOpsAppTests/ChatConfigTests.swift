import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore
@testable import TeleOpsApp

@Suite struct ChatConfigTests {
    static let telegramToken = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-bs"
    static let environment = [
        "TELEOPS_TELEGRAM_TOKEN": telegramToken, "TELEOPS_SLACK_BOT_TOKEN": "xoxb-1234-5678-abcdefghijklmnop",
        "TELEOPS_SLACK_APP_TOKEN": "xapp-1-A111-222-abcdefabcdef",
    ]

    @Test func withoutChatTheConsoleIsTheOnlyChat() throws {
        let config = try ConfigLoader.parse(yaml: "", environment: Self.environment)
        #expect(config.chat.primary == .console)
        #expect(config.chat.telegram == nil && config.chat.slack == nil)
        #expect(config.chat.outbox.failover == nil)
        #expect(config.chat.describedPlatforms == "console")
    }

    @Test func readsTelegramSlackAndFailover() throws {
        let config = try ConfigLoader.parse(yaml: """
            chat:
              primary: telegram
              failover: {to: slack, after_failures: 5, retry_primary_after: 2m}
              give_up_after: 6h
              max_parts: 3
              telegram:
                chat: "-1001234567890"
                topic: 42
                poll_timeout: 10s
              slack:
                channel: C0123ABCDEF
            """, environment: Self.environment)
        #expect(config.chat.primary == .telegram)
        #expect(config.chat.telegram?.token == Self.telegramToken, "the token comes from the environment")
        #expect(config.chat.telegram?.chat == "-1001234567890")
        #expect(config.chat.telegram?.topic == 42)
        #expect(config.chat.telegram?.receive == .polling(timeout: .seconds(10)))
        #expect(config.chat.slack?.channel == "C0123ABCDEF")
        #expect(config.chat.slack?.receiveMode == .socketMode)
        #expect(config.chat.outbox.failover == FailoverPolicy(primary: "telegram", secondary: "slack", afterFailures: 5, retryPrimaryAfter: .seconds(120)))
        #expect(config.chat.outbox.giveUpAfter == .seconds(21_600))
        #expect(config.chat.outbox.maxParts == 3)
        #expect(config.chat.describedPlatforms == "telegram (primary), console, slack (failover)")
        #expect(!"\(config.chat.telegram!)".contains(Self.telegramToken), "settings never print the token")
    }

    @Test func aTokenFileMustNotBeReadableByEveryone() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Self.telegramToken.write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        let yaml = "chat:\n  telegram:\n    chat: \"-100\"\n    token_file: \(file)\n"
        #expect { try ConfigLoader.parse(yaml: yaml, file: "teleops.yaml", environment: [:]) } throws: { error in
            "\(error)".contains("readable by every user")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        #expect(try ConfigLoader.parse(yaml: yaml, environment: [:]).chat.telegram?.token == Self.telegramToken)
    }

    @Test(arguments: [
        ("chat:\n  telegram:\n    chat: \"-100\"\n", "chat.telegram: needs token: set TELEOPS_TELEGRAM_TOKEN"),
        ("chat:\n  primary: slack\n", "chat.primary: 'slack' is named but chat.slack is not configured"),
        ("chat:\n  primary: irc\n", "unknown chat platform 'irc'"),
        ("chat:\n  failover: {to: console}\n", "the failover transport must differ from the primary (console)"),
        ("chat:\n  telegram:\n    chat: \"-100\"\n    receive: carrier-pigeon\n", "expected polling or webhook"),
        ("chat:\n  telegram:\n    chat: \"-100\"\n    token: abc\n", "chat.telegram.token: unknown key"),
        ("chat:\n  slack:\n    channel: C0123ABCDEF\n    receive: events_api\n", "needs signing_secret"),
    ])
    func errorsSayWhatToDo(yaml: String, expected: String) {
        var environment = Self.environment
        if yaml.contains("needs token") || expected.contains("needs token") { environment["TELEOPS_TELEGRAM_TOKEN"] = nil }
        #expect {
            try ConfigLoader.parse(yaml: yaml, file: "teleops.yaml", environment: environment)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }
}
