import TeleOpsCore

/// How a `ChatMessage` becomes a Slack message: escaped text, and Block Kit blocks when it has
/// buttons.
///
/// - The text is escaped for Slack (`&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`) and always sent
///   as `text`, which Slack uses for notifications and shows when there are no blocks.
/// - With buttons, Slack shows the blocks instead of `text`, so the text goes in `section`
///   blocks (mrkdwn). A section holds at most 3,000 characters, so longer text (up to the
///   4,000 TeleOps posts) is split over several sections, at a line break when there is one,
///   never inside an escape or a character. Then come the buttons, up to 25 per `actions` block,
///   each with `action_id` `teleops-<n>` (unique in the message), the command as `value`, and
///   the label (cut to 75 characters) as plain text.
/// - Without buttons no blocks are sent; an edit sends `blocks: []`, which removes the old ones.
///
/// ```swift
/// SlackBlocks.escape("<b> & co")   // "&lt;b&gt; &amp; co"
/// ```
enum SlackBlocks {
    static let actionIDPrefix = "teleops-"

    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// The blocks for `text` with `buttons`, or nil when there are no buttons.
    static func blocks(text: String, buttons: [ChatButton]) -> JSONValue? {
        guard !buttons.isEmpty else { return nil }
        var blocks: [JSONValue] = sections(text).map { chunk in
            ["type": "section", "text": ["type": "mrkdwn", "text": .string(chunk)]]
        }
        var index = 0
        for start in stride(from: 0, to: buttons.count, by: SlackSettings.maxActionsPerBlock) {
            let elements: [JSONValue] = buttons[start..<min(start + SlackSettings.maxActionsPerBlock, buttons.count)].map { button in
                defer { index += 1 }
                return [
                    "type": "button",
                    "action_id": .string("\(actionIDPrefix)\(index)"),
                    "value": .string(button.command),
                    "text": ["type": "plain_text", "text": .string(label(button)), "emoji": true],
                ]
            }
            blocks.append(["type": "actions", "elements": .array(elements)])
        }
        return .array(blocks)
    }

    /// The label as Slack shows it: never empty (the command stands in), at most 75 characters.
    static func label(_ button: ChatButton) -> String {
        let label = button.label.isEmpty ? button.command : button.label
        guard label.utf16.count > SlackSettings.maxButtonLabelLength else { return label }
        var cut = ""
        for character in label {
            if cut.utf16.count + character.utf16.count > SlackSettings.maxButtonLabelLength - 1 { break }
            cut.append(character)
        }
        return cut + "…"
    }

    /// `text` escaped and cut into pieces of at most `maxSectionTextLength` UTF-16 code units,
    /// at the last line break of a piece when it is in the piece's second half. Empty text gives
    /// no sections (a section needs text).
    static func sections(_ text: String, limit: Int = SlackSettings.maxSectionTextLength) -> [String] {
        var pieces: [String] = []
        var current = ""
        var currentLength = 0
        var lastBreak: (index: String.Index, length: Int)?
        for character in text {
            let escaped = escape(String(character))
            let length = escaped.utf16.count
            if currentLength + length > limit, !current.isEmpty {
                if let lastBreak, lastBreak.length * 2 >= limit {
                    pieces.append(String(current[..<lastBreak.index]))
                    current = String(current[lastBreak.index...])
                    currentLength -= lastBreak.length
                } else {
                    pieces.append(current)
                    current = ""
                    currentLength = 0
                }
                lastBreak = nil
            }
            current += escaped
            currentLength += length
            if character == "\n" { lastBreak = (current.endIndex, currentLength) }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// The JSON body of chat.postMessage or chat.update (without `ts`).
    static func body(channel: String, text: String, buttons: [ChatButton], threadTS: String?, isEdit: Bool) -> JSONValue {
        var body: [String: JSONValue] = ["channel": .string(channel), "text": .string(escape(text))]
        if let blocks = blocks(text: text, buttons: buttons) {
            body["blocks"] = blocks
        } else if isEdit {
            body["blocks"] = []
        }
        if let threadTS { body["thread_ts"] = .string(threadTS) }
        if !isEdit {
            body["unfurl_links"] = false
            body["unfurl_media"] = false
        }
        return .object(body)
    }
}
