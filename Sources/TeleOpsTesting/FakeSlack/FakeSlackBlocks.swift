import Foundation
import TeleOpsCore

/// The part of Block Kit the fake checks and renders: the limits Slack documents for
/// section, actions, button, divider, context and header blocks (a message holds at most 50
/// blocks; a section's text at most 3,000 characters; an actions block 1 to 25 elements; a
/// button's plain_text label at most 75, `action_id` at most 255 and unique in the message,
/// `value` at most 2,000). Anything else is `invalid_blocks`, with json-pointer reasons as
/// Slack gives them.
enum FakeSlackBlocks {
    static func problems(in blocks: JSONValue) -> [String] {
        guard case .array(let items) = blocks else { return ["expected an array of blocks [json-pointer:/blocks]"] }
        var problems: [String] = []
        if items.count > 50 { problems.append("no more than 50 items allowed [json-pointer:/blocks]") }
        var actionIDs: Set<String> = []
        for (index, block) in items.enumerated() {
            let at = "/blocks/\(index)"
            guard case .object = block, let type = block["type"]?.stringValue else {
                problems.append("missing required field: type [json-pointer:\(at)]")
                continue
            }
            switch type {
            case "section":
                if block["text"] == nil && block["fields"] == nil {
                    problems.append("must provide either text or fields [json-pointer:\(at)]")
                }
                if let text = block["text"] {
                    problems += textProblems(text, at: "\(at)/text", types: ["plain_text", "mrkdwn"], maxLength: 3000)
                }
            case "actions":
                guard case .array(let elements)? = block["elements"], !elements.isEmpty else {
                    problems.append("must provide at least 1 element [json-pointer:\(at)/elements]")
                    continue
                }
                if elements.count > 25 { problems.append("no more than 25 items allowed [json-pointer:\(at)/elements]") }
                for (position, element) in elements.enumerated() {
                    let elementAt = "\(at)/elements/\(position)"
                    guard element["type"]?.stringValue == "button" else {
                        problems.append("unsupported element type [json-pointer:\(elementAt)/type]")
                        continue
                    }
                    problems += textProblems(element["text"] ?? .null, at: "\(elementAt)/text", types: ["plain_text"], maxLength: 75)
                    if let actionID = element["action_id"] {
                        guard let id = actionID.stringValue, !id.isEmpty, id.count <= 255 else {
                            problems.append("must be a string of 1 to 255 characters [json-pointer:\(elementAt)/action_id]")
                            continue
                        }
                        if !actionIDs.insert(id).inserted {
                            problems.append("action_id already exists [json-pointer:\(elementAt)/action_id]")
                        }
                    }
                    if let value = element["value"], (value.stringValue?.count ?? 2001) > 2000 {
                        problems.append("must be a string of at most 2000 characters [json-pointer:\(elementAt)/value]")
                    }
                }
            case "divider":
                break
            case "header":
                problems += textProblems(block["text"] ?? .null, at: "\(at)/text", types: ["plain_text"], maxLength: 150)
            case "context":
                if case .array(let elements)? = block["elements"], !elements.isEmpty, elements.count <= 10 {} else {
                    problems.append("must provide 1 to 10 elements [json-pointer:\(at)/elements]")
                }
            default:
                problems.append("unsupported block type '\(type)' [json-pointer:\(at)/type]")
            }
        }
        return problems
    }

    private static func textProblems(_ text: JSONValue, at: String, types: Set<String>, maxLength: Int) -> [String] {
        guard case .object = text, let type = text["type"]?.stringValue, types.contains(type) else {
            return ["must be a text object of type \(types.sorted().joined(separator: " or ")) [json-pointer:\(at)]"]
        }
        guard let string = text["text"]?.stringValue, !string.isEmpty else {
            return ["must be more than 0 characters [json-pointer:\(at)/text]"]
        }
        if string.count > maxLength { return ["must be less than \(maxLength + 1) characters [json-pointer:\(at)/text]"] }
        return []
    }

    /// What Slack shows for a message: its section and header texts one after another when
    /// it has blocks (Slack then does not show `text`), else `text`, rendered.
    static func shownText(text: String, blocks: JSONValue?) -> String {
        guard case .array(let items)? = blocks, !items.isEmpty else { return render(text) }
        var shown = ""
        for block in items {
            guard let type = block["type"]?.stringValue, type == "section" || type == "header",
                  let object = block["text"], let string = object["text"]?.stringValue
            else { continue }
            if !shown.isEmpty, !shown.hasSuffix("\n") { shown += "\n" }
            shown += object["type"]?.stringValue == "mrkdwn" ? render(string) : string
        }
        return shown
    }

    static func buttons(in blocks: JSONValue?) -> [FakeSlackButton] {
        guard case .array(let items)? = blocks else { return [] }
        return items.flatMap { block -> [FakeSlackButton] in
            guard block["type"]?.stringValue == "actions", case .array(let elements)? = block["elements"] else { return [] }
            return elements.compactMap { element in
                guard element["type"]?.stringValue == "button" else { return nil }
                return FakeSlackButton(
                    label: element["text"]?["text"]?.stringValue ?? "", value: element["value"]?.stringValue ?? "",
                    actionID: element["action_id"]?.stringValue ?? "", blockID: block["block_id"]?.stringValue)
            }
        }
    }

    /// Slack's mrkdwn as text: control sequences (`<https://x|label>` → `label`, `<https://x>`
    /// → `https://x`, `<@U1>` → `@U1`, `<!here>` → `@here`) and then the three escapes.
    static func render(_ text: String) -> String {
        var shown = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            shown += rest[..<open]
            let inner = rest[rest.index(after: open)..<close]
            let parts = inner.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count > 1 {
                shown += parts[1]
            } else if inner.hasPrefix("!") {
                shown += "@" + inner.dropFirst()
            } else {
                shown += inner
            }
            rest = rest[rest.index(after: close)...]
        }
        shown += rest
        return shown.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// How Slack stores what a person typed: `&`, `<` and `>` escaped, and http(s) URLs made
    /// into links (`<https://x>`).
    static func typed(_ text: String) -> String {
        let escaped = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        return escaped.split(separator: " ", omittingEmptySubsequences: false).map { word in
            word.hasPrefix("http://") || word.hasPrefix("https://") ? "<\(word)>" : String(word)
        }.joined(separator: " ")
    }
}
