import ArgumentParser
import Foundation
import TeleOpsDispatch

/// `teleops worker keygen --out PATH [--force]`: writes a CURVE key pair and prints the public key.
struct WorkerKeygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: PATH (the secret key, mode 0600) and PATH.pub (the public key); print the public key.",
        discussion: """
            For a worker: keep PATH on the worker's host (--secret-key-file) and add the printed key to the \
            controller's dispatch.curve.allowed_keys. For the controller: PATH is dispatch.curve.secret_key_file, \
            and PATH.pub (or the printed key) is every worker's --server-key. See docs/curve.md.
            """)

    @Option(help: "Where to write the secret key; the public key goes to PATH.pub.")
    var out: String

    @Flag(help: "Replace existing key files (the old key stops working wherever it was allowed).")
    var force = false

    func run() throws {
        let pair = try CurveKeyPair.generate()
        try CurveKeyFile.write(pair, to: out, force: force)
        FileHandle.standardError.write(Data("wrote \(out) (secret key, mode 0600) and \(out).pub (public key)\n".utf8))
        print(pair.publicKey.z85)
    }
}

/// The CURVE options of `teleops worker`: both or neither.
struct WorkerCurveArguments: ParsableArguments {
    @Option(name: .customLong("server-key"),
            help: ArgumentHelp("The controller's CURVE public key: its 40 Z85 characters, or a file holding it (the controller's KEY.pub).",
                               valueName: "key-or-file"))
    var serverKey: String?

    @Option(help: ArgumentHelp("This worker's secret key file, from `teleops worker keygen` (mode 0600).", valueName: "path"))
    var secretKeyFile: String?

    /// The worker's CURVE settings, nil for none; throws for one option without the other, for
    /// a bad key or key file, and for a non-loopback endpoint without CURVE.
    func load(connect: String) throws -> WorkerCurve? {
        switch (serverKey, secretKeyFile) {
        case (nil, nil):
            guard DispatchEndpoint.isLocal(connect) else {
                throw ValidationError("'\(connect)' is not on loopback, and workers off loopback must use CURVE: pass "
                    + "--server-key (the controller's public key) and --secret-key-file (this worker's key, from "
                    + "`teleops worker keygen --out PATH`); see docs/curve.md")
            }
            return nil
        case (_?, nil):
            throw ValidationError("--server-key needs --secret-key-file: this worker's own secret key (make one with `teleops worker keygen --out PATH`)")
        case (nil, _?):
            throw ValidationError("--secret-key-file needs --server-key: the controller's public key, which this worker pins")
        case (let server?, let file?):
            // A CurveError prints as its message alone ("Error: … is readable by others …").
            return WorkerCurve(serverKey: try CurveKeyFile.publicKey(fromKeyOrFile: server, what: "server key"),
                               keyPair: try CurveKeyFile.readSecretKey(at: file))
        }
    }
}
