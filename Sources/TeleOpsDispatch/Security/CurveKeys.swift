import CZeroMQ

/// Why a CURVE key, key file or allowlist could not be used. The message names the key or file
/// and says what to do; it never contains a secret key.
///
/// ```swift
/// do { _ = try CurvePublicKey(z85: "short", what: "server key") }
/// catch { print(error) }   // "server key must be 40 Z85 characters, got 5"
/// ```
public struct CurveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it is; new kinds may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// Not 40 characters of the Z85 alphabet.
        public static let malformedKey = Code(name: "malformed_key")
        /// A key file that does not hold what `teleops worker keygen` writes.
        public static let malformedFile = Code(name: "malformed_file")
        /// A key file that cannot be read or written (missing, a directory, I/O error).
        public static let unreadable = Code(name: "unreadable")
        /// A secret key file other users may read or change.
        public static let unsafePermissions = Code(name: "unsafe_permissions")
        /// keygen would overwrite an existing file.
        public static let exists = Code(name: "exists")
        /// libzmq was built without CURVE.
        public static let unsupported = Code(name: "unsupported")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The Z85 text encoding of ZeroMQ keys (ZeroMQ RFC 32): 32 bytes as 40 printable characters.
enum Z85 {
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
    private static let allowed: Set<UInt8> = Set(alphabet)
    static let keyLength = 40

    /// The 32 bytes of a 40-character Z85 key; `what` names the key in errors ("server key").
    /// - Parameter secret: a secret key's error never quotes its characters.
    static func decodeKey(_ text: String, what: String, secret: Bool = false) throws(CurveError) -> [UInt8] {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count == keyLength else {
            throw CurveError(.malformedKey, "\(what) must be \(keyLength) Z85 characters, got \(scalars.count)")
        }
        if let index = scalars.firstIndex(where: { !$0.isASCII || !allowed.contains(UInt8($0.value)) }) {
            let scalar = scalars[index]
            let printable = scalar.value > 0x20 && scalar.value < 0x7f
            let shown = secret ? "a character" : printable ? "'\(scalar)'" : "U+\(String(scalar.value, radix: 16, uppercase: true))"
            throw CurveError(.malformedKey, "\(what) has \(shown) at position \(index + 1) that is not in the Z85 alphabet")
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        let decoded = bytes.withUnsafeMutableBufferPointer { buffer in zmq_z85_decode(buffer.baseAddress, text) }
        guard decoded != nil else { throw CurveError(.malformedKey, "\(what) is not valid Z85") }
        return bytes
    }

    static func encode(_ bytes: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        _ = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, $0.count) }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// A CURVE public key: a worker's (on the controller's allowlist) or the controller's (pinned by
/// workers). Public keys are not secret: they may be logged, and are, when one is refused.
///
/// ```swift
/// let key = try CurvePublicKey(z85: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", what: "server key")
/// print(key)   // the Z85 text
/// ```
public struct CurvePublicKey: Hashable, Sendable, CustomStringConvertible {
    /// The 40-character Z85 text.
    public let z85: String
    /// The 32 raw bytes (what ZAP requests carry).
    public let bytes: [UInt8]

    /// - Parameter what: how errors name this key ("server key", "dispatch.curve.allowed_keys[2]").
    public init(z85: String, what: String = "public key") throws(CurveError) {
        self.bytes = try Z85.decodeKey(z85, what: what)
        self.z85 = z85
    }

    /// From 32 raw bytes (a ZAP request's credentials); nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
        self.z85 = Z85.encode(bytes)
    }

    public var description: String { z85 }
}

/// A CURVE secret key. It never prints itself: `description`, `debugDescription` and `dump` show
/// a placeholder, so a secret cannot reach a log line or an error message by accident.
///
/// ```swift
/// let pair = try CurveKeyPair.generate()
/// print(pair.secretKey)   // "<CURVE secret key>"
/// ```
public struct CurveSecretKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The 32 raw bytes, for `ZMQ_CURVE_SECRETKEY`.
    let bytes: [UInt8]

    public init(z85: String, what: String = "secret key") throws(CurveError) {
        self.bytes = try Z85.decodeKey(z85, what: what, secret: true)
    }

    /// The Z85 text, only for writing a key file.
    var z85: String { Z85.encode(bytes) }

    public var description: String { "<CURVE secret key>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// A secret key and the public key derived from it.
///
/// ```swift
/// let pair = try CurveKeyPair.generate()
/// try CurveKeyFile.write(pair, to: "/etc/teleops/worker.key")   // and worker.key.pub
/// let again = try CurveKeyFile.readSecretKey(at: "/etc/teleops/worker.key")
/// assert(again.publicKey == pair.publicKey)
/// ```
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: CurvePublicKey
    public let secretKey: CurveSecretKey

    /// Derives the public key from `secretKey` (`zmq_curve_public`).
    public init(secretKey: CurveSecretKey) throws(CurveError) {
        try Self.requireCurve()
        var publicText = [CChar](repeating: 0, count: 41)
        let rc = secretKey.z85.withCString { zmq_curve_public(&publicText, $0) }
        guard rc == 0 else { throw CurveError(.unsupported, "cannot derive the public key: \(ZMQError(operation: "zmq_curve_public"))") }
        self.publicKey = try CurvePublicKey(z85: publicText.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        self.secretKey = secretKey
    }

    /// A new random key pair (`zmq_curve_keypair`) whose public key does not begin with `-`:
    /// one in 85 Z85 keys does, and pasted after `--server-key` it reads as an option. Drawing
    /// again costs the key space about 0.02 bits.
    public static func generate() throws(CurveError) -> CurveKeyPair {
        try requireCurve()
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        defer { for index in secretText.indices { secretText[index] = 0 } }
        repeat {
            guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
                throw CurveError(.unsupported, "cannot generate a key pair: \(ZMQError(operation: "zmq_curve_keypair"))")
            }
        } while publicText[0] == CChar(UInt8(ascii: "-"))
        let secret = try CurveSecretKey(z85: secretText.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        return try CurveKeyPair(secretKey: secret)
    }

    /// Whether this libzmq was built with CURVE (`zmq_has("curve")`).
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    private static func requireCurve() throws(CurveError) {
        guard isAvailable else {
            throw CurveError(.unsupported, "this libzmq was built without CURVE (zmq_has(\"curve\") is 0); install a libzmq built with libsodium or its own tweetnacl")
        }
    }
}
