import Foundation
import ServiceLifecycle
import Synchronization
import TeleOpsCore

/// The embedded chat: messages are printed on the terminal, and each line typed on standard
/// input is a reply from the local operator (an engineer whose `console` identity is `operatorID`).
///
/// Output goes to standard output (logs go to standard error), one message per block
/// separated by a blank line, so it reads well in a terminal and is easy to scan in tests.
/// Messages posted are numbered `out-1`, `out-2`… (a controller goes on from the highest
/// number its store has seen, `continueNumbering(after:)`), and a block's first line says
/// which it is and, for a reply, the message it is in the thread of: `(out-2, reply to out-1)`.
/// The text follows as written, then the buttons as what to type: `[Ack: #1 ack]`. A terminal
/// cannot change what it printed, so an edit prints the message's whole new text and buttons
/// under `(update to out-1)`. Text over `limits.maxMessageLength` is refused, as on any
/// transport. A write that fails (a full disk, a closed terminal) is a client error carrying
/// the system's reason: that message is given up (or posted on a failover transport), not
/// retried.
///
/// Lines typed are numbered `in-1`, `in-2`… They answer no particular message: a terminal
/// has no threads, so `#N` in front picks the scenario. Typing a button's command is what
/// pressing it is elsewhere, and arrives as typed text.
///
/// ```swift
/// let console = ConsoleTransport(operatorID: "operator")
/// _ = try await console.post(ChatMessage(text: "#1 CRITICAL web-1 · disk"))
/// ```
public final class ConsoleTransport: ChatTransport, Service {
    public static let transportName = "console"
    public static let chatName = "console"
    /// What the number of a message posted follows in its id: `out-7`.
    public static let postedPrefix = "out-"

    public let name = ConsoleTransport.transportName
    public let defaultChat = ConsoleTransport.chatName
    public let limits = ChatLimits(maxMessageLength: 1 << 20)
    public let incoming: AsyncStream<IncomingMessage>
    public let operatorID: String

    private let continuation: AsyncStream<IncomingMessage>.Continuation
    private let output: Int32
    private let input: Int32
    private let counters = Mutex((posted: 0, received: 0))
    private let readerStarted = Atomic(false)

    /// - Parameters:
    ///   - input: the file descriptor replies are read from, a line each.
    ///   - output: the file descriptor messages are written to.
    public init(operatorID: String, input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) {
        self.operatorID = operatorID
        self.input = input
        self.output = output
        (incoming, continuation) = AsyncStream.makeStream(of: IncomingMessage.self)
    }

    /// Reads replies until graceful shutdown (the reader thread itself stays blocked in `read`
    /// until input ends; it holds nothing that needs cleaning up).
    public func run() async throws {
        startReading()
        try? await gracefulShutdown()
    }

    /// Starts reading replies on a dedicated thread (a blocking `read` must stay off the
    /// cooperative pool). At end of input the reader stops; the transport still posts.
    public func startReading() {
        guard !readerStarted.exchange(true, ordering: .relaxed) else { return }
        let thread = Thread { [self] in readLines() }
        thread.name = "teleops-console-input"
        thread.start()
    }

    public func post(_ message: ChatMessage) async throws(ChatFailure) -> MessageRef {
        try checkLength(message.text)
        let number = counters.withLock { counters in
            counters.posted += 1
            return counters.posted
        }
        let id = Self.postedPrefix + String(number)
        // A reply to a message of another transport (a thread moved here by failover) has no
        // message on this terminal to point at.
        let header = if let parent = message.replyTo, parent.transport == name { "(\(id), reply to \(parent.messageID))" } else { "(\(id))" }
        try write(header + "\n" + message.text + Self.buttonLine(message.buttons) + "\n\n")
        return MessageRef(transport: name, chat: message.chat ?? Self.chatName, messageID: id)
    }

    /// Numbers the next message posted after `number` (or after the last one, if higher): a
    /// restarted controller goes on from the numbers its store has, so that an old message's
    /// number never comes back for a new one (it would take over the old one's place in the
    /// store, and with it, say, the announcement an update edits).
    public func continueNumbering(after number: Int) {
        counters.withLock { $0.posted = max($0.posted, number) }
    }

    public func edit(_ ref: MessageRef, text: String, buttons: [ChatButton]) async throws(ChatFailure) {
        try checkLength(text)
        try write("(update to \(ref.messageID))\n\(text)\(Self.buttonLine(buttons))\n\n")
    }

    private func checkLength(_ text: String) throws(ChatFailure) {
        try limits.checkLength(text, platform: "the console's")
    }

    /// Buttons cannot be pressed on a terminal; the line says what to type instead.
    static func buttonLine(_ buttons: [ChatButton]) -> String {
        buttons.isEmpty ? "" : "\n" + buttons.map { "[\($0.label): \($0.command)]" }.joined(separator: " ")
    }

    private func write(_ text: String) throws(ChatFailure) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.write(output, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw ChatFailure(reason: .clientError, message: "console output failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    private func readLines() {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            pending.append(contentsOf: chunk[0..<count])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                deliver(Array(pending[..<newline]))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { deliver(pending) }
        continuation.finish()
    }

    private func deliver(_ line: [UInt8]) {
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return }
        let id = counters.withLock { counters in
            counters.received += 1
            return counters.received
        }
        let ref = MessageRef(transport: name, chat: Self.chatName, messageID: "in-\(id)")
        continuation.yield(IncomingMessage(ref: ref, userID: operatorID, displayName: operatorID, text: text))
    }
}
