import Foundation
import Testing
import TeleOpsTesting

/// `teleops config check`: the real binary on a configuration file prints what it sets, routes
/// included, and names the key of a mistake.
@Suite struct ConfigCheckCLITests {
    static func check(_ yaml: String) async throws -> (status: Int32, stdout: String, stderr: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-check-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["TELEOPS_TELEGRAM_TOKEN"] = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-bs"
        let process = try RunningProcess(executable: TeleOpsServer.executable, arguments: ["config", "check", "--config", file],
                                         environment: environment)
        let status = try await process.waitForExit()
        try await process.waitForOutputEnd()
        return (status, process.stdout.all.joined(separator: "\n"), process.stderr.all.joined(separator: "\n"))
    }

    @Test func printsTheChatsAndRoutes() async throws {
        let result = try await Self.check("""
            chat:
              telegram: {chat: "-1001234567890", topic: 42}
              routes:
                - name: database
                  match: {host: "db-*", severity: [critical, error]}
                  telegram: {topic: 7}
            """)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("configuration OK"))
        #expect(result.stdout.contains("chat:      telegram (primary), console"))
        #expect(result.stdout.contains("routes:    database (host db-*, severity error|critical) → telegram topic 7"))
    }

    @Test func aMistakeIsNamedByFileLineAndKey() async throws {
        let result = try await Self.check("""
            chat:
              telegram: {chat: "-1001234567890"}
              routes:
                - {match: {severity: urgent}, telegram: {topic: 7}}
            """)
        #expect(result.status != 0)
        #expect(result.stderr.contains(":4:") && result.stderr.contains("chat.routes[0].match.severity: unknown severity 'urgent'"),
                "\(result.stderr)")
    }
}
