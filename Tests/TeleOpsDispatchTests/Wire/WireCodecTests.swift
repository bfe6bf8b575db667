import Foundation
import TeleOpsCore
import Testing
@testable import TeleOpsDispatch

@Suite struct WireCodecTests {
    static let messages: [WireMessage] = [
        .hello(Hello(workerID: "web-1", hosts: ["web-1", "*"], labels: ["zone": "eu"], capacity: 4,
                     version: "1.0", pid: 42)),
        .welcome(Welcome(heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 5000)),
        .heartbeat(Heartbeat()),
        .heartbeat(Heartbeat(inFlight: 3)),
        .task(TaskRequest(taskID: "t1", action: "disk", host: "web-1", argv: ["df", "-h"], timeout: .seconds(10),
                          outputLimit: 65536)),
        .task(TaskRequest(taskID: "t2", action: "restart", host: "web-1", argv: ["systemctl", "restart", "nginx"],
                          timeout: .seconds(30), outputLimit: 4096, environment: ["UNIT": "nginx", "LANG": "C"],
                          workingDirectory: "/var/tmp", user: "ops", group: "ops",
                          limits: ResourceLimits(cpuSeconds: 5, openFiles: 64), workerID: "web-1-agent")),
        .accepted(TaskRef(taskID: "t1")),
        .output(TaskOutput(taskID: "t1", seq: 0, data: "Filesystem  Size\n")),
        .output(TaskOutput(taskID: "t1", seq: 7, data: "héllo ✓ 🚀\u{0}\t\"quoted\"")),
        .done(TaskResult(taskID: "t3", action: "x", worker: "w", exitCode: nil, signal: 15, timedOut: false,
                         durationMs: 250, output: "partial", truncated: false, cancelled: true)),
        .done(TaskResult(taskID: "t1", action: "disk", worker: "web-1", exitCode: 0, signal: nil, timedOut: false,
                         durationMs: 12.5, output: "ok\n", truncated: false)),
        .done(TaskResult(taskID: "t2", action: "x", worker: "w", exitCode: nil, signal: 9, timedOut: true,
                         durationMs: 1000, output: "", truncated: true)),
        .cancel(TaskRef(taskID: "t1")),
        .error(WireErrorBody(code: .busy, message: "full", taskID: "t1")),
        .error(WireErrorBody(code: .unregistered, message: "say HELLO")),
        .bye,
    ]

    @Test(arguments: messages)
    func roundTrip(_ message: WireMessage) throws {
        let frames = WireCodec.encode(message)
        #expect(frames.count == 3)
        #expect(String(decoding: frames[0], as: UTF8.self) == "teleops.v1")
        #expect(String(decoding: frames[1], as: UTF8.self) == message.type)
        #expect(try WireCodec.decode(frames).get() == message)
    }

    /// The codec writes and reads bodies by hand; they must say what the types' `Codable`
    /// conformances (which document the protocol's keys) say, and read what those write.
    @Test(arguments: messages)
    func bodiesAgreeWithCodable(_ message: WireMessage) throws {
        let codable = try Self.codableBody(message)
        let written = try JSONSerialization.jsonObject(with: Data(WireCodec.encode(message)[2])) as? NSDictionary
        let expected = try JSONSerialization.jsonObject(with: codable) as? NSDictionary
        #expect(written == expected)
        let frames = [Array(WireCodec.version.utf8), Array(message.type.utf8), Array(codable)]
        #expect(try WireCodec.decode(frames).get() == message)
    }

    static func codableBody(_ message: WireMessage) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        switch message {
        case .hello(let body): return try encoder.encode(body)
        case .welcome(let body): return try encoder.encode(body)
        case .heartbeat(let body): return try encoder.encode(body)
        case .task(let body): return try encoder.encode(body)
        case .accepted(let body), .cancel(let body): return try encoder.encode(body)
        case .output(let body): return try encoder.encode(body)
        case .done(let body): return try encoder.encode(body)
        case .error(let body): return try encoder.encode(body)
        case .bye: return Data("{}".utf8)
        }
    }

    @Test func keysAreSnakeCase() throws {
        let task = TaskRequest(taskID: "t1", action: "a", host: "h", argv: ["true"], timeout: .milliseconds(1500),
                               outputLimit: 10)
        let body = try Self.json(.task(task))
        #expect(Set(body.keys) == ["task_id", "action", "host", "argv", "timeout_ms", "output_limit"], "unset optional fields are left out")
        #expect(body["timeout_ms"] as? Int == 1500)
        let hello = try Self.json(.hello(Hello(workerID: "w", hosts: ["*"], capacity: 1, version: "v", pid: 1)))
        #expect(Set(hello.keys) == ["worker_id", "hosts", "labels", "capacity", "version", "pid"])
        let output = try Self.json(.output(TaskOutput(taskID: "t1", seq: 3, data: "x")))
        #expect(Set(output.keys) == ["task_id", "seq", "data"])
    }

    @Test func taskCarriesEnvironmentDirectoryUserLimitsAndPin() throws {
        let task = TaskRequest(taskID: "t1", action: "a", host: "h", argv: ["id"], timeout: .seconds(1), outputLimit: 10,
                               environment: ["A": "1"], workingDirectory: "/srv", user: "nobody", group: "nogroup",
                               limits: ResourceLimits(addressSpaceBytes: 1 << 30, processes: 20), workerID: "w-7")
        let body = try Self.json(.task(task))
        #expect(body["env"] as? [String: String] == ["A": "1"])
        #expect(body["cwd"] as? String == "/srv")
        #expect(body["user"] as? String == "nobody")
        #expect(body["group"] as? String == "nogroup")
        #expect(body["worker"] as? String == "w-7")
        let limits = try #require(body["limits"] as? [String: Any])
        #expect(Set(limits.keys) == ["address_space_bytes", "processes"])
        #expect(limits["address_space_bytes"] as? Int == 1 << 30)
    }

    @Test func doneSaysWhetherItWasCancelled() throws {
        let result = TaskResult(taskID: "t", action: "a", worker: "w", exitCode: nil, signal: 15, timedOut: false,
                                durationMs: 3, output: "", truncated: false, cancelled: true)
        #expect(try Self.json(.done(result))["cancelled"] as? Bool == true)
    }

    static func json(_ message: WireMessage) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(WireCodec.encode(message)[2])) as? [String: Any])
    }

    @Test func acceptsBodiesWrittenByHand() throws {
        let frames = [Array("teleops.v1".utf8), Array("DONE".utf8), Array("""
            {"task_id":"t","action":"a","worker":"w","exit_code":null,"signal":15,"timed_out":true,
             "duration_ms":3,"output":"","truncated":false}
            """.utf8)]
        guard case .done(let result) = try WireCodec.decode(frames).get() else {
            Issue.record("not DONE")
            return
        }
        #expect(result.exitCode == nil)
        #expect(result.signal == 15)
        #expect(!result.cancelled, "a DONE without 'cancelled' (an older worker) was not cancelled")
    }

    @Test func acceptsATaskWithoutTheNewFields() throws {
        let frames = [Array("teleops.v1".utf8), Array("TASK".utf8),
                      Array(#"{"task_id":"t","action":"a","host":"h","argv":["true"],"timeout_ms":5,"output_limit":9}"#.utf8)]
        guard case .task(let request) = try WireCodec.decode(frames).get() else {
            Issue.record("not TASK")
            return
        }
        #expect(request.environment.isEmpty)
        #expect(request.workingDirectory == nil && request.user == nil && request.limits == nil)
        #expect(request.workerID == nil)
    }

    @Test func aBodyOverTheLimitIsRefusedUnparsed() {
        let huge = [UInt8](repeating: UInt8(ascii: " "), count: WireCodec.maxBodyBytes + 1)
        switch WireCodec.decode([Array("teleops.v1".utf8), Array("DONE".utf8), huge]) {
        case .success(let message): Issue.record("decoded \(message)")
        case .failure(let error):
            #expect(error.code == .tooLarge)
            #expect(error.message.contains("\(WireCodec.maxBodyBytes + 1) bytes"), "\(error.message)")
        }
    }

    struct Malformed: CustomTestStringConvertible, Sendable {
        var name: String
        var frames: [[UInt8]]
        var code: WireErrorCode
        var mentions: String
        var testDescription: String { name }
    }

    static let v1 = Array("teleops.v1".utf8)
    static let malformed: [Malformed] = [
        Malformed(name: "no frames", frames: [], code: .badFrames, mentions: "got 0"),
        Malformed(name: "one frame", frames: [Array("garbage".utf8)], code: .badFrames, mentions: "got 1"),
        Malformed(name: "four frames", frames: [v1, Array("BYE".utf8), Array("{}".utf8), []],
                  code: .badFrames, mentions: "got 4"),
        Malformed(name: "old version", frames: [Array("teleops.v0".utf8), Array("BYE".utf8), Array("{}".utf8)],
                  code: .badVersion, mentions: "teleops.v0"),
        Malformed(name: "binary version", frames: [[0, 1, 2], Array("BYE".utf8), Array("{}".utf8)],
                  code: .badVersion, mentions: "expected 'teleops.v1'"),
        Malformed(name: "unknown type", frames: [v1, Array("EXPLODE".utf8), Array("{}".utf8)],
                  code: .badType, mentions: "EXPLODE"),
        Malformed(name: "lower-case type", frames: [v1, Array("hello".utf8), Array("{}".utf8)],
                  code: .badType, mentions: "hello"),
        Malformed(name: "not JSON", frames: [v1, Array("HEARTBEAT".utf8), Array("{nope".utf8)],
                  code: .badJSON, mentions: "not valid JSON"),
        Malformed(name: "empty body", frames: [v1, Array("BYE".utf8), []], code: .badJSON, mentions: "BYE"),
        Malformed(name: "missing field", frames: [v1, Array("ACCEPTED".utf8), Array("{}".utf8)],
                  code: .badJSON, mentions: "task_id"),
        Malformed(name: "wrong type", frames: [v1, Array("HELLO".utf8), Array("""
            {"worker_id":"w","hosts":"web-1","labels":{},"capacity":1,"version":"v","pid":1}
            """.utf8)], code: .badJSON, mentions: "hosts"),
        Malformed(name: "array body", frames: [v1, Array("TASK".utf8), Array("[1,2]".utf8)],
                  code: .badJSON, mentions: "TASK"),
        Malformed(name: "OUTPUT without seq", frames: [v1, Array("OUTPUT".utf8), Array(#"{"task_id":"t","data":"x"}"#.utf8)],
                  code: .badJSON, mentions: "seq"),
        Malformed(name: "OUTPUT with binary data",
                  frames: [v1, Array("OUTPUT".utf8), Array(#"{"task_id":"t","seq":0,"data":[1,2]}"#.utf8)],
                  code: .badJSON, mentions: "data"),
        Malformed(name: "TASK with a string for limits", frames: [v1, Array("TASK".utf8), Array(
            #"{"task_id":"t","action":"a","host":"h","argv":[],"timeout_ms":1,"output_limit":1,"limits":"none"}"#.utf8)],
                  code: .badJSON, mentions: "limits"),
    ]

    @Test(arguments: malformed)
    func malformedInputIsAnError(_ input: Malformed) {
        switch WireCodec.decode(input.frames) {
        case .success(let message):
            Issue.record("decoded \(message)")
        case .failure(let error):
            #expect(error.code == input.code)
            #expect(error.message.contains(input.mentions), "\(error.message)")
            guard case .error(let body) = error.reply else {
                Issue.record("reply is not ERROR")
                return
            }
            #expect(body.code == input.code.rawValue)
        }
    }
}
