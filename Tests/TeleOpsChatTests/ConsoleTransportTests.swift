import Foundation
import Testing
import TeleOpsChat
import TeleOpsCore

@Suite struct ConsoleTransportTests {
    /// Reads everything written to the pipe's read end once the write end is closed.
    private func drain(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func buttonsAreShownAsWhatToType() async throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let console = ConsoleTransport(operatorID: "operator", input: -1, output: fds[1])
        let ref = try await console.post(ChatMessage(
            text: "#1 CRITICAL web-1 · disk",
            buttons: [ChatButton(label: "Ack", command: "ack"), ChatButton(label: "Silence 1h", command: "silence 1h")]))
        try await console.edit(ref, text: "#1 acknowledged", buttons: [])
        close(fds[1])
        let printed = drain(fds[0])
        close(fds[0])
        #expect(printed == "(out-1)\n#1 CRITICAL web-1 · disk\n[Ack: ack] [Silence 1h: silence 1h]\n\n(update to out-1)\n#1 acknowledged\n\n")
    }

    /// A thread moved here from another transport (failover) has no message on the console to
    /// point at; an edit over the limit is refused like a post.
    @Test func aReplyToAnotherTransportsMessageIsAPlainPostAndAnEditOverTheLimitIsRefused() async throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let console = ConsoleTransport(operatorID: "operator", input: -1, output: fds[1])
        let ref = try await console.post(ChatMessage(
            text: "df says 95%", replyTo: MessageRef(transport: "telegram", chat: "-100", messageID: "42")))
        await #expect(throws: ChatFailure.self) {
            try await console.edit(ref, text: String(repeating: "a", count: console.limits.maxMessageLength + 1), buttons: [])
        }
        close(fds[1])
        let printed = drain(fds[0])
        close(fds[0])
        #expect(printed == "(out-1)\ndf says 95%\n\n")
    }
}
