import TeleOpsCore

/// The JSON body of each message type, written and read field by field (see `WireJSONWriter`
/// and `WireJSONReader`). Keys are written in sorted order.
extension WireCodec {
    static func body(of message: WireMessage) -> [UInt8] {
        var json = WireJSONWriter()
        switch message {
        case .hello(let hello):
            json.field("capacity", hello.capacity)
            json.field("hosts", hello.hosts)
            json.field("labels", hello.labels)
            json.field("pid", hello.pid)
            json.field("version", hello.version)
            json.field("worker_id", hello.workerID)
        case .welcome(let welcome):
            json.field("heartbeat_interval_ms", welcome.heartbeatIntervalMs)
            json.field("heartbeat_timeout_ms", welcome.heartbeatTimeoutMs)
        case .heartbeat(let heartbeat):
            json.field("in_flight", heartbeat.inFlight)
        case .task(let task):
            json.field("action", task.action)
            json.field("argv", task.argv)
            json.field("cwd", task.workingDirectory)
            if !task.environment.isEmpty { json.field("env", task.environment) }
            json.field("group", task.group)
            json.field("host", task.host)
            if let limits = task.limits {
                json.object("limits") { limits.write(to: &$0) }
            }
            json.field("output_limit", task.outputLimit)
            json.field("task_id", task.taskID)
            json.field("timeout_ms", task.timeoutMs)
            json.field("user", task.user)
            json.field("worker", task.workerID)
        case .accepted(let ref), .cancel(let ref):
            json.field("task_id", ref.taskID)
        case .output(let chunk):
            json = WireJSONWriter(capacity: chunk.data.utf8.count + 64)
            json.field("data", chunk.data)
            json.field("seq", chunk.seq)
            json.field("task_id", chunk.taskID)
        case .done(let result):
            json = WireJSONWriter(capacity: result.output.utf8.count + 192)
            json.field("action", result.action)
            json.field("cancelled", result.cancelled)
            json.field("duration_ms", result.durationMs)
            json.field("exit_code", result.exitCode)
            json.field("output", result.output)
            json.field("signal", result.signal)
            json.field("task_id", result.taskID)
            json.field("timed_out", result.timedOut)
            json.field("truncated", result.truncated)
            json.field("worker", result.worker)
        case .error(let body):
            json.field("code", body.code)
            json.field("message", body.message)
            json.field("task_id", body.taskID)
        case .bye:
            break
        }
        return json.bytes
    }

    /// The message of type `type` (already known to be one of ours) from its body.
    static func message(type: String, body: [UInt8]) throws(WireDecodeError) -> WireMessage {
        let json = try WireJSONReader(body, message: type)
        switch type {
        case "HELLO":
            return .hello(Hello(workerID: try json.string("worker_id"), hosts: try json.strings("hosts"),
                                labels: try json.optionalStringMap("labels") ?? [:], capacity: try json.int("capacity"),
                                version: try json.string("version"), pid: try json.int32("pid")))
        case "WELCOME":
            return .welcome(Welcome(heartbeatIntervalMs: try json.int("heartbeat_interval_ms"),
                                    heartbeatTimeoutMs: try json.int("heartbeat_timeout_ms")))
        case "HEARTBEAT":
            return .heartbeat(Heartbeat(inFlight: try json.optionalInt("in_flight")))
        case "TASK":
            var task = TaskRequest(
                taskID: try json.string("task_id"), action: try json.string("action"), host: try json.string("host"),
                argv: try json.strings("argv"), timeout: .zero, outputLimit: try json.int("output_limit"),
                environment: try json.optionalStringMap("env") ?? [:], workingDirectory: try json.optionalString("cwd"),
                user: try json.optionalString("user"), group: try json.optionalString("group"),
                limits: try json.optionalObject("limits").map { limits throws(WireDecodeError) in
                    try ResourceLimits(limits)
                },
                workerID: try json.optionalString("worker"))
            task.timeoutMs = try json.int("timeout_ms")
            return .task(task)
        case "ACCEPTED":
            return .accepted(TaskRef(taskID: try json.string("task_id")))
        case "CANCEL":
            return .cancel(TaskRef(taskID: try json.string("task_id")))
        case "OUTPUT":
            return .output(TaskOutput(taskID: try json.string("task_id"), seq: try json.int("seq"),
                                      data: try json.string("data")))
        case "DONE":
            return .done(TaskResult(
                taskID: try json.string("task_id"), action: try json.string("action"), worker: try json.string("worker"),
                exitCode: try json.optionalInt32("exit_code"), signal: try json.optionalInt32("signal"),
                timedOut: try json.bool("timed_out"), durationMs: try json.double("duration_ms"),
                output: try json.string("output"), truncated: try json.bool("truncated"),
                cancelled: try json.optionalBool("cancelled") ?? false))
        case "ERROR":
            var body = WireErrorBody(code: .unexpected, message: try json.string("message"),
                                     taskID: try json.optionalString("task_id"))
            body.code = try json.string("code")  // codes this side does not know are kept as they are
            return .error(body)
        case "BYE":
            return .bye
        default:
            throw WireDecodeError(.badType, "unknown message type '\(printable(type))'; known: \(knownTypes)")
        }
    }
}

extension ResourceLimits {
    fileprivate init(_ json: WireJSONReader) throws(WireDecodeError) {
        self.init(cpuSeconds: try json.optionalInt("cpu_seconds"),
                  addressSpaceBytes: try json.optionalInt("address_space_bytes"),
                  openFiles: try json.optionalInt("open_files"), processes: try json.optionalInt("processes"))
    }

    fileprivate func write(to json: inout WireJSONWriter) {
        json.field("address_space_bytes", addressSpaceBytes)
        json.field("cpu_seconds", cpuSeconds)
        json.field("open_files", openFiles)
        json.field("processes", processes)
    }
}
