import TeleOpsCore

/// Why a received message could not be decoded; becomes an ERROR reply with the same code.
public struct WireDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: WireErrorCode
    public var message: String

    public init(_ code: WireErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The ERROR message to send back.
    public var reply: WireMessage { .error(WireErrorBody(code: code, message: message)) }
}

/// Encodes and decodes `teleops.v1` multipart messages. Never throws on bad input from the
/// network: `decode` returns a `WireDecodeError` naming what was wrong.
public enum WireCodec {
    /// The version frame.
    public static let version = "teleops.v1"

    /// Bodies larger than this are refused unparsed (ERROR `too_large`). Generous: the largest
    /// legitimate body is a DONE whose output is `output_limit` bytes (64 KiB by default), which
    /// JSON escaping can at worst multiply by six.
    public static let maxBodyBytes = 16 << 20

    /// The largest `output_limit` whose DONE always fits in `maxBodyBytes`: JSON escaping makes
    /// output at most six times larger (`\u0000`), and 64 KiB is left for the other fields. A
    /// DONE refused for its size never reaches the controller, which would report the task lost.
    public static let maxOutputLimit = (maxBodyBytes - (64 << 10)) / 6

    /// Every type `decode` knows, for error messages.
    static let knownTypes = "HELLO WELCOME HEARTBEAT TASK ACCEPTED OUTPUT DONE CANCEL ERROR BYE"

    /// The three frames of `message`: version, type, JSON body.
    public static func encode(_ message: WireMessage) -> [[UInt8]] {
        [Array(version.utf8), Array(message.type.utf8), body(of: message)]
    }

    /// Decodes the three frames of one message (without the ROUTER's identity frame).
    public static func decode(_ frames: [[UInt8]]) -> Result<WireMessage, WireDecodeError> {
        guard frames.count == 3 else {
            return .failure(WireDecodeError(
                .badFrames, "expected 3 frames [version, type, body], got \(frames.count)"))
        }
        let version = String(decoding: frames[0], as: UTF8.self)
        guard version == Self.version else {
            return .failure(WireDecodeError(
                .badVersion, "unsupported protocol version '\(printable(version))', expected '\(Self.version)'"))
        }
        let type = String(decoding: frames[1], as: UTF8.self)
        guard frames[2].count <= maxBodyBytes else {
            return .failure(WireDecodeError(
                .tooLarge, "\(printable(type)) body is \(frames[2].count) bytes; the limit is \(maxBodyBytes)"))
        }
        switch type {
        case "HELLO", "WELCOME", "HEARTBEAT", "TASK", "ACCEPTED", "OUTPUT", "DONE", "CANCEL", "ERROR", "BYE":
            do throws(WireDecodeError) {
                return .success(try message(type: type, body: frames[2]))
            } catch {
                return .failure(error)
            }
        default:
            return .failure(WireDecodeError(.badType, "unknown message type '\(printable(type))'; known: \(knownTypes)"))
        }
    }

    /// At most 40 characters of untrusted text, for error messages and logs.
    static func printable(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(40) {
            out.append(scalar.value < 0x20 || scalar.value == 0x7f ? "?" : scalar)
        }
        return String(out) + (text.unicodeScalars.count > 40 ? "…" : "")
    }
}
