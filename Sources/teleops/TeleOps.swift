import ArgumentParser
import Foundation
import Logging
import TeleOpsApp

@main
struct TeleOps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teleops",
        abstract: "On-call responder: alerts in over REST, to chat, replies run on workers, all kept as scenarios.",
        subcommands: [Serve.self, Worker.self, AlertCommand.self, Scenarios.self, ConfigCommand.self])
}

/// Options shared by commands that read the configuration and the data directory.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (every key is optional).")
    var config: String?

    @Option(name: .long, help: "Data directory holding teleops.sqlite (default ./.teleops, or data_dir from the configuration).")
    var data: String?

    func load() throws -> TeleOpsConfig {
        var loaded = TeleOpsConfig()
        if let config {
            do {
                loaded = try ConfigLoader.load(path: config)
            } catch {
                throw ValidationError("configuration error: \(error.description)")
            }
        }
        if let data { loaded.dataDirectory = data }
        return loaded
    }
}

func makeLogger(_ label: String, level: Logger.Level) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    return Logger(label: label)
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The path of this executable, for spawning `teleops worker`.
func currentExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if count > 0 { return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return CommandLine.arguments[0]
}
