import Testing
import TeleOpsChat
import TeleOpsCore

@Suite struct SlackSettingsTests {
    let valid = SlackSettings(botToken: "xoxb-1-secretpart", appToken: "xapp-1-A1-secretpart", channel: "C0123ABCDEF")

    @Test func defaultsAreSlacks() throws {
        try valid.validate()
        #expect(valid.apiURL == "https://slack.com/api")
        #expect(valid.receiveMode == .socketMode)
        #expect(valid.limits.maxMessageLength == 4000)
        #expect(valid.limits.perChat == [ChatRate(1, per: .seconds(1))])
        #expect(valid.limits.global == [ChatRate(300, per: .seconds(60))])
        #expect(SlackSettings.replayWindow == .seconds(300))
    }

    @Test func descriptionsNeverShowSecrets() {
        var settings = valid
        settings.signingSecret = "signing-secretpart"
        for text in [settings.description, settings.debugDescription, "\(settings)", String(reflecting: settings)] {
            #expect(!text.contains("secretpart"), "\(text)")
            #expect(text.contains("xoxb-<redacted>"))
            #expect(text.contains("C0123ABCDEF"))
        }
    }

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var change: @Sendable (inout SlackSettings) -> Void
        var field: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no bot token", change: { $0.botToken = "" }, field: "bot_token"),
        Case(name: "a user token", change: { $0.botToken = "xoxp-1-2" }, field: "bot_token"),
        Case(name: "the app token as bot token", change: { $0.botToken = "xapp-1-2" }, field: "bot_token"),
        Case(name: "no channel", change: { $0.channel = "" }, field: "channel"),
        Case(name: "a channel name", change: { $0.channel = "#oncall" }, field: "channel"),
        Case(name: "Socket Mode without app token", change: { $0.appToken = nil }, field: "app_token"),
        Case(name: "a bot token as app token", change: { $0.appToken = "xoxb-1" }, field: "app_token"),
        Case(name: "Events API without signing secret", change: { $0.receiveMode = .eventsAPI }, field: "signing_secret"),
        Case(name: "no scheme", change: { $0.apiURL = "slack.com/api" }, field: "api_url"),
        Case(name: "zero timeout", change: { $0.requestTimeout = .zero }, field: "request_timeout"),
        Case(name: "backoff upside down", change: { $0.reconnectBackoff = Backoff(initial: .seconds(5), maximum: .seconds(1)) },
             field: "reconnect_backoff"),
    ]

    @Test(arguments: cases) func problemsNameTheField(_ problem: Case) {
        var settings = valid
        problem.change(&settings)
        #expect(settings.problems.map(\.field) == [problem.field])
        #expect(throws: ChatSettingsError.self) { try settings.validate() }
        for error in settings.problems {
            #expect(!error.description.contains("secretpart"))
            #expect(error.description.hasPrefix("slack.\(problem.field): "))
        }
    }

    @Test func eventsAPIDoesNotNeedTheAppToken() throws {
        var settings = valid
        settings.receiveMode = .eventsAPI
        settings.appToken = nil
        settings.signingSecret = "s"
        try settings.validate()
    }
}
