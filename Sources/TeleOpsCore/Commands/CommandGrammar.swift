/// What an engineer asked for.
public enum Command: Sendable, Equatable {
    /// Run an action on the scenario's host, or, with `labels`, on every worker whose labels
    /// include them all (`run disk on role=web`).
    case run(action: String, arguments: [String], labels: [String: String] = [:])
    /// Stop the scenario's running commands (those whose task id starts with `task`, if given).
    case cancel(task: String?)
    case ack
    case resolve(note: String)
    case note(String)
    /// Keep repeats and escalations of the scenario out of chat for this long.
    case silence(Duration)
    case status
    /// The scenario's whole timeline, condensed for a phone.
    case history
    /// Give the scenario to another engineer (by their configured name), with a note for them.
    case handoff(to: String, note: String)
    case help
}

/// A reply that could not be understood, with what to type instead.
public struct CommandError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// One command of the chat grammar, declared rather than parsed by hand: help is generated from these.
public struct CommandSpec: Sendable {
    public let name: String
    /// How to type it, e.g. `run ACTION [ARGS]`.
    public let syntax: String
    public let help: String
    /// The role an engineer needs (nil: any listed engineer).
    public let requiredRole: String?
    /// Whether the command acts on a scenario (and so needs one to be open or named with `#N`).
    public let needsScenario: Bool
    let parse: @Sendable (_ arguments: String) throws(CommandError) -> Command

    public init(
        name: String, syntax: String, help: String, requiredRole: String?, needsScenario: Bool,
        parse: @escaping @Sendable (_ arguments: String) throws(CommandError) -> Command
    ) {
        self.name = name
        self.syntax = syntax
        self.help = help
        self.requiredRole = requiredRole
        self.needsScenario = needsScenario
        self.parse = parse
    }
}

/// A parsed reply: which scenario it names (if any) and the command.
public struct ParsedReply: Sendable {
    /// From a `#N` prefix; nil when the reply names no scenario.
    public var scenarioID: Int64?
    public var command: Command
    public var spec: CommandSpec
}

/// The reply grammar. A reply is `[#N] [/]NAME [ARGUMENTS]`: `#N` picks scenario N, a leading
/// `/` (and a Telegram `@botname` suffix) is accepted so chat command menus work.
///
/// ```swift
/// let reply = try CommandGrammar.standard.parse("#3 run disk /var")
/// reply.scenarioID  // 3
/// reply.command     // .run(action: "disk", arguments: ["/var"], labels: [:])
/// try CommandGrammar.standard.parse("run uptime on role=web,zone=eu").command
///                   // .run(action: "uptime", arguments: [], labels: ["role": "web", "zone": "eu"])
/// ```
public struct CommandGrammar: Sendable {
    public let specs: [CommandSpec]

    public init(specs: [CommandSpec]) {
        self.specs = specs
    }

    public static let standard = CommandGrammar(specs: [
        CommandSpec(
            name: "run", syntax: "run ACTION [on LABEL=VALUE[,…]] [ARGS]",
            help: "run an action from the catalogue on the scenario's host, or on every worker with those labels",
            requiredRole: Role.responder, needsScenario: true
        ) { arguments throws(CommandError) in
            var words = try tokenize(arguments)[...]
            guard let action = words.popFirst() else { throw CommandError("run needs an action: run ACTION [ARGS]") }
            var labels: [String: String] = [:]
            if words.first == "on" {
                words = words.dropFirst()
                guard let selector = words.popFirst() else {
                    throw CommandError("run \(action) on needs labels, as in: run \(action) on role=web")
                }
                labels = try parseLabels(selector)
            }
            return .run(action: action, arguments: Array(words), labels: labels)
        },
        CommandSpec(
            name: "cancel", syntax: "cancel [TASK]",
            help: "stop the scenario's running commands (or the one whose task id starts with TASK); their processes are killed",
            requiredRole: Role.responder, needsScenario: true
        ) { arguments throws(CommandError) in
            let words = try tokenize(arguments)
            guard words.count <= 1 else { throw CommandError("cancel takes at most a task id: cancel [TASK]") }
            return .cancel(task: words.first)
        },
        CommandSpec(
            name: "ack", syntax: "ack", help: "say you are on it", requiredRole: Role.responder, needsScenario: true
        ) { arguments throws(CommandError) in
            guard arguments.isEmpty else { throw CommandError("ack takes no arguments (use note TEXT to add one)") }
            return .ack
        },
        CommandSpec(
            name: "resolve", syntax: "resolve [NOTE]", help: "close the scenario, with what fixed it",
            requiredRole: Role.responder, needsScenario: true
        ) { arguments in .resolve(note: arguments) },
        CommandSpec(
            name: "note", syntax: "note TEXT", help: "add a note to the scenario log", requiredRole: Role.responder,
            needsScenario: true
        ) { arguments throws(CommandError) in
            guard !arguments.isEmpty else { throw CommandError("note needs some text: note TEXT") }
            return .note(arguments)
        },
        CommandSpec(
            name: "silence", syntax: "silence DURATION",
            help: "keep repeats and escalations out of chat for a while (30m, 1h, 2h30m; at most 7d)",
            requiredRole: Role.responder, needsScenario: true
        ) { arguments throws(CommandError) in
            guard let duration = ChatDuration.parse(arguments), duration <= ChatDuration.longestSilence else {
                throw CommandError("silence needs a duration from 1m to 7d, as in: silence 1h")
            }
            return .silence(duration)
        },
        CommandSpec(
            name: "status", syntax: "status", help: "show the scenario's state and latest events", requiredRole: nil,
            needsScenario: true
        ) { _ in .status },
        CommandSpec(
            name: "history", syntax: "history", help: "show the scenario's timeline: alerts, replies, commands and outcomes",
            requiredRole: nil, needsScenario: true
        ) { arguments throws(CommandError) in
            guard arguments.isEmpty else { throw CommandError("history takes no arguments") }
            return .history
        },
        CommandSpec(
            name: "handoff", syntax: "handoff @NAME [NOTE]",
            help: "give the scenario to another engineer, with the note they need",
            requiredRole: Role.responder, needsScenario: true
        ) { arguments throws(CommandError) in
            let name = arguments.prefix { !$0.isWhitespace }
            guard name.hasPrefix("@"), name.count > 1 else {
                throw CommandError("handoff needs an engineer: handoff @NAME [NOTE], as in: handoff @bo disk is at 97%, logs rotated")
            }
            return .handoff(to: String(name.dropFirst()),
                            note: String(arguments.dropFirst(name.count).drop(while: \.isWhitespace)))
        },
        CommandSpec(name: "help", syntax: "help", help: "list commands and actions", requiredRole: nil, needsScenario: false)
        { _ in .help },
    ])

    public func spec(named name: String) -> CommandSpec? {
        specs.first { $0.name == name }
    }

    public func parse(_ text: String) throws(CommandError) -> ParsedReply {
        var rest = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        var scenarioID: Int64?
        if rest.hasPrefix("#") {
            let digits = rest.dropFirst().prefix(while: \.isNumber)
            guard let number = Int64(digits), number > 0 else {
                throw CommandError("'#' must be followed by a scenario number, as in: #3 status")
            }
            scenarioID = number
            rest = rest.dropFirst(1 + digits.count).drop(while: \.isWhitespace)
        }
        if rest.hasPrefix("/") { rest = rest.dropFirst() }
        var word = rest.prefix { !$0.isWhitespace }
        let arguments = String(rest.dropFirst(word.count).drop(while: \.isWhitespace))
        if let at = word.firstIndex(of: "@") { word = word[..<at] }
        let name = word.lowercased()
        guard !name.isEmpty else { throw CommandError("empty reply; try: \(commandNames)") }
        guard let spec = spec(named: name) else {
            throw CommandError("unknown command '\(word)'; try: \(commandNames)")
        }
        return ParsedReply(scenarioID: scenarioID, command: try spec.parse(arguments), spec: spec)
    }

    /// The generated help: one line per command, then the actions that `run` accepts.
    public func helpText(actions: ActionCatalogue) -> String {
        var lines = ["Commands (prefix with #N to pick a scenario):"]
        for spec in specs { lines.append("  \(spec.syntax) — \(spec.help)") }
        lines.append("Actions:")
        for action in actions.actions { lines.append("  \(action.usage) — \(action.help)") }
        return lines.joined(separator: "\n")
    }

    private var commandNames: String { specs.map(\.name).joined(separator: ", ") }
}

/// `role=web,zone=eu` as a dictionary; every pair needs a non-empty label and value.
func parseLabels(_ selector: String) throws(CommandError) -> [String: String] {
    var labels: [String: String] = [:]
    for pair in selector.split(separator: ",", omittingEmptySubsequences: false) {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw CommandError("'\(pair)' is not LABEL=VALUE; write labels as role=web or role=web,zone=eu")
        }
        guard labels.updateValue(String(parts[1]), forKey: String(parts[0])) == nil else {
            throw CommandError("label '\(parts[0])' is given twice in '\(selector)'")
        }
    }
    return labels
}

/// Splits arguments on white space; single or double quotes keep spaces inside one argument.
func tokenize(_ text: String) throws(CommandError) -> [String] {
    var words: [String] = []
    var current = ""
    var inWord = false
    var quote: Character?
    for character in text {
        if let open = quote {
            if character == open { quote = nil } else { current.append(character) }
        } else if character == "\"" || character == "'" {
            quote = character
            inWord = true
        } else if character.isWhitespace {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        } else {
            current.append(character)
            inWord = true
        }
    }
    if let open = quote { throw CommandError("unterminated \(open) quote in: \(text)") }
    if inWord { words.append(current) }
    return words
}
