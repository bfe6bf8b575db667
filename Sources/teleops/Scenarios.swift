import ArgumentParser
import Foundation
import TeleOpsApp
import TeleOpsCore
import TeleOpsSQLite

struct Scenarios: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the scenario log (safe while the server runs).", subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List scenarios, newest first.")

        @OptionGroup var options: ConfigOptions

        @Option(help: "Only scenarios with this status: open, acknowledged, resolved.")
        var status: String?

        @Option(help: "Only scenarios for this host.")
        var host: String?

        @Option(help: "At most this many.")
        var limit: Int = 50

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            var query = ScenarioQuery(host: host, limit: limit)
            if let status {
                guard let parsed = ScenarioStatus(rawValue: status) else {
                    throw ValidationError("--status must be one of: open, acknowledged, resolved")
                }
                query.status = parsed
            }
            let store = try openStore(options)
            let scenarios = try await store.scenarios(query)
            if json {
                print(try ScenarioReport.json(scenarios))
            } else if scenarios.isEmpty {
                print("No scenarios yet.")
            } else {
                scenarios.forEach { print(ScenarioReport.listLine($0)) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one scenario and its whole timeline.")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The scenario number (with or without #).")
        var id: String

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            guard let number = Int64(id.trimmingCharacters(in: CharacterSet(charactersIn: "#"))) else {
                throw ValidationError("'\(id)' is not a scenario number")
            }
            let store = try openStore(options)
            guard let scenario = try await store.scenario(id: number) else {
                throw ValidationError("there is no scenario #\(number)")
            }
            let events = try await store.events(of: number)
            print(json ? try ScenarioReport.json(ScenarioReport.Detail(scenario: scenario, events: events))
                       : ScenarioReport.timeline(scenario, events: events))
        }
    }
}

private func openStore(_ options: ConfigOptions) throws -> SQLiteScenarioStore {
    let config = try options.load()
    guard FileManager.default.fileExists(atPath: config.databasePath) else {
        throw ValidationError("no scenario store at \(config.databasePath); start `teleops serve` first, or pass --data DIR")
    }
    return try SQLiteScenarioStore(path: config.databasePath)
}
