import Foundation
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
        let body = Data(frames[2])
        do {
            switch type {
            case "HELLO": return .success(.hello(try decodeBody(Hello.self, body, type)))
            case "WELCOME": return .success(.welcome(try decodeBody(Welcome.self, body, type)))
            case "HEARTBEAT": return .success(.heartbeat(try decodeBody(Heartbeat.self, body, type)))
            case "TASK": return .success(.task(try decodeBody(TaskRequest.self, body, type)))
            case "ACCEPTED": return .success(.accepted(try decodeBody(TaskRef.self, body, type)))
            case "OUTPUT": return .success(.output(try decodeBody(TaskOutput.self, body, type)))
            case "DONE": return .success(.done(try decodeBody(TaskResult.self, body, type)))
            case "CANCEL": return .success(.cancel(try decodeBody(TaskRef.self, body, type)))
            case "ERROR": return .success(.error(try decodeBody(WireErrorBody.self, body, type)))
            case "BYE":
                _ = try decodeBody(Empty.self, body, type)
                return .success(.bye)
            default:
                return .failure(WireDecodeError(
                    .badType, "unknown message type '\(printable(type))'; known: \(knownTypes)"))
            }
        } catch let error as WireDecodeError {
            return .failure(error)
        } catch {
            return .failure(WireDecodeError(.badJSON, "\(type): \(error)"))
        }
    }

    private struct Empty: Codable {}

    private static func body(of message: WireMessage) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data?
        switch message {
        case .hello(let body): data = try? encoder.encode(body)
        case .welcome(let body): data = try? encoder.encode(body)
        case .heartbeat(let body): data = try? encoder.encode(body)
        case .task(let body): data = try? encoder.encode(body)
        case .accepted(let body): data = try? encoder.encode(body)
        case .output(let body): data = try? encoder.encode(body)
        case .done(let body): data = try? encoder.encode(body)
        case .cancel(let body): data = try? encoder.encode(body)
        case .error(let body): data = try? encoder.encode(body)
        case .bye: data = try? encoder.encode(Empty())
        }
        // Encoding these plain structs cannot fail except for non-finite doubles (duration_ms).
        return Array(data ?? Data("{}".utf8))
    }

    private static func decodeBody<T: Decodable>(_ type: T.Type, _ body: Data, _ name: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch let DecodingError.keyNotFound(key, _) {
            throw WireDecodeError(.badJSON, "\(name) body: missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw WireDecodeError(.badJSON, "\(name) body: wrong type at '\(path(context))': \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw WireDecodeError(.badJSON, "\(name) body: null at '\(path(context))'")
        } catch let DecodingError.dataCorrupted(context) {
            throw WireDecodeError(.badJSON, "\(name) body is not valid JSON: \(context.debugDescription)")
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
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
