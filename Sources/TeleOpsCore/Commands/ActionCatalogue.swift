import Foundation

/// The type of an action parameter. Values are checked before anything runs; none passes
/// through a shell, and none may start with `-`, so a value can never become an option.
public enum ParameterType: Sendable, Equatable {
    /// Letters, digits and `._:@+=,-` (a service name, a unit, a user).
    case word
    /// Any printable text up to 256 characters.
    case string
    /// A whole number, optionally bounded.
    case int(min: Int?, max: Int?)
    /// An absolute path without `..` components.
    case path
    /// One of a fixed list.
    case choice([String])

    /// The type's name as written in the configuration.
    public var name: String {
        switch self {
        case .word: "word"
        case .string: "string"
        case .int: "int"
        case .path: "path"
        case .choice: "choice"
        }
    }

    /// Nil when `value` is acceptable, else what is wrong with it.
    public func problem(with value: String) -> String? {
        if value.hasPrefix("-"), !(isInt && Int(value) != nil) {
            return "must not start with '-'"
        }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "must not contain control characters"
        }
        switch self {
        case .word:
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._:@+=,-"))
            guard !value.isEmpty, value.count <= 128, value.unicodeScalars.allSatisfy(allowed.contains) else {
                return "must be a word of letters, digits and ._:@+=,- (at most 128)"
            }
        case .string:
            guard value.count <= 256 else { return "must be at most 256 characters" }
        case .int(let min, let max):
            guard let number = Int(value) else { return "must be a whole number" }
            if let min, number < min { return "must be at least \(min)" }
            if let max, number > max { return "must be at most \(max)" }
        case .path:
            guard value.hasPrefix("/") else { return "must be an absolute path" }
            guard !value.split(separator: "/").contains("..") else { return "must not contain '..'" }
            guard value.count <= 4096 else { return "is too long" }
        case .choice(let options):
            guard options.contains(value) else { return "must be one of: \(options.joined(separator: ", "))" }
        }
        return nil
    }

    private var isInt: Bool {
        if case .int = self { true } else { false }
    }
}

/// A named, typed parameter of an action.
public struct ActionParameter: Sendable, Equatable {
    public var name: String
    public var type: ParameterType
    public var required: Bool
    public var defaultValue: String?

    public init(name: String, type: ParameterType, required: Bool = false, defaultValue: String? = nil) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
    }
}

/// A command the team allows from chat: an argv template with typed parameters.
///
/// An argv element may hold `{name}` placeholders; an element whose optional parameter has
/// no value is left out. No shell is involved unless the argv itself names one.
///
/// ```swift
/// let disk = ActionDefinition(name: "disk", help: "disk usage", argv: ["df", "-h", "{path}"],
///                             parameters: [ActionParameter(name: "path", type: .path)])
/// try disk.render(arguments: ["/var"])  // ["df", "-h", "/var"]
/// try disk.render(arguments: [])        // ["df", "-h"]
/// ```
public struct ActionDefinition: Sendable, Equatable {
    public var name: String
    public var help: String
    public var argv: [String]
    public var parameters: [ActionParameter]
    public var timeout: Duration
    public var outputLimit: Int
    /// Check names (`*` matches any run of characters, case-insensitive) for which this
    /// action is offered as a one-tap button under the alert.
    public var suggestFor: [String]
    /// Variables the command gets on top of the worker's allowlisted environment.
    public var environment: [String: String]
    /// The command's working directory on the worker (nil: the worker's).
    public var workingDirectory: String?
    /// The user and group to run as when the worker runs as root (nil: the worker's choice).
    public var user: String?
    public var group: String?
    /// Limits replacing the worker's defaults, field by field.
    public var limits: ResourceLimits?

    public init(
        name: String, help: String, argv: [String], parameters: [ActionParameter] = [],
        timeout: Duration = .seconds(30), outputLimit: Int = 64 * 1024, suggestFor: [String] = [],
        environment: [String: String] = [:], workingDirectory: String? = nil, user: String? = nil, group: String? = nil,
        limits: ResourceLimits? = nil
    ) {
        self.name = name
        self.help = help
        self.argv = argv
        self.parameters = parameters
        self.timeout = timeout
        self.outputLimit = outputLimit
        self.suggestFor = suggestFor
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.group = group
        self.limits = limits
    }

    /// The task for this action with rendered `argv`: on `host`, or pinned to `worker`.
    public func task(argv: [String], host: String, worker: String? = nil) -> TaskRequest {
        TaskRequest(
            action: name, host: host, argv: argv, timeout: timeout, outputLimit: outputLimit, environment: environment,
            workingDirectory: workingDirectory, user: user, group: group, limits: limits, workerID: worker)
    }

    /// Whether every parameter is optional or has a default: a button, which cannot ask for an
    /// argument, can run it (`ActionCatalogue.suggested`).
    var needsNoArgument: Bool { !parameters.contains { $0.required && $0.defaultValue == nil } }

    /// `disk [path]`, `restart SERVICE`: how to call it from chat.
    public var usage: String {
        ([name] + parameters.map { $0.required ? $0.name.uppercased() : "[\($0.name)]" }).joined(separator: " ")
    }

    /// Problems with the definition itself (for configuration checks): unknown placeholders,
    /// duplicate or invalid parameter names, an empty argv, bad limits.
    public func definitionProblems() -> [String] {
        var problems: [String] = []
        if argv.isEmpty { problems.append("argv must name a program") }
        if let first = argv.first, first.contains("{") { problems.append("the program (argv[0]) must not be a placeholder") }
        var seen: Set<String> = []
        for parameter in parameters {
            if !seen.insert(parameter.name).inserted { problems.append("parameter '\(parameter.name)' is declared twice") }
            if parameter.name.isEmpty || !parameter.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                problems.append("parameter name '\(parameter.name)' must be letters, digits or _")
            }
            if let value = parameter.defaultValue, let problem = parameter.type.problem(with: value) {
                problems.append("default of '\(parameter.name)' \(problem)")
            }
        }
        for element in argv {
            for placeholder in Self.placeholders(in: element) where !seen.contains(placeholder) {
                problems.append("argv uses {\(placeholder)} but no parameter has that name")
            }
        }
        for name in environment.keys.sorted() where !Self.isEnvironmentName(name) {
            problems.append("env name '\(name)' must be letters, digits or _ and not start with a digit")
        }
        if let workingDirectory, !workingDirectory.hasPrefix("/") {
            problems.append("cwd '\(workingDirectory)' must be an absolute path")
        }
        if timeout <= .zero { problems.append("timeout must be positive") }
        if outputLimit <= 0 { problems.append("output_limit must be positive") }
        return problems
    }

    /// Binds `arguments` (positional in declaration order, or `name=value`) and renders the argv.
    public func render(arguments: [String]) throws(CommandError) -> [String] {
        var values: [String: String] = [:]
        var position = 0
        for argument in arguments {
            if let equals = argument.firstIndex(of: "="),
               let parameter = parameters.first(where: { $0.name == String(argument[..<equals]) }) {
                values[parameter.name] = String(argument[argument.index(after: equals)...])
                continue
            }
            while position < parameters.count, values[parameters[position].name] != nil { position += 1 }
            guard position < parameters.count else {
                throw CommandError("too many arguments for \(name); usage: run \(usage)")
            }
            values[parameters[position].name] = argument
            position += 1
        }
        for parameter in parameters {
            if values[parameter.name] == nil { values[parameter.name] = parameter.defaultValue }
            guard let value = values[parameter.name] else {
                if parameter.required { throw CommandError("\(name) needs \(parameter.name.uppercased()); usage: run \(usage)") }
                continue
            }
            if let problem = parameter.type.problem(with: value) {
                throw CommandError("\(parameter.name) '\(value)' \(problem)")
            }
        }
        var rendered: [String] = []
        for element in argv {
            let names = Self.placeholders(in: element)
            if names.contains(where: { values[$0] == nil }) { continue }
            var text = element
            for name in names { text = text.replacingOccurrences(of: "{\(name)}", with: values[name]!) }
            rendered.append(text)
        }
        return rendered
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }

    static func placeholders(in element: String) -> [String] {
        var names: [String] = []
        var rest = Substring(element)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }
}

/// The actions that may run from chat.
public struct ActionCatalogue: Sendable, Equatable {
    public var actions: [ActionDefinition]

    public init(_ actions: [ActionDefinition]) {
        self.actions = actions
    }

    public subscript(name: String) -> ActionDefinition? {
        actions.first { $0.name == name }
    }

    /// The action suggested for `check` (see `ActionDefinition.suggestFor`): the first whose
    /// pattern names the check more closely than a bare `*`, else the first with `*`.
    public func suggested(for check: String) -> ActionDefinition? {
        var lowercased = check.lowercased()
        return lowercased.withUTF8 { check in
            var anyCheck: ActionDefinition?
            for action in actions where action.needsNoArgument {
                for pattern in action.suggestFor where Glob.matches(pattern, lowercasedUTF8: check) {
                    if pattern != "*" { return action }
                    anyCheck = anyCheck ?? action
                }
            }
            return anyCheck
        }
    }

    /// Harmless, read-only actions available with no configuration.
    public static let defaults = ActionCatalogue([
        ActionDefinition(name: "uptime", help: "how long the host has been up, and its load", argv: ["uptime"],
                         timeout: .seconds(10), suggestFor: ["*"]),
        ActionDefinition(name: "disk", help: "disk usage (df -h), optionally for one path", argv: ["df", "-h", "{path}"],
                         parameters: [ActionParameter(name: "path", type: .path)], timeout: .seconds(15),
                         suggestFor: ["*disk*", "*filesystem*", "*inode*"]),
        ActionDefinition(name: "load", help: "load averages and running processes", argv: ["cat", "/proc/loadavg"],
                         timeout: .seconds(10), suggestFor: ["*load*", "*cpu*"]),
        ActionDefinition(name: "memory", help: "memory and swap use (free -m)", argv: ["free", "-m"], timeout: .seconds(10),
                         suggestFor: ["*mem*", "*swap*", "*oom*"]),
        ActionDefinition(name: "who", help: "who is logged in", argv: ["who"], timeout: .seconds(10)),
    ])
}
