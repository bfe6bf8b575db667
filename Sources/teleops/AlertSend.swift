import ArgumentParser
import Foundation
import TeleOpsChat

struct AlertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert", abstract: "Send alerts to a controller.", subcommands: [Send.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "POST an alert file (or - for standard input) to /v1/alerts/SOURCE.",
            discussion: """
                As a Sensu pipe handler: command `teleops alert send --source sensu -` (the event arrives on
                standard input). The token, when the source requires one, comes from --token-file or the
                TELEOPS_TOKEN environment variable, never from the command line.
                """)

        @Argument(help: "A JSON file with one alert or an array, or - to read standard input.")
        var file: String

        @Option(help: "The alert source (the payload format).")
        var source: String = "generic"

        @Option(help: "The controller's base URL.")
        var url: String = "http://127.0.0.1:8080"

        @Option(help: "A file holding the source's bearer token (default: $TELEOPS_TOKEN).")
        var tokenFile: String?

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
            let response: HTTPResponse
            do {
                response = try await CurlHTTPClient().send(method: "POST", url: target, headers: headers, body: body)
            } catch {
                throw ValidationError("could not reach the controller: \(error) (is `teleops serve` running?)")
            }
            let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard (200..<300).contains(response.status) else {
                FileHandle.standardError.write(Data("HTTP \(response.status): \(text)\n".utf8))
                throw ExitCode(1)
            }
            print(text)
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
