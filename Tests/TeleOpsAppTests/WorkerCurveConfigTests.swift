import Foundation
import Testing
import TeleOpsDispatch
@testable import TeleOpsApp

/// A directory with a controller key (`controller.key`, mode 0600) and a worker's public key.
struct CurveKeys {
    let directory: String
    let controller: CurveKeyPair
    let worker: CurveKeyPair

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-curve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        controller = try CurveKeyPair.generate()
        worker = try CurveKeyPair.generate()
        try CurveKeyFile.write(controller, to: secretKeyFile)
        try CurveKeyFile.write(worker, to: "\(directory)/worker.key")
    }

    var secretKeyFile: String { "\(directory)/controller.key" }

    /// The controller's secret key as written in its file, to check that no output contains it.
    func secretText() throws -> String {
        let text = try String(contentsOfFile: secretKeyFile, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("secret-key = ") })
        return String(line.dropFirst("secret-key = \"".count).dropLast())
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite struct WorkerCurveConfigTests {
    @Test func readsTheCurveSection() throws {
        let keys = try CurveKeys()
        defer { keys.remove() }
        let other = try CurveKeyPair.generate().publicKey
        let config = try ConfigLoader.parse(yaml: """
            dispatch:
              endpoint: tcp://0.0.0.0:7311
              curve:
                secret_key_file: \(keys.secretKeyFile)
                allowed_keys:
                  - "\(other.z85)"
                allowed_keys_file: \(keys.directory)/worker.key.pub
            """)
        #expect(config.dispatch.endpoint == "tcp://0.0.0.0:7311")
        #expect(config.dispatch.curve == BrokerCurve(keyPair: keys.controller, allowedKeys: [other, keys.worker.publicKey]))
    }

    @Test func aLoopbackControllerMayUseCurveWithOnlyItsLocalWorkers() throws {
        let keys = try CurveKeys()
        defer { keys.remove() }
        let config = try ConfigLoader.parse(yaml: "dispatch:\n  curve: {secret_key_file: \(keys.secretKeyFile)}\n")
        #expect(config.dispatch.endpoint == "tcp://127.0.0.1:7311")
        #expect(config.dispatch.curve?.allowedKeys.isEmpty == true)

        let (curve, local) = try LocalWorkerKeys.forController(config.dispatch, dataDirectory: keys.directory)
        let localKeys = try #require(local)
        #expect(curve?.allowedKeys == [localKeys.keyPair.publicKey], "the local workers' key is allowed in memory")
        #expect(localKeys.serverKey == keys.controller.publicKey)
        #expect(localKeys.secretKeyFile == "\(keys.directory)/local-workers.key")
        try localKeys.writeSecretKey()
        #expect(try CurveKeyFile.readSecretKey(at: localKeys.secretKeyFile) == localKeys.keyPair, "written with mode 0600")
        localKeys.removeSecretKey()
        #expect(!FileManager.default.fileExists(atPath: localKeys.secretKeyFile))
    }

    @Test(arguments: [
        "tcp://0.0.0.0:7311", "tcp://*:7311", "tcp://10.0.0.5:7311", "tcp://[::]:7311", "tcp://eth0:7311",
    ])
    func aNonLoopbackEndpointWithoutCurveIsRefused(endpoint: String) throws {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: "dispatch:\n  endpoint: \"\(endpoint)\"\n", file: "teleops.yaml")
        }
        #expect(error?.description == "teleops.yaml:2:13: dispatch.endpoint: '\(endpoint)' is not on loopback, and workers "
            + "off loopback must use CURVE: configure dispatch.curve with the controller's secret_key_file "
            + "(`teleops worker keygen --out controller.key` makes one) and the workers' public keys in allowed_keys "
            + "or allowed_keys_file (see docs/curve.md), or bind tcp://127.0.0.1:PORT")
    }

    @Test(arguments: ["tcp://127.0.0.1:7311", "tcp://[::1]:7311", "tcp://localhost:*", "ipc:///run/teleops.sock"])
    func localEndpointsNeedNoCurve(endpoint: String) throws {
        #expect(try ConfigLoader.parse(yaml: "dispatch:\n  endpoint: \"\(endpoint)\"\n").dispatch.curve == nil)
    }

    @Test func badCurveSettingsNameTheKey() throws {
        let keys = try CurveKeys()
        defer { keys.remove() }
        func problem(_ curve: String) -> String? {
            let error = #expect(throws: ConfigError.self) {
                try ConfigLoader.parse(yaml: "dispatch:\n  curve:\n\(curve)", file: "teleops.yaml")
            }
            return error?.description
        }
        #expect(problem("    allowed_keys: []\n") == "teleops.yaml:3:5: dispatch.curve.secret_key_file: is required")
        #expect(problem("    secret_key_file: \(keys.directory)/missing.key\n")
            == "teleops.yaml:3:22: dispatch.curve.secret_key_file: secret key file \(keys.directory)/missing.key does not "
            + "exist; create one with `teleops worker keygen --out \(keys.directory)/missing.key`")
        chmod(keys.secretKeyFile, 0o644)
        #expect(problem("    secret_key_file: \(keys.secretKeyFile)\n")
            == "teleops.yaml:3:22: dispatch.curve.secret_key_file: secret key file \(keys.secretKeyFile) is readable by "
            + "others (mode 0644); run chmod 600 \(keys.secretKeyFile)")
        chmod(keys.secretKeyFile, 0o600)
        // Unquoted, a key starting with '!' is a YAML tag, and the key is lost.
        let cut = problem("    secret_key_file: \(keys.secretKeyFile)\n    allowed_keys:\n      - !bcdefghijabcdefghijabcdefghijabcdefghij\n")
        #expect(cut?.contains("dispatch.curve.allowed_keys[0]: a worker key must be 40 Z85 characters, got 0; quote keys in YAML") == true, "\(cut ?? "")")
        #expect(problem("    secret_key_file: \(keys.secretKeyFile)\n    allowed_keys_file: \(keys.directory)/nothing\n")?
            .contains("dispatch.curve.allowed_keys_file: allowed keys file \(keys.directory)/nothing does not exist") == true)
        #expect(problem("    secret_key_file: \(keys.secretKeyFile)\n    allowed: []\n")?
            .contains("dispatch.curve.allowed: unknown key; expected one of: secret_key_file, allowed_keys, allowed_keys_file") == true)
        #expect(problem("    secret_key_file: \(keys.directory)/worker.key.pub\n")?.contains("this is a public key file") == true)
    }
}
