/// RFC 6455 §5.2 opcodes.
enum FrameOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    var isControl: Bool { rawValue & 0x8 != 0 }
}

/// RFC 6455 §7.4.1 status codes the client sends.
enum CloseCode {
    static let normal: UInt16 = 1000
    static let goingAway: UInt16 = 1001
    static let protocolError: UInt16 = 1002
    static let invalidPayload: UInt16 = 1007
    static let messageTooBig: UInt16 = 1009
    /// Reported, never sent: the close frame carried no code.
    static let noStatus: UInt16 = 1005
}

/// Client-to-server frames: always FIN (messages are never fragmented on the way out), always
/// masked with a fresh random key (§5.3).
enum FrameEncoder {
    static func frame(_ opcode: FrameOpcode, payload: some Collection<UInt8>) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return frame(opcode, payload: payload, mask: generator.next())
    }

    static func frame(_ opcode: FrameOpcode, payload: some Collection<UInt8>, mask: UInt32) -> [UInt8] {
        let count = payload.count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 14)
        bytes.append(0x80 | opcode.rawValue)
        if count < 126 {
            bytes.append(0x80 | UInt8(count))
        } else if count <= 0xFFFF {
            bytes.append(0x80 | 126)
            bytes.append(UInt8(count >> 8))
            bytes.append(UInt8(count & 0xFF))
        } else {
            bytes.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((UInt64(count) >> UInt64(shift)) & 0xFF)) }
        }
        let key = [UInt8(mask >> 24), UInt8((mask >> 16) & 0xFF), UInt8((mask >> 8) & 0xFF), UInt8(mask & 0xFF)]
        bytes.append(contentsOf: key)
        var index = 0
        for byte in payload {
            bytes.append(byte ^ key[index & 3])
            index += 1
        }
        return bytes
    }

    /// A close frame's payload: the code, then a reason cut to fit the 125-byte control-frame limit.
    static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        var payload = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var reasonBytes = Array(reason.utf8.prefix(123))
        // Do not cut a multi-byte character in half (the empty reason is valid, so this ends).
        while String(validating: reasonBytes, as: UTF8.self) == nil { reasonBytes.removeLast() }
        payload += reasonBytes
        return payload
    }
}

/// What a server frame (or a reassembled message) amounts to.
enum FrameEvent: Equatable, Sendable {
    case text(String)
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// `code` is nil when the close frame had no payload.
    case close(code: UInt16?, reason: String)
}

/// A violation that ends the connection with a close frame carrying `code`.
struct FrameFailure: Error, Equatable {
    var code: UInt16
    var message: String
}

/// Server-to-client frames: buffers bytes as they arrive, hands out whole frames, reassembles
/// fragmented messages, and enforces the message-size cap before the payload is buffered.
struct FrameReader {
    let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// The opcode (text or binary) of a fragmented message in progress, and its bytes so far.
    private var fragmentOpcode: FrameOpcode?
    private var fragments: [UInt8] = []

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = max(0, maxMessageBytes)
    }

    /// Bytes received and not yet consumed as frames.
    var bufferedCount: Int { buffer.count - start }

    mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete event, nil when more bytes are needed.
    mutating func next() throws(FrameFailure) -> FrameEvent? {
        while true {
            guard let frame = try nextFrame() else {
                compact()
                return nil
            }
            if let event = try handle(frame) { return event }
        }
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            start = 0
        } else if start > 1 << 16 && start > buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
    }

    private struct Frame {
        var fin: Bool
        var opcode: FrameOpcode
        var payload: ArraySlice<UInt8>
    }

    private mutating func nextFrame() throws(FrameFailure) -> Frame? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        let first = buffer[start], second = buffer[start + 1]
        guard first & 0x70 == 0 else { throw FrameFailure(code: CloseCode.protocolError, message: "frame with reserved bits set") }
        guard let opcode = FrameOpcode(rawValue: first & 0x0F) else {
            throw FrameFailure(code: CloseCode.protocolError, message: "frame with unknown opcode \(first & 0x0F)")
        }
        let fin = first & 0x80 != 0
        guard second & 0x80 == 0 else { throw FrameFailure(code: CloseCode.protocolError, message: "the server sent a masked frame") }
        var headerLength = 2
        var length = UInt64(second & 0x7F)
        if length == 126 {
            guard available >= 4 else { return nil }
            length = UInt64(buffer[start + 2]) << 8 | UInt64(buffer[start + 3])
            headerLength = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            length = 0
            for index in 2..<10 { length = length << 8 | UInt64(buffer[start + index]) }
            guard length >> 63 == 0 else { throw FrameFailure(code: CloseCode.protocolError, message: "frame length with the top bit set") }
            headerLength = 10
        }
        if opcode.isControl {
            guard fin else { throw FrameFailure(code: CloseCode.protocolError, message: "fragmented control frame") }
            guard length <= 125 else { throw FrameFailure(code: CloseCode.protocolError, message: "control frame longer than 125 bytes") }
        } else {
            switch (opcode, fragmentOpcode) {
            case (.continuation, nil):
                throw FrameFailure(code: CloseCode.protocolError, message: "continuation frame without a message to continue")
            case (.text, .some), (.binary, .some):
                throw FrameFailure(code: CloseCode.protocolError, message: "new message before the fragmented one ended")
            default:
                break
            }
            // The cap is checked on the header, before any of an oversized payload is buffered.
            let soFar = opcode == .continuation ? UInt64(fragments.count) : 0
            guard soFar + length <= UInt64(maxMessageBytes) else {
                throw FrameFailure(code: CloseCode.messageTooBig, message: "message larger than \(maxMessageBytes) bytes")
            }
        }
        let total = headerLength + Int(length)
        guard available >= total else {
            buffer.reserveCapacity(start + total)
            return nil
        }
        let payload = buffer[(start + headerLength)..<(start + total)]
        start += total
        return Frame(fin: fin, opcode: opcode, payload: payload)
    }

    private mutating func handle(_ frame: Frame) throws(FrameFailure) -> FrameEvent? {
        switch frame.opcode {
        case .ping:
            return .ping(Array(frame.payload))
        case .pong:
            return .pong(Array(frame.payload))
        case .close:
            let payload = frame.payload
            if payload.isEmpty { return .close(code: nil, reason: "") }
            guard payload.count >= 2 else { throw FrameFailure(code: CloseCode.protocolError, message: "close frame with a 1-byte payload") }
            let code = UInt16(payload[payload.startIndex]) << 8 | UInt16(payload[payload.startIndex + 1])
            guard let reason = String(validating: payload.dropFirst(2), as: UTF8.self) else {
                throw FrameFailure(code: CloseCode.invalidPayload, message: "close reason is not valid UTF-8")
            }
            return .close(code: code, reason: reason)
        case .text, .binary:
            if frame.fin { return try message(frame.opcode, frame.payload) }
            fragmentOpcode = frame.opcode
            fragments = Array(frame.payload)
            return nil
        case .continuation:
            fragments.append(contentsOf: frame.payload)
            guard frame.fin, let opcode = fragmentOpcode else { return nil }
            let bytes = fragments
            fragmentOpcode = nil
            fragments = []
            return try message(opcode, bytes[...])
        }
    }

    private func message(_ opcode: FrameOpcode, _ bytes: ArraySlice<UInt8>) throws(FrameFailure) -> FrameEvent {
        guard opcode == .text else { return .binary(Array(bytes)) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FrameFailure(code: CloseCode.invalidPayload, message: "text message is not valid UTF-8")
        }
        return .text(text)
    }
}
