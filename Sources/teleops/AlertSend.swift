import ArgumentParser
import Foundation
import TeleOpsChat

struct AlertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert", abstract: "Send alerts to a controller.", subcommands: [Send.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "POST an alert file (or - for standard input) to /v1/alerts/SOURCE.")

        @Argument(help: "A JSON file with one alert or an array, or - to read standard input.")
        var file: String

        @Option(help: "The alert source (the payload format).")
        var source: String = "generic"

        @Option(help: "The controller's base URL.")
        var url: String = "http://127.0.0.1:8080"

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
            let response: HTTPResponse
            do {
                response = try await CurlHTTPClient().send(
                    method: "POST", url: target, headers: ["Content-Type": "application/json"], body: body)
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
    }
}
