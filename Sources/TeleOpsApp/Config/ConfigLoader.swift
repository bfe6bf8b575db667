import Foundation
import TeleOpsCore
import TeleOpsDispatch
import Yams

/// Reads a YAML configuration over the embedded defaults. Unknown keys, wrong types and
/// unsafe combinations are errors naming the key and line; the server refuses to start.
///
/// ```swift
/// let config = try ConfigLoader.load(path: "teleops.yaml")
/// ```
public enum ConfigLoader {
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> TeleOpsConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, key: "", message: "cannot be read: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: path, environment: environment)
    }

    /// `environment` supplies chat tokens not given as files (`TELEOPS_TELEGRAM_TOKEN`, …).
    public static func parse(
        yaml: String, file: String = "<config>", environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> TeleOpsConfig {
        var config = TeleOpsConfig()
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(file: file, key: "", message: "is not valid YAML: \(error)".trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let root else { return config }
        let top = try YAMLValue(node: root, key: "", file: file)
            .fields(allowed: [
                "data_dir", "http", "intake", "sources", "statsd", "dispatch", "console", "chat", "engineers", "actions",
                "default_actions", "retention", "review",
            ])

        if let value = top["data_dir"] { config.dataDirectory = try value.string() }
        let hostValue = try top["http"].flatMap { value throws(ConfigError) in try readHTTP(value, into: &config) }
        if let value = top["sources"] { try readSources(value, into: &config.http) }
        if let value = top["review"] { config.http.review = try readReview(value) }
        if let value = top["intake"] { try readIntake(value, into: &config.intake) }
        if let value = top["statsd"] { config.statsd = try readStatsd(value) }
        if let host = hostValue, !isLoopback(config.http.host), !config.http.unauthenticatedSources.isEmpty {
            throw host.error(
                "'\(config.http.host)' is not a loopback address, and these enabled sources have no token: "
                    + "\(config.http.unauthenticatedSources.joined(separator: ", ")); give each a token (sources.NAME.token_file), "
                    + "or disable it (sources.NAME.enabled: false)")
        }
        if let value = top["dispatch"] { try readDispatch(value, into: &config) }
        if let value = top["console"] {
            let fields = try value.fields(allowed: ["operator"])
            if let name = fields["operator"] { config.console.operatorID = try name.string() }
        }
        if let value = top["chat"] { config.chat = try readChat(value, environment: environment) }
        if let value = top["engineers"] { config.engineers = try readEngineers(value) }
        if let value = top["retention"] { config.retention = try readRetention(value) }
        var actions = try top["default_actions"]?.bool() ?? true ? ActionCatalogue.defaults.actions : []
        if let value = top["actions"] {
            for action in try readActions(value) {
                actions.removeAll { $0.name == action.name }
                actions.append(action)
            }
        }
        config.actions = ActionCatalogue(actions)
        return config
    }

    /// Reads `http:`; returns the `host` value, for the check that needs the sources too.
    private static func readHTTP(_ value: YAMLValue, into config: inout TeleOpsConfig) throws(ConfigError) -> YAMLValue? {
        let fields = try value.fields(allowed: ["host", "port", "max_body_bytes"])
        // Off loopback, every enabled source needs a credential; checked once sources are read.
        if let host = fields["host"] { config.http.host = try host.string() }
        if let port = fields["port"] { config.http.port = try port.int(in: 0...65535) }
        if let size = fields["max_body_bytes"] { config.http.maxBodyBytes = try size.int(in: 1024...(64 << 20)) }
        return fields["host"]
    }

    private static func readDispatch(_ value: YAMLValue, into config: inout TeleOpsConfig) throws(ConfigError) {
        let fields = try value.fields(allowed: [
            "endpoint", "local_workers", "worker_capacity", "worker_user", "worker_group", "heartbeat_interval",
            "heartbeat_timeout", "max_queued", "curve",
        ])
        if let endpoint = fields["endpoint"] {
            let text = try endpoint.string()
            guard text.hasPrefix("tcp://") || text.hasPrefix("ipc://") else {
                throw endpoint.error("expected a ZeroMQ endpoint such as tcp://127.0.0.1:7311 or ipc:///run/teleops.sock, found '\(text)'")
            }
            config.dispatch.endpoint = text
        }
        if let count = fields["local_workers"] { config.dispatch.localWorkers = try count.int(in: 0...64) }
        if let capacity = fields["worker_capacity"] { config.dispatch.workerCapacity = try capacity.int(in: 1...1024) }
        if let user = fields["worker_user"] { config.dispatch.workerUser = try user.string() }
        if let group = fields["worker_group"] {
            guard fields["worker_user"] != nil else { throw group.error("worker_group needs worker_user: root with another group is still root") }
            config.dispatch.workerGroup = try group.string()
        }
        if let interval = fields["heartbeat_interval"] { config.dispatch.heartbeatInterval = try interval.duration() }
        if let timeout = fields["heartbeat_timeout"] { config.dispatch.heartbeatTimeout = try timeout.duration() }
        if let queued = fields["max_queued"] { config.dispatch.maxQueued = try queued.int(in: 0...1_000_000) }
        if let curve = fields["curve"] { config.dispatch.curve = try readCurve(curve) }
        try checkDispatchSecurity(fields, config.dispatch)  // off loopback only with CURVE
        if config.dispatch.heartbeatTimeout < config.dispatch.heartbeatInterval * 2 {
            throw (fields["heartbeat_timeout"] ?? value).error("heartbeat_timeout must be at least twice heartbeat_interval")
        }
    }

    private static func readEngineers(_ value: YAMLValue) throws(ConfigError) -> [Engineer] {
        var engineers: [Engineer] = []
        for item in try value.list() {
            let fields = try item.fields(allowed: ["name", "roles", "console", "telegram", "slack"])
            let name = try fields.required("name").string()
            guard !engineers.contains(where: { $0.name == name }) else { throw item.error("engineer '\(name)' is listed twice") }
            var identities: [String: String] = [:]
            for transport in ["console", "telegram", "slack"] {
                if let id = fields[transport] { identities[transport] = try id.string() }
            }
            let roles = try fields["roles"]?.strings() ?? [Role.responder]
            engineers.append(Engineer(name: name, roles: Set(roles), identities: identities))
        }
        return engineers
    }

    private static func readActions(_ value: YAMLValue) throws(ConfigError) -> [ActionDefinition] {
        var actions: [ActionDefinition] = []
        for item in try value.list() {
            let fields = try item.fields(allowed: [
                "name", "help", "argv", "params", "timeout", "output_limit", "suggest_for", "env", "cwd", "user", "group",
                "limits",
            ])
            let nameValue = try fields.required("name")
            let name = try nameValue.string()
            // Its buttons carry `#N run NAME` as Telegram's callback_data, 64 bytes at most.
            let maxName = NotificationComposer.maxActionNameBytes
            guard name.utf8.count <= maxName else {
                throw nameValue.error(
                    "action '\(name)': the name is \(name.utf8.count) bytes; at most \(maxName) fit in its chat button (#N run NAME, 64 bytes on Telegram)")
            }
            var action = ActionDefinition(name: name, help: try fields["help"]?.string() ?? name, argv: try fields.required("argv").strings())
            if let params = fields["params"] {
                for param in try params.list() { action.parameters.append(try readParameter(param)) }
            }
            if let timeout = fields["timeout"] { action.timeout = try timeout.duration() }
            if let limit = fields["output_limit"] {
                action.outputLimit = try limit.int(in: 1...Int.max)
                guard action.outputLimit <= WireCodec.maxOutputLimit else {
                    throw limit.error("at most \(WireCodec.maxOutputLimit) bytes: the result travels in one message of at most "
                        + "\(WireCodec.maxBodyBytes >> 20) MiB, and escaping can make output six times larger")
                }
            }
            if let checks = fields["suggest_for"] { action.suggestFor = try checks.strings() }
            if let env = fields["env"] { action.environment = try env.stringMap() }
            action.workingDirectory = try fields["cwd"]?.string()
            action.user = try fields["user"]?.string()
            action.group = try fields["group"]?.string()
            if let limits = fields["limits"] { action.limits = try readLimits(limits) }
            if let problem = action.definitionProblems().first { throw item.error("action '\(name)': \(problem)") }
            guard !actions.contains(where: { $0.name == name }) else { throw item.error("action '\(name)' is defined twice") }
            actions.append(action)
        }
        return actions
    }

    /// `limits: {cpu: 60s, address_space_mb: 512, open_files: 256, processes: 64}`.
    static func readLimits(_ value: YAMLValue) throws(ConfigError) -> ResourceLimits {
        let fields = try value.fields(allowed: ["cpu", "address_space_mb", "open_files", "processes"])
        var limits = ResourceLimits()
        if let cpu = fields["cpu"] {
            let duration = try cpu.duration()
            guard duration >= .seconds(1) else { throw cpu.error("the CPU limit must be at least 1s (setrlimit counts whole seconds)") }
            limits.cpuSeconds = Int(duration.components.seconds)
        }
        if let memory = fields["address_space_mb"] { limits.addressSpaceBytes = try memory.int(in: 16...(1 << 24)) << 20 }
        if let files = fields["open_files"] { limits.openFiles = try files.int(in: 16...(1 << 20)) }
        if let processes = fields["processes"] { limits.processes = try processes.int(in: 1...(1 << 22)) }
        return limits
    }

    private static func readParameter(_ value: YAMLValue) throws(ConfigError) -> ActionParameter {
        let fields = try value.fields(allowed: ["name", "type", "required", "default", "min", "max", "choices"])
        let name = try fields.required("name").string()
        let typeValue = try fields.required("type")
        let type: ParameterType
        switch try typeValue.string() {
        case "word": type = .word
        case "string": type = .string
        case "path": type = .path
        case "int": type = .int(min: try fields["min"]?.int(in: Int.min...Int.max), max: try fields["max"]?.int(in: Int.min...Int.max))
        case "choice": type = .choice(try fields.required("choices").strings())
        case let other: throw typeValue.error("unknown parameter type '\(other)'; expected word, string, int, path or choice")
        }
        return ActionParameter(
            name: name, type: type, required: try fields["required"]?.bool() ?? false,
            defaultValue: try fields["default"]?.string())
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
