import Testing
@testable import TeleOpsChat

/// The frame codec and the handshake pieces, byte by byte.
@Suite struct WebSocketFrameTests {
    /// An unmasked server frame with the shortest length encoding, or the one forced by `lengthBytes`.
    private func serverFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, lengthBytes: Int? = nil) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let count = payload.count
        switch lengthBytes ?? (count < 126 ? 0 : count <= 0xFFFF ? 2 : 8) {
        case 0: bytes.append(UInt8(count))
        case 2: bytes += [126, UInt8(count >> 8), UInt8(count & 0xFF)]
        default: bytes.append(127); for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((count >> shift) & 0xFF)) }
        }
        return bytes + payload
    }

    private func events(_ bytes: [UInt8], max: Int = 1 << 20, chunk: Int = 7) throws(FrameFailure) -> [FrameEvent] {
        var reader = FrameReader(maxMessageBytes: max)
        var events: [FrameEvent] = []
        var index = 0
        while index < bytes.count {
            reader.append(bytes[index..<min(bytes.count, index + chunk)])
            index += chunk
            while let event = try reader.next() { events.append(event) }
        }
        return events
    }

    private func failure(_ bytes: [UInt8], max: Int = 1 << 20) -> FrameFailure? {
        do {
            _ = try events(bytes, max: max)
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptValueMatchesRFC6455() {
        #expect(WebSocketHandshake.accept(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(WebSocketHandshake.makeKey().count == 24)
        #expect(WebSocketHandshake.makeKey() != WebSocketHandshake.makeKey())
    }

    @Test(arguments: [0, 1, 125, 126, 127, 65535, 65536, 70000])
    func clientFramesAreMaskedWithTheRightLength(count: Int) {
        let payload = (0..<count).map { UInt8($0 % 251) }
        let frame = FrameEncoder.frame(.text, payload: payload, mask: 0xA1B2_C3D4)
        #expect(frame[0] == 0x81)
        #expect(frame[1] & 0x80 == 0x80)
        var offset = 2
        var length = Int(frame[1] & 0x7F)
        if length == 126 {
            length = Int(frame[2]) << 8 | Int(frame[3])
            offset = 4
        } else if length == 127 {
            length = frame[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        #expect(length == count)
        #expect(count < 126 ? offset == 2 : count <= 0xFFFF ? offset == 4 : offset == 10)
        let key = Array(frame[offset..<(offset + 4)])
        #expect(key == [0xA1, 0xB2, 0xC3, 0xD4])
        let unmasked = frame[(offset + 4)...].enumerated().map { $0.element ^ key[$0.offset & 3] }
        #expect(unmasked == payload)
    }

    @Test func closePayloadKeepsTheReasonWholeAndShort() {
        #expect(FrameEncoder.closePayload(code: 1000, reason: "") == [0x03, 0xE8])
        let payload = FrameEncoder.closePayload(code: 1009, reason: String(repeating: "é", count: 100))
        #expect(payload.count <= 125)
        #expect(String(validating: payload.dropFirst(2), as: UTF8.self) != nil)
    }

    @Test(arguments: [0, 2, 8])
    func everyLengthEncodingIsRead(lengthBytes: Int) throws {
        let text = String(repeating: "a", count: lengthBytes == 0 ? 100 : lengthBytes == 2 ? 300 : 70000)
        #expect(try events(serverFrame(0x1, Array(text.utf8)), chunk: 1000) == [.text(text)])
        // A short payload with a longer encoding than needed is still valid.
        #expect(try events(serverFrame(0x1, Array("hi".utf8), lengthBytes: lengthBytes)) == [.text("hi")])
    }

    @Test func controlFramesMayComeBetweenFragments() throws {
        let bytes = serverFrame(0x1, Array("hel".utf8), fin: false)
            + serverFrame(0x9, [7])
            + serverFrame(0x0, Array("lo ".utf8), fin: false)
            + serverFrame(0xA, [])
            + serverFrame(0x0, Array("wörld".utf8))
            + serverFrame(0x2, [1, 2])
            + serverFrame(0x8, [0x0F, 0xA1] + Array("bye".utf8))
        #expect(try events(bytes) == [.ping([7]), .pong([]), .text("hello wörld"), .binary([1, 2]), .close(code: 4001, reason: "bye")])
    }

    @Test func aCharacterSplitAcrossFragmentsIsFine() throws {
        let bytes = Array("✓".utf8)
        let frames = serverFrame(0x1, [bytes[0]], fin: false) + serverFrame(0x0, [bytes[1]], fin: false) + serverFrame(0x0, [bytes[2]])
        #expect(try events(frames, chunk: 1) == [.text("✓")])
    }

    @Test func emptyCloseHasNoCode() throws {
        #expect(try events(serverFrame(0x8, [])) == [.close(code: nil, reason: "")])
    }

    @Test func violationsNameTheirCloseCode() {
        #expect(failure([0x81 | 0x40, 0x00])?.code == 1002)  // reserved bit
        #expect(failure([0x83, 0x00])?.code == 1002)  // unknown opcode
        #expect(failure([0x81, 0x82, 1, 2, 3, 4, 0, 0])?.code == 1002)  // masked
        #expect(failure(serverFrame(0x9, [1], fin: false))?.code == 1002)  // fragmented control frame
        #expect(failure(serverFrame(0x9, [UInt8](repeating: 0, count: 126)))?.code == 1002)  // long control frame
        #expect(failure(serverFrame(0x0, [1]))?.code == 1002)  // continuation of nothing
        #expect(failure(serverFrame(0x1, [1], fin: false) + serverFrame(0x1, [2]))?.code == 1002)  // interleaved messages
        #expect(failure(serverFrame(0x8, [3]))?.code == 1002)  // 1-byte close payload
        #expect(failure([0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 1])?.code == 1002)  // top bit of a 64-bit length
        #expect(failure(serverFrame(0x1, [0xC3, 0x28]))?.code == 1007)  // invalid UTF-8
        #expect(failure(serverFrame(0x8, [0x03, 0xE8, 0xFF]))?.code == 1007)  // invalid close reason
    }

    @Test func theSizeCapIsCheckedOnTheHeader() {
        #expect(failure(serverFrame(0x1, [UInt8](repeating: 0x61, count: 11)), max: 10)?.code == 1009)
        #expect(failure(serverFrame(0x2, [UInt8](repeating: 0, count: 11)), max: 10)?.code == 1009)
        #expect(failure(serverFrame(0x1, [0x61, 0x61, 0x61], fin: false) + serverFrame(0x0, [UInt8](repeating: 0x61, count: 8)), max: 10)?.code == 1009)
        // Only the header of a huge frame is needed to refuse it.
        var reader = FrameReader(maxMessageBytes: 1 << 20)
        reader.append([0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0])
        #expect(throws: FrameFailure(code: 1009, message: "message larger than 1048576 bytes")) { try reader.next() }
        #expect((try? events(serverFrame(0x1, [UInt8](repeating: 0x61, count: 10)), max: 10)) == [.text(String(repeating: "a", count: 10))])
    }

    @Test func urlsAreTakenApart() throws {
        let target = try WebSocketTarget("wss://user:pw@wss-primary.slack.com/link/?ticket=abc&app_id=A1#frag")
        #expect(target.connectURL == "https://wss-primary.slack.com/")
        #expect(target.host == "wss-primary.slack.com")
        #expect(target.requestTarget == "/link/?ticket=abc&app_id=A1")
        #expect(target.redacted == "wss://user:pw@wss-primary.slack.com/link/")
        #expect(target.scrub("failed for ticket=abc&app_id=A1") == "failed for …")
        let plain = try WebSocketTarget("ws://127.0.0.1:8080")
        #expect(plain.connectURL == "http://127.0.0.1:8080/")
        #expect(plain.requestTarget == "/")
        #expect(plain.host == "127.0.0.1:8080")
        #expect(try WebSocketTarget("WS://[::1]:9?x").requestTarget == "/?x")
    }

    @Test func theUpgradeRequestCarriesTheCallersHeaders() throws {
        let target = try WebSocketTarget("ws://example.com/socket?t=1")
        let request = String(decoding: try WebSocketHandshake.request(
            target: target, key: "k", headers: ["Authorization": "Bearer x", "Host": "evil", "Sec-WebSocket-Key": "evil"]), as: UTF8.self)
        #expect(request.hasPrefix("GET /socket?t=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"))
        #expect(request.contains("\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n"))
        #expect(request.contains("\r\nAuthorization: Bearer x\r\n"))
        #expect(!request.contains("evil"))
        #expect(request.hasSuffix("\r\n\r\n"))
    }
}
