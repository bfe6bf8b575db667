import ArgumentParser
import Foundation
import Logging
import TeleOpsApp

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the controller: HTTP intake, scenario store, local workers, chat.",
        discussion: "With no configuration: HTTP on 127.0.0.1:8080, SQLite under ./.teleops, two local workers, console chat (type replies on standard input).")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let config = try options.load()
        let logger = makeLogger("teleops", level: logLevel)
        let controller: Controller
        do {
            controller = try buildController(config: config, workerExecutable: currentExecutable(), logger: logger) { port in
                logger.notice("TeleOps is listening on http://\(config.http.host):\(port) (data: \(config.databasePath), local workers: \(config.dispatch.localWorkers), chat: \(config.chat.describedPlatforms))")
            }
        } catch {
            throw ValidationError("cannot start: \(error)")
        }
        try await controller.group.run()
    }
}
