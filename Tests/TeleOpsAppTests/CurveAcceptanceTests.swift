import Foundation
import Testing
import TeleOpsDispatch
import TeleOpsTesting

/// Black-box CURVE: the real binary makes keys, the controller runs with `dispatch.curve`, its
/// local workers still run commands, and `teleops worker` processes with an allowed and an
/// unknown key connect to it.
@Suite(.serialized) struct CurveAcceptanceTests {
    /// Runs `teleops ARGS` to completion: (exit status, stdout, stderr).
    static func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try RunningProcess(executable: TeleOpsServer.executable, arguments: arguments)
        let status = try await process.waitForExit()
        try await process.waitForOutputEnd()
        return (status, process.stdout.all.joined(separator: "\n"), process.stderr.all.joined(separator: "\n"))
    }

    /// A Z85 key may begin with `-`: the controller passes it to its local workers glued to the
    /// option (`--server-key=KEY`), and the worker reads it as the key, not as an option. (A
    /// controller key beginning with `-` once kept every local worker from starting.)
    @Test func aServerKeyBeginningWithADashIsReadAsTheKey() async throws {
        let keys = try CurveKeys()
        defer { keys.remove() }
        let path = "\(keys.directory)/worker.key"
        let dashKey = "-" + String(repeating: "0", count: 39)
        #expect(try CurveKeyFile.publicKey(fromKeyOrFile: dashKey, what: "--server-key").z85 == dashKey, "a valid key")
        let worker = try RunningProcess(executable: TeleOpsServer.executable, arguments: [
            "worker", "--connect", "tcp://127.0.0.1:9", "--server-key=\(dashKey)", "--secret-key-file=\(path)",
            "--log-level", "info",
        ])
        defer { worker.stop() }
        _ = try await worker.stderr.waitFor(what: "the worker to start connecting", timeout: .seconds(20)) {
            $0.contains("worker connecting")
        }
        #expect(!worker.stderr.all.contains { $0.contains("Missing value") })
    }

    @Test func keygenWritesAKeyPairAndPrintsThePublicKey() async throws {
        let keys = try CurveKeys()
        defer { keys.remove() }
        let path = "\(keys.directory)/web-1.key"
        let made = try await Self.run(["worker", "keygen", "--out", path])
        #expect(made.status == 0, "\(made.stderr)")
        let pair = try CurveKeyFile.readSecretKey(at: path)
        #expect(made.stdout == pair.publicKey.z85)
        #expect(try CurveKeyFile.readPublicKey(at: path + ".pub") == pair.publicKey)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(path + ".pub", &info) == 0 && info.st_mode & 0o777 == 0o644)

        let again = try await Self.run(["worker", "keygen", "--out", path])
        #expect(again.status != 0)
        #expect(again.stderr.contains("\(path) already exists; pass --force to replace it"))
        #expect(try CurveKeyFile.readSecretKey(at: path) == pair)
        let forced = try await Self.run(["worker", "keygen", "--out", path, "--force"])
        #expect(forced.status == 0)
        #expect(try CurveKeyFile.readSecretKey(at: path) != pair)
    }

    @Test func theWorkerCommandExplainsMissingOrHalfCurveSettings() async throws {
        let keys = try CurveKeys()
        defer { keys.remove() }
        let remote = try await Self.run(["worker", "--connect", "tcp://192.0.2.1:7311", "--host", "web-1"])
        #expect(remote.status != 0)
        #expect(remote.stderr.contains("'tcp://192.0.2.1:7311' is not on loopback, and workers off loopback must use CURVE: pass --server-key"))
        // Glued: a Z85 key can begin with '-' (docs/curve.md).
        let half = try await Self.run(["worker", "--connect", "tcp://192.0.2.1:7311", "--server-key=" + keys.controller.publicKey.z85])
        #expect(half.stderr.contains("--server-key needs --secret-key-file"))
        let otherHalf = try await Self.run(["worker", "--connect", "tcp://192.0.2.1:7311", "--secret-key-file", keys.secretKeyFile])
        #expect(otherHalf.stderr.contains("--secret-key-file needs --server-key"))
        let short = try await Self.run(["worker", "--connect", "tcp://192.0.2.1:7311", "--server-key", "short-key-12",
                                        "--secret-key-file", keys.secretKeyFile])
        #expect(short.stderr.contains("server key must be 40 Z85 characters, got 12"))
        chmod(keys.secretKeyFile, 0o644)
        let open = try await Self.run(["worker", "--connect", "tcp://192.0.2.1:7311", "--server-key=" + keys.controller.publicKey.z85,
                                       "--secret-key-file", keys.secretKeyFile])
        #expect(open.stderr.contains("is readable by others (mode 0644); run chmod 600 \(keys.secretKeyFile)"))
        #expect(!open.stderr.contains(try keys.secretText()))
    }

    @Test func aCurveControllerRunsLocalWorkersAndOnlyAllowedRemoteOnes() async throws {
        let keys = try CurveKeys()
        defer { keys.remove() }
        let stranger = "\(keys.directory)/stranger.key"
        try CurveKeyFile.write(try CurveKeyPair.generate(), to: stranger)
        // Indented: these keys continue the test server's `dispatch:` section.
        let server = try await TeleOpsServer(extraYAML: """
              curve:
                secret_key_file: \(keys.secretKeyFile)
                allowed_keys_file: \(keys.directory)/worker.key.pub
            """)
        defer { server.stop() }

        // Local workers: a key made at start, its secret in a 0600 file only while the server runs.
        let localKey = "\(server.dataDirectory)/local-workers.key"
        // The services start together: HTTP may answer before the local workers' service wrote it.
        try await withDeadline(.seconds(30), what: "the local workers' key file") {
            while !FileManager.default.fileExists(atPath: localKey) { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(try CurveKeyFile.readSecretKey(at: localKey).publicKey != keys.worker.publicKey)
        let posted = try await server.post(sample: "generic-disk.json")
        #expect(posted.status == 202)
        try await server.console("#1 CRITICAL web-1")
        server.process.send("run disk")
        try await server.console("#1 disk on web-1: exit 0")

        let listening = try await server.process.stderr.waitFor(what: "the broker's endpoint") { $0.contains("broker listening") }
        let endpoint = try #require(listening.firstMatch(of: /endpoint=(tcp:\/\/127\.0\.0\.1:\d+)/)?.1)
        let serverKeyFile = keys.secretKeyFile + ".pub"

        let allowed = try RunningProcess(executable: TeleOpsServer.executable, arguments: [
            "worker", "--connect", String(endpoint), "--id", "remote-web", "--host", "web-9",
            "--server-key", serverKeyFile, "--secret-key-file", "\(keys.directory)/worker.key",
        ])
        defer { allowed.stop() }
        _ = try await allowed.stderr.waitFor(what: "the allowed worker to register") { $0.contains("worker registered") }

        let refused = try RunningProcess(executable: TeleOpsServer.executable, arguments: [
            "worker", "--connect", String(endpoint), "--id", "stranger", "--host", "web-9",
            "--server-key", serverKeyFile, "--secret-key-file", stranger,
        ])
        defer { refused.stop() }
        let strangerKey = try CurveKeyFile.readPublicKey(at: stranger + ".pub")
        let line = try await server.process.stderr.waitFor(what: "the controller's refusal") {
            $0.contains("worker refused: CURVE key not allowed")
        }
        #expect(line.contains("public_key=\(strangerKey.z85)"))
        _ = try await refused.stderr.waitFor(what: "the refused worker's diagnosis") {
            $0.contains("the controller refused this worker's CURVE key")
        }
        #expect(refused.stderr.all.allSatisfy { !$0.contains("worker registered") })
        #expect(server.process.stderr.all.allSatisfy { !$0.contains("worker=stranger") })

        server.process.signal(SIGTERM)
        #expect(try await server.process.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: localKey), "the local workers' secret key is removed at exit")
        let everything = (server.process.stderr.all + server.process.stdout.all).joined(separator: "\n")
        #expect(!everything.contains(try keys.secretText()), "no secret key in the logs")
    }
}
