import ArgumentParser
import Foundation
import TeleOpsChat
import TeleOpsTesting

extension Bench {
    /// `teleops serve` with Telegram as its chat, against the fake Bot API server in this
    /// process: alert POST → `sendMessage` arriving at the fake, and a reply typed in the chat
    /// → the result message arriving, for an action running /bin/true on a worker. Arrival is
    /// the instant the fake received the request. Samples are spaced `chatSpacing` apart,
    /// because Telegram allows one message a second per chat and TeleOps paces itself to that.
    func telegramEndToEnd(scratch: URL) async throws -> (notify: Samples, reply: Samples) {
        let ana = FakeTelegramUser(id: 1_111_111, firstName: "Ana", username: "ana")
        return try await FakeTelegramServer.with { fake in
            fake.addChat(.privateChat(with: ana))
            let tokenFile = scratch.appendingPathComponent("telegram.token").path
            try fake.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokenFile)
            let config = scratch.appendingPathComponent("telegram.yaml").path
            try """
                data_dir: \(scratch.appendingPathComponent("telegram-data").path)
                http: {port: 0}
                dispatch: {endpoint: "tcp://127.0.0.1:*", local_workers: 2}
                chat:
                  telegram: {chat: "\(ana.id)", api_url: "\(fake.apiURL)", token_file: \(tokenFile), poll_timeout: 25s}
                engineers:
                  - {name: ana, telegram: "\(ana.id)", roles: [responder]}
                actions:
                  - {name: "true", argv: [/bin/true], timeout: 5s}
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let server = try RunningProcess(executable: teleops, arguments: ["serve", "--config", config, "--log-level", "notice"])
            defer { server.stop() }
            let listening = try await server.stderr.waitFor(what: "the server to listen", timeout: .seconds(60)) {
                $0.contains("listening on http://")
            }
            guard let range = listening.range(of: #"http://[0-9.]+:[0-9]+"#, options: .regularExpression) else {
                throw ValidationError("cannot read the port from: \(listening)")
            }
            let url = "\(listening[range])/v1/alerts/generic"
            let client = CurlHTTPClient()
            let clock = ContinuousClock()
            _ = try await fake.waitForRequest(method: "getUpdates", timeout: .seconds(30))

            var notify = Samples()
            var accepted = Samples()
            for index in 1...chatSamples {
                let body = Data(#"{"host":"bench-host","check":"check-\#(index)","severity":"warning","summary":"bench \#(index)","status":"firing"}"#.utf8)
                let seen = fake.activity.count
                let start = clock.now
                let response = try await client.send(method: "POST", url: url, headers: ["Content-Type": "application/json"], body: body)
                guard response.status == 202 else { throw ValidationError("POST answered \(response.status)") }
                accepted.add(clock.now - start)
                let message = try await fake.activity.waitFor(what: "announcement of #\(index)", from: seen, timeout: .seconds(30)) {
                    $0.text.hasPrefix("🟡 #\(index) ")
                }
                notify.add(message.arrival - start)
                try await Task.sleep(until: start + chatSpacing)
            }

            print(accepted.line("  (alert POST → 202 answered)"))
            var reply = Samples()
            for index in 0..<chatSamples {
                let seen = fake.activity.count
                let start = clock.now
                try fake.userTypes(chat: ana.id, from: ana, text: "#1 run true")
                let message = try await fake.activity.waitFor(what: "result \(index)", from: seen, timeout: .seconds(30)) {
                    $0.text.hasPrefix("#1 true on bench-host: exit 0")
                }
                reply.add(message.arrival - start)
                try await Task.sleep(until: start + chatSpacing)
            }
            server.signal(SIGTERM)
            _ = try await server.waitForExit()
            return (notify, reply)
        }
    }
}
