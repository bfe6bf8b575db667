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

    static let bothPlatforms = """
        chat:
          telegram: {chat: "-1001234567890"}
          slack: {channel: C0123ABCDEF}
          routes:

        """

    @Test func readsRoutesInOrder() throws {
        let config = try ConfigLoader.parse(yaml: Self.bothPlatforms + """
                - name: database
                  match:
                    host: "db-*"
                    check: [postgres*, mysql*]
                    severity: [critical, Error]
                    labels: {team: db, env: [prod, staging]}
                    source: alertmanager
                  telegram: {chat: "-1009876543210", topic: 7}
                  slack: {channel: C0DBONCALL}
                - match: {severity: info}
                  telegram: {topic: 3}
            """, environment: Self.environment)
        let routes = config.chat.outbox.routing.routes
        #expect(routes.map(\.name) == ["database", "route 2"])
        #expect(routes[0].match == AlertMatch(
            sources: ["alertmanager"], hosts: ["db-*"], checks: ["postgres*", "mysql*"], severities: [.critical, .error],
            labels: ["team": ["db"], "env": ["prod", "staging"]]))
        #expect(routes[0].destinations == ["telegram": ChatDestination(chat: "-1009876543210", topic: "7"), "slack": ChatDestination(chat: "C0DBONCALL")])
        #expect(routes[1].destinations == ["telegram": ChatDestination(topic: "3")])
    }

    @Test(arguments: [
        ("- {match: {host: db-*}, telegram: {chat: \"-100\"}}\n- {name: route 1, match: {}, slack: {channel: C0DB}}",
         "route 'route 1' is defined twice"),
        ("- {match: {host: db-*}}", "chat.routes[0]: route 'route 1' says where on neither telegram nor slack"),
        ("- {telegram: {topic: 7}}", "chat.routes[0].match: is required"),
        ("- {match: {severity: urgent}, telegram: {topic: 7}}", "chat.routes[0].match.severity: unknown severity 'urgent'"),
        ("- {match: {hostname: db-1}, telegram: {topic: 7}}", "chat.routes[0].match.hostname: unknown key"),
        ("- {match: {host: []}, telegram: {topic: 7}}", "chat.routes[0].match.host: expected a pattern or a list of them"),
        ("- {match: {}, telegram: {topic: 0}}", "chat.routes[0].telegram.topic: 0 is out of range"),
        ("- {match: {}, telegram: {chat: \"#oncall\"}}", "chat.routes[0].telegram.chat:"),
        ("- {match: {}, telegram: {}}", "chat.routes[0].telegram: expected chat, topic or both"),
        ("- {match: {}, slack: {channel: \"#db\"}}", "chat.routes[0].slack.channel: expected a channel ID such as C0123ABCDEF"),
        ("- {match: {labels: [team]}, slack: {channel: C0DB}}", "chat.routes[0].match.labels: expected a mapping"),
    ])
    func routeErrorsSayWhereAndWhat(routes: String, expected: String) {
        let yaml = Self.bothPlatforms + routes.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n"
        #expect {
            try ConfigLoader.parse(yaml: yaml, file: "teleops.yaml", environment: Self.environment)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func aRouteCannotNameAPlatformThatIsNotConfigured() {
        #expect {
            try ConfigLoader.parse(yaml: """
                chat:
                  telegram: {chat: "-100"}
                  routes:
                    - {match: {host: db-*}, slack: {channel: C0DB}}
                """, file: "teleops.yaml", environment: Self.environment)
        } throws: { error in
            "\(error)".contains("chat.routes[0].slack: this route names Slack, but chat.slack is not configured")
        }
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
