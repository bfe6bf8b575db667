import ArgumentParser
import Foundation
import TeleOpsApp
import TeleOpsCore

struct AlertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert", abstract: "Send alerts to a controller.", subcommands: [Send.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "POST an alert file (or - for standard input) to /v1/alerts/SOURCE.",
            discussion: """
                As a Sensu pipe handler: command `teleops alert send --source sensu -` (the event arrives on \
                standard input). The token, when the source requires one, comes from --token-file or the \
                TELEOPS_TOKEN environment variable, never from the command line.

                Sensu does not run a failed handler again, so this command retries for --retry-for when the \
                controller cannot be reached or answers 408, 429, 502, 503 or 504: after the answer's \
                Retry-After, else after a growing wait (up to 5 s). Each retry and its reason go to standard \
                error. Other answers are final. Exit status 0 once the controller accepted the alerts, 1 when \
                it refused them or --retry-for ran out.
                """)

        @Argument(help: "A JSON file with one alert or an array, or - to read standard input.")
        var file: String

        @Option(help: "The alert source (the payload format).")
        var source: String = "generic"

        @Option(help: "The controller's base URL.")
        var url: String = "http://127.0.0.1:8080"

        @Option(help: "A file holding the source's bearer token (default: $TELEOPS_TOKEN).")
        var tokenFile: String?

        @Option(help: "How long to keep retrying a controller that is unreachable or overloaded (30s, 2m; 0: no retries).")
        var retryFor: String = "30s"

        func validate() throws {
            _ = try retryDuration()
        }

        func run() async throws {
            let body: Data
            if file == "-" {
                body = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("cannot read \(file)")
                }
                body = data
            }
            let target = url.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/v1/alerts/\(source)"
            var headers = ["Content-Type": source == "statsd" ? "text/plain" : "application/json"]
            if let token = try token() { headers["Authorization"] = "Bearer \(token)" }
            let poster = AlertPoster(retryFor: try retryDuration())
            do {
                let answer = try await poster.post(body, to: target, headers: headers) { retry in
                    FileHandle.standardError.write(Data("teleops alert send: \(retry)\n".utf8))
                }
                print(answer.body)
            } catch {
                FileHandle.standardError.write(Data("teleops alert send: \(error.description)\n".utf8))
                throw ExitCode(1)
            }
        }

        /// `--retry-for` as a duration: `30s`, `2m`, `1m30s`, or `0`.
        private func retryDuration() throws -> Duration {
            if ["0", "0s"].contains(retryFor.trimmingCharacters(in: .whitespaces)) { return .zero }
            guard let duration = ChatDuration.parse(retryFor) else {
                throw ValidationError("--retry-for: expected a duration such as 30s, 2m or 0, found '\(retryFor)'")
            }
            return duration
        }

        private func token() throws -> String? {
            if let tokenFile {
                guard let data = FileManager.default.contents(atPath: tokenFile) else {
                    throw ValidationError("cannot read the token file \(tokenFile)")
                }
                return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return ProcessInfo.processInfo.environment["TELEOPS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        }
    }
}
