import Foundation
import Testing
@testable import TeleOpsDispatch

/// A fresh directory under /tmp, removed by `remove()`.
struct KeyDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func write(_ name: String, _ text: String, mode: mode_t) throws -> String {
        let file = file(name)
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, mode)
        return file
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func mode(of path: String) -> mode_t {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
}

@Suite struct CurveKeyFileTests {
    /// The key pairs of ZeroMQ RFC 26 (CurveZMQ), so derivation is checked against known values.
    static let rfcServerSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
    static let rfcServerPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

    @Test func derivesThePublicKeyOfAKnownSecretKey() throws {
        #expect(CurveKeyPair.isAvailable)
        let pair = try CurveKeyPair(secretKey: CurveSecretKey(z85: Self.rfcServerSecret))
        #expect(pair.publicKey.z85 == Self.rfcServerPublic)
        #expect(pair.publicKey.bytes.count == 32)
        #expect(CurvePublicKey(bytes: pair.publicKey.bytes) == pair.publicKey)
    }

    /// One Z85 key in 85 begins with '-', which pasted after `--server-key` reads as an option:
    /// generated public keys never do (if they could, 2,000 draws would all miss it with odds
    /// of about 5 in 10^11).
    @Test func generatedPublicKeysNeverBeginWithADash() throws {
        for _ in 0..<2_000 {
            let pair = try CurveKeyPair.generate()
            #expect(!pair.publicKey.z85.hasPrefix("-"))
            #expect(try CurveKeyPair(secretKey: pair.secretKey).publicKey == pair.publicKey)
        }
    }

    @Test func keygenWritesPrivateAndPublicFilesThatReadBack() throws {
        let directory = try KeyDirectory()
        defer { directory.remove() }
        let path = directory.file("worker.key")
        let pair = try CurveKeyPair.generate()
        try CurveKeyFile.write(pair, to: path)

        #expect(mode(of: path) == 0o600)
        #expect(mode(of: path + ".pub") == 0o644)
        let again = try CurveKeyFile.readSecretKey(at: path)
        #expect(again == pair)
        #expect(try CurveKeyFile.readPublicKey(at: path + ".pub") == pair.publicKey)
        #expect(try CurveKeyFile.publicKey(fromKeyOrFile: path + ".pub", what: "server key") == pair.publicKey)
        #expect(try CurveKeyFile.publicKey(fromKeyOrFile: pair.publicKey.z85, what: "server key") == pair.publicKey)
        // The .pub file can be appended to an allowlist as it is.
        #expect(try CurveKeyFile.readAllowlist(at: path + ".pub") == [pair.publicKey])
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["worker.key", "worker.key.pub"])
    }

    @Test func keygenRefusesToOverwriteUnlessForced() throws {
        let directory = try KeyDirectory()
        defer { directory.remove() }
        let path = directory.file("worker.key")
        let first = try CurveKeyPair.generate()
        try CurveKeyFile.write(first, to: path)
        let second = try CurveKeyPair.generate()

        let error = #expect(throws: CurveError.self) { try CurveKeyFile.write(second, to: path) }
        #expect(error?.code == .exists)
        #expect(error?.message.contains("\(path) already exists; pass --force") == true)
        #expect(try CurveKeyFile.readSecretKey(at: path) == first, "the refused write changed nothing")

        try CurveKeyFile.write(second, to: path, force: true)
        #expect(try CurveKeyFile.readSecretKey(at: path) == second)
        #expect(try CurveKeyFile.readPublicKey(at: path + ".pub") == second.publicKey)
        #expect(mode(of: path) == 0o600)
    }

    @Test(arguments: [
        (mode_t(0o644), "is readable by others (mode 0644); run chmod 600"),
        (mode_t(0o640), "is readable by others (mode 0640); run chmod 600"),
        (mode_t(0o604), "is readable by others (mode 0604); run chmod 600"),
        (mode_t(0o620), "is writable by others (mode 0620); run chmod 600"),
    ])
    func refusesASecretKeyOthersCanReach(mode: mode_t, message: String) throws {
        let directory = try KeyDirectory()
        defer { directory.remove() }
        let path = directory.file("worker.key")
        try CurveKeyFile.write(try CurveKeyPair.generate(), to: path)
        chmod(path, mode)
        let error = #expect(throws: CurveError.self) { try CurveKeyFile.readSecretKey(at: path) }
        #expect(error?.code == .unsafePermissions)
        #expect(error?.message == "secret key file \(path) \(message) \(path)")
        chmod(path, 0o400)
        #expect(throws: Never.self) { try CurveKeyFile.readSecretKey(at: path) }
    }

    @Test(arguments: [
        ("secret-key = \"short\"\n", "the secret key on line 1 of PATH must be 40 Z85 characters, got 5"),
        ("secret-key = \"\(String(repeating: "a", count: 39))~\"\n",
         "the secret key on line 1 of PATH has a character at position 40 that is not in the Z85 alphabet"),
        ("# comment only\n\n", "PATH has no 'secret-key = \"…\"' line"),
        ("hello world\n", "PATH:1: expected 'secret-key = \"…\"'"),
        ("public-key = \"\(rfcServerPublic)\"\n",
         "PATH:1: expected 'secret-key = \"…\"', found 'public-key = …' (this is a public key file; give the secret key file, without .pub)"),
        ("secret-key = \"\(rfcServerSecret)\"\nsecret-key = \"\(rfcServerSecret)\"\n", "PATH:2: a second 'secret-key' line"),
    ])
    func malformedSecretKeyFilesSayWhatIsWrong(contents: String, message: String) throws {
        let directory = try KeyDirectory()
        defer { directory.remove() }
        let path = try directory.write("bad.key", contents, mode: 0o600)
        let error = #expect(throws: CurveError.self) { try CurveKeyFile.readSecretKey(at: path) }
        #expect(error?.message == message.replacingOccurrences(of: "PATH", with: path))
        #expect(error?.message.contains(Self.rfcServerSecret) == false, "a secret is never quoted")
    }

    @Test func aMissingFileSaysHowToCreateOne() throws {
        let error = #expect(throws: CurveError.self) { try CurveKeyFile.readSecretKey(at: "/nonexistent/worker.key") }
        #expect(error?.message == "secret key file /nonexistent/worker.key does not exist; create one with `teleops worker keygen --out /nonexistent/worker.key`")
    }

    @Test(arguments: [
        ("abc", "server key must be 40 Z85 characters, got 3"),
        ("short-key-12", "server key must be 40 Z85 characters, got 12"),
        (String(repeating: "a", count: 39) + " ", "server key has U+20 at position 40 that is not in the Z85 alphabet"),
        (String(repeating: "a", count: 39) + "~", "server key has '~' at position 40 that is not in the Z85 alphabet"),
    ])
    func malformedPublicKeysSayWhatIsWrong(text: String, message: String) {
        let error = #expect(throws: CurveError.self) { try CurvePublicKey(z85: text, what: "server key") }
        #expect(error?.code == .malformedKey)
        #expect(error?.message == message)
        let fromArgument = #expect(throws: CurveError.self) { try CurveKeyFile.publicKey(fromKeyOrFile: text, what: "server key") }
        #expect(fromArgument?.message == message + " (and no file of that name exists)")
    }

    @Test func allowlistFilesTakeBareKeysPubLinesAndComments() throws {
        let directory = try KeyDirectory()
        defer { directory.remove() }
        let web = try CurveKeyPair.generate().publicKey
        let db = try CurveKeyPair.generate().publicKey
        // '=' is a Z85 character: a bare key with one is still a bare key.
        let equals = try CurvePublicKey(z85: "abcdefghij=bcdefghijabcdefghijabcdefghij")
        let path = try directory.write("workers.allowed", """
            # workers of the eu cluster
            \(web.z85)   web-1, added 2024-05-01
            \(equals.z85)

            # TeleOps CURVE public key (Z85) of db-1.key.
            public-key = "\(db.z85)"
            """, mode: 0o644)
        #expect(try CurveKeyFile.readAllowlist(at: path) == [web, equals, db])

        let bad = try directory.write("bad.allowed", "\(web.z85)\nnot-a-key\n", mode: 0o644)
        let error = #expect(throws: CurveError.self) { try CurveKeyFile.readAllowlist(at: bad) }
        #expect(error?.message == "\(bad):2: the key must be 40 Z85 characters, got 9")
        let secret = try directory.write("secret.allowed", "secret-key = \"\(Self.rfcServerSecret)\"\n", mode: 0o644)
        let refused = #expect(throws: CurveError.self) { try CurveKeyFile.readAllowlist(at: secret) }
        #expect(refused?.message.contains("a secret key must never be on an allowlist") == true)
        #expect(refused?.message.contains(Self.rfcServerSecret) == false)
    }

    @Test func aSecretKeyNeverPrintsItself() throws {
        let pair = try CurveKeyPair.generate()
        let secret = pair.secretKey.z85
        var dumped = ""
        dump(pair, to: &dumped)
        for rendered in ["\(pair.secretKey)", String(reflecting: pair.secretKey), "\(pair)", String(reflecting: pair), dumped] {
            #expect(!rendered.contains(secret), "rendered as: \(rendered)")
        }
        #expect("\(pair.secretKey)" == "<CURVE secret key>")
    }
}
