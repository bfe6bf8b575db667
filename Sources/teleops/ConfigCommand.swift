import ArgumentParser
import TeleOpsApp

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the configuration.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a configuration file and print what it sets.")

        @OptionGroup var options: ConfigOptions

        func run() throws {
            let config = try options.load()
            print("""
                configuration OK
                  data:      \(config.databasePath)
                  http:      \(config.http.host):\(config.http.port) (bodies up to \(config.http.maxBodyBytes) bytes)
                  dispatch:  \(config.dispatch.endpoint), \(config.dispatch.localWorkers) local workers × \(config.dispatch.workerCapacity)
                  chat:      \(config.chat.describedPlatforms)
                  routes:    \(config.chat.outbox.routing.routes.isEmpty ? "none" : config.chat.outbox.routing.routes.map(\.summary).joined(separator: "; "))
                  console:   operator \(config.console.operatorID)
                  engineers: \(config.engineers.map(\.name).joined(separator: ", "))
                  actions:   \(config.actions.actions.map(\.usage).joined(separator: ", "))
                """)
        }
    }
}
