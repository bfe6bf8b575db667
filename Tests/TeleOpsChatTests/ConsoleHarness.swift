import Foundation
import Synchronization
import TeleOpsChat
import TeleOpsCore
import TeleOpsTesting

/// A real `ConsoleTransport` as the conformance suite's platform: it prints into a file, which
/// the harness reads back as a reader of the terminal would (blocks, their `(out-N…)` and
/// `(update to …)` lines, the buttons line), and it reads a pipe, into which the harness types
/// lines as the operator.
///
/// The console is a terminal, not a chat app (`traits`): an edit is printed anew after its
/// message, a button is "pressed" by typing the command it showed, one person types, nothing
/// answers a write (no 429, 5xx or rejection: the one failure is the output refusing it), and
/// no other bot can post.
final class ConsoleHarness: ChatPlatformHarness {
    static let operatorID = "operator"

    let console: ConsoleTransport
    var transport: any ChatTransport { console }
    let chat = ConsoleTransport.chatName
    let traits = ChatPlatformTraits(
        editsInPlace: false, canReplyToMessages: false, onlyPerson: ConsoleHarness.operatorID, platformAnswers: false)

    private let outputPath: String
    /// The console's output: the file, opened for appending.
    private let output: Int32
    /// Another descriptor of the same file, to put back after `whileOutputRefusesWrites`.
    private let savedOutput: Int32
    /// The console's input, and the end the harness types into.
    private let input: Int32
    private let keyboard: Int32
    /// Lines typed so far (the console numbers them `in-1`, `in-2`…).
    private let typed = Mutex(0)

    private init() throws {
        outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-console-\(UUID().uuidString).out").path
        output = open(outputPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw ConsoleHarnessError("cannot create \(outputPath): \(String(cString: strerror(errno)))") }
        savedOutput = dup(output)
        var fds: [Int32] = [0, 0]
        guard savedOutput >= 0, pipe(&fds) == 0 else { throw ConsoleHarnessError("dup or pipe: \(String(cString: strerror(errno)))") }
        input = fds[0]
        keyboard = fds[1]
        console = ConsoleTransport(operatorID: Self.operatorID, input: input, output: output)
    }

    static func with(_ body: (ConsoleHarness) async throws -> Void) async throws {
        let harness = try ConsoleHarness()
        defer { harness.close() }
        try await body(harness)
    }

    /// Ends input (the console's reader thread sees its end and stops) and removes the file.
    /// The input's read end stays open: the reader thread may not have read the end yet, and
    /// a number closed under it could be handed to another test's file, which it would then read.
    private func close() {
        _ = Glibc.close(keyboard)
        _ = Glibc.close(output)
        _ = Glibc.close(savedOutput)
        try? FileManager.default.removeItem(atPath: outputPath)
    }

    /// Everything the console printed so far.
    var printed: String {
        String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
    }

    // MARK: ChatPlatformHarness

    func whileReceiving(_ body: () async throws -> Void) async throws {
        console.startReading()
        try await body()
    }

    func botMessages() async -> [PlatformMessage] {
        Self.parse(printed)
    }

    /// The operator types `text` and Enter.
    @discardableResult
    func userTypes(_ text: String, userID: String, replyTo: String?) async throws -> String {
        guard userID == Self.operatorID else {
            throw ConsoleHarnessError("only the operator (\(Self.operatorID)) types on the console, not \(userID)")
        }
        guard replyTo == nil else { throw ConsoleHarnessError("a line typed on the console cannot answer message \(replyTo!)") }
        guard !text.contains(where: \.isNewline), !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConsoleHarnessError("one line of text is typed at a time, not \(text.debugDescription)")
        }
        let bytes = Array((text + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(keyboard, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw ConsoleHarnessError("typing: \(String(cString: strerror(errno)))") }
            offset += written
        }
        return "in-\(typed.withLock { typed in typed += 1; return typed })"
    }

    /// The operator types the command the console showed for the button with `command`
    /// under `messageID` (its last update's buttons, if it was updated).
    func userPresses(command: String, on messageID: String, userID: String) async throws {
        guard let message = await botMessages().first(where: { $0.id == messageID }) else {
            throw ConsoleHarnessError("the console printed no message \(messageID)")
        }
        let shown = message.updates.last?.buttons ?? message.buttons
        guard let button = shown.first(where: { $0.command == command }) else {
            throw ConsoleHarnessError("the console shows no button for '\(command)' under \(messageID); it shows \(shown)")
        }
        try await userTypes(button.command, userID: userID, replyTo: nil)
    }

    /// A terminal has no other bots: there is nothing for one to do.
    func otherBotPosts(_ text: String) async throws {}

    /// Nothing answers the console's writes, so there is no platform failure to make: this does
    /// nothing, and a case that then expects a post to fail fails. See `whileOutputRefusesWrites`.
    func failNext(_ failure: PlatformFailure, count: Int) async {}

    /// The console's output becomes `/dev/full` while `body` runs: every write fails with ENOSPC.
    func whileOutputRefusesWrites(_ body: (_ systemReason: String) async throws -> Void) async throws {
        let full = open("/dev/full", O_WRONLY | O_CLOEXEC)
        guard full >= 0, dup2(full, output) >= 0 else { throw ConsoleHarnessError("/dev/full: \(String(cString: strerror(errno)))") }
        _ = Glibc.close(full)
        defer { _ = dup2(savedOutput, output) }
        try await body(String(cString: strerror(ENOSPC)))
    }

    // MARK: Reading the console

    /// The messages in what the console printed, oldest first, as a reader sees them: a block
    /// starts with `(out-N)` or `(out-N, reply to ID)` (a message; N grows) or `(update to ID)`
    /// (an update of a message printed before) at the start or after a blank line, and ends
    /// with a blank line; its last line is the buttons when it reads `[Label: command] …`.
    static func parse(_ printed: String) -> [PlatformMessage] {
        var lines = printed.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }  // after the last newline
        var messages: [PlatformMessage] = []
        // Each block: the message it is or updates (an index into `messages`), and its lines.
        var blocks: [(message: Int, isUpdate: Bool, lines: [String])] = []
        var lastNumber = 0
        for (index, line) in lines.enumerated() {
            if index == 0 || lines[index - 1].isEmpty, line.hasPrefix("("), line.hasSuffix(")") {
                let inner = String(line.dropFirst().dropLast())
                if inner.hasPrefix("update to ") {
                    let id = String(inner.dropFirst("update to ".count))
                    if let message = messages.firstIndex(where: { $0.id == id }) {
                        blocks.append((message, true, []))
                        continue
                    }
                } else {
                    let parts = inner.components(separatedBy: ", reply to ")
                    if parts.count <= 2, parts[0].hasPrefix("out-"), let number = Int(parts[0].dropFirst(4)), number > lastNumber {
                        lastNumber = number
                        messages.append(PlatformMessage(id: parts[0], text: "", replyTo: parts.count == 2 ? parts[1] : nil))
                        blocks.append((messages.count - 1, false, []))
                        continue
                    }
                }
            }
            if !blocks.isEmpty { blocks[blocks.count - 1].lines.append(line) }
        }
        for (message, isUpdate, var body) in blocks {
            if body.last == "" { body.removeLast() }  // the blank line that ends the block
            var buttons: [ChatButton] = []
            // Buttons follow the text on a line of their own.
            if body.count > 1, let shown = buttonsLine(body[body.count - 1]) {
                buttons = shown
                body.removeLast()
            }
            let text = body.joined(separator: "\n")
            if isUpdate {
                messages[message].updates.append(PlatformMessage.Update(text: text, buttons: buttons))
                messages[message].edits += 1
            } else {
                messages[message].text = text
                messages[message].buttons = buttons
            }
        }
        return messages
    }

    /// `[Ack: #1 ack] [Silence 1h: #1 silence 1h]` as buttons; nil for any other line.
    static func buttonsLine(_ line: String) -> [ChatButton]? {
        guard line.hasPrefix("["), line.hasSuffix("]") else { return nil }
        var buttons: [ChatButton] = []
        for piece in line.dropFirst().dropLast().components(separatedBy: "] [") {
            guard let colon = piece.range(of: ": ") else { return nil }
            buttons.append(ChatButton(label: String(piece[..<colon.lowerBound]), command: String(piece[colon.upperBound...])))
        }
        return buttons
    }
}

struct ConsoleHarnessError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
