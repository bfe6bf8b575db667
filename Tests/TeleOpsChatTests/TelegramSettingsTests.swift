import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore

@Suite struct TelegramSettingsTests {
    static let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

    @Test func defaultsAreTelegramsAndValid() throws {
        let settings = TelegramSettings(token: Self.token, chat: "-1001234567890")
        try settings.validate()
        #expect(settings.apiURL == "https://api.telegram.org")
        #expect(settings.receive == .polling(timeout: .seconds(25)))
        #expect(settings.topic == nil)
        try TelegramSettings(token: Self.token, chat: "@oncall_alerts").validate()
    }

    @Test(arguments: [
        ("token", changed { s in s.token = "not a token" }),
        ("token", changed { s in s.token = "123:abc/def" }),
        ("chat", changed { s in s.chat = "oncall" }),
        ("chat", changed { s in s.chat = "" }),
        ("api_url", changed { s in s.apiURL = "api.telegram.org" }),
        ("topic", changed { s in s.topic = 0 }),
        ("poll_timeout", changed { s in s.receive = .polling(timeout: .seconds(60)) }),
        ("poll_timeout", changed { s in s.receive = .polling(timeout: .milliseconds(1500)) }),
        ("webhook_url", changed { s in s.receive = .webhook(url: "http://teleops.example.com/v1/chat/telegram", secret: "abc") }),
        ("webhook_secret", changed { s in s.receive = .webhook(url: "https://teleops.example.com/t", secret: "") }),
        ("webhook_secret", changed { s in s.receive = .webhook(url: "https://teleops.example.com/t", secret: "has space") }),
        ("webhook_secret", changed { s in s.receive = .webhook(url: "https://teleops.example.com/t", secret: String(repeating: "a", count: 257)) }),
        ("request_timeout", changed { s in s.requestTimeout = .zero }),
    ])
    func invalidSettingsNameTheirField(field: String, settings: TelegramSettings) {
        let error = #expect(throws: ChatSettingsError.self) { try settings.validate() }
        #expect(error?.field == field)
        #expect(error?.description.hasPrefix("telegram.\(field): ") == true)
        #expect(error?.description.contains(Self.token) == false)
    }

    static func changed(_ change: (inout TelegramSettings) -> Void) -> TelegramSettings {
        var settings = TelegramSettings(token: token, chat: "-1001234567890")
        change(&settings)
        return settings
    }

    @Test func aSecretOf256AllowedCharactersIsValid() throws {
        var settings = TelegramSettings(token: Self.token, chat: "-1001234567890")
        settings.receive = .webhook(url: "https://teleops.example.com/v1/chat/telegram", secret: String(repeating: "A-z_9", count: 51) + "x")
        try settings.validate()
    }

    @Test func descriptionsNeverShowTheTokenOrTheSecret() {
        var settings = TelegramSettings(token: Self.token, chat: "-1001234567890")
        settings.receive = .webhook(url: "https://teleops.example.com/v1/chat/telegram", secret: "webhook-secret-value")
        for text in [settings.description, settings.debugDescription, "\(settings)", String(reflecting: settings)] {
            #expect(!text.contains(Self.token))
            #expect(!text.contains("webhook-secret-value"))
            #expect(text.contains("<redacted>"))
        }
    }

    @Test func theTokenComesFromAFileOrTheEnvironment() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("telegram-token-\(UUID().uuidString)")
        try Data("  \(Self.token)\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try TelegramSettings.loadToken(file: file.path, environment: [:]) == Self.token)
        #expect(try TelegramSettings.loadToken(file: nil, environment: ["TELEOPS_TELEGRAM_TOKEN": Self.token]) == Self.token)
        let missing = #expect(throws: ChatSettingsError.self) { try TelegramSettings.loadToken(file: nil, environment: [:]) }
        #expect(missing?.message.contains("TELEOPS_TELEGRAM_TOKEN") == true)
        #expect(throws: ChatSettingsError.self) { try TelegramSettings.loadToken(file: "/nonexistent/token", environment: [:]) }
    }
}
