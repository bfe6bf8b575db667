import Foundation
import TeleOpsChat
import TeleOpsTesting

/// The real `teleops serve` binary, started on a temporary data directory with a free HTTP
/// port and a free ZeroMQ port, for black-box tests.
final class TeleOpsServer: Sendable {
    let process: RunningProcess
    let dataDirectory: String
    let baseURL: String
    let http = CurlHTTPClient()

    /// The `teleops` binary built next to the tests (`swift build` builds it; `make test` does).
    static let executable: String = {
        let candidates = [
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("teleops").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/teleops").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }()

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Starts a server whose configuration is the test settings plus `extraYAML` (and
    /// `dispatchYAML` inside `dispatch:`, indented two spaces), on a new data directory or on
    /// `dataDirectory` (to restart on what an earlier server left).
    init(extraYAML: String = "", dispatchYAML: String = "", dataDirectory existing: String? = nil, httpPort: Int = 0) async throws {
        let directory = existing.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("teleops-acceptance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        dataDirectory = directory.path
        let configPath = directory.appendingPathComponent("teleops.yaml").path
        let yaml = """
            data_dir: \(directory.path)
            http:
              port: \(httpPort)
            dispatch:
              endpoint: tcp://127.0.0.1:*
              local_workers: 2
              heartbeat_interval: 200ms
              heartbeat_timeout: 1s
            \(dispatchYAML)
            \(extraYAML)
            """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw TestSetupError("no teleops binary at \(Self.executable); run `swift build` (make test does) first")
        }
        process = try RunningProcess(executable: Self.executable, arguments: ["serve", "--config", configPath])
        let line = try await process.stderr.waitFor(what: "the server to listen", timeout: .seconds(60)) {
            $0.contains("listening on http://")
        }
        guard let range = line.range(of: #"http://[0-9.]+:[0-9]+"#, options: .regularExpression) else {
            throw TestSetupError("cannot read the port from: \(line)")
        }
        baseURL = String(line[range])
    }

    func post(_ body: Data, source: String = "generic") async throws -> (status: Int, json: [String: Any]) {
        let response = try await http.send(
            method: "POST", url: "\(baseURL)/v1/alerts/\(source)", headers: ["Content-Type": "application/json"], body: body)
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        return (response.status, json)
    }

    func post(sample name: String) async throws -> (status: Int, json: [String: Any]) {
        try await post(Data(contentsOf: Self.repositoryRoot.appendingPathComponent("alerts/\(name)")))
    }

    /// Waits for a console line (standard output) containing `needle`, from line `from` on.
    @discardableResult
    func console(_ needle: String, from start: Int = 0, timeout: Duration = .seconds(20)) async throws -> String {
        do {
            return try await process.stdout.waitFor(what: "console output containing '\(needle)'", from: start, timeout: timeout) {
                $0.contains(needle)
            }
        } catch {
            throw TestSetupError("\(error)\n\(recentOutput)")
        }
    }

    /// The kinds of scenario `id`'s events, oldest first, from the review API.
    func eventKinds(of id: Int) async throws -> [String] {
        let response = try await http.send(method: "GET", url: "\(baseURL)/v1/scenarios/\(id)")
        guard response.status == 200 else { throw TestSetupError("GET /v1/scenarios/\(id): \(response.status)") }
        let events = (try JSONSerialization.jsonObject(with: response.body) as? [String: Any])?["events"] as? [[String: Any]]
        return events?.compactMap { $0["kind"] as? String } ?? []
    }

    /// Waits until scenario `id` has an event of `kind`. A message shows on the console before
    /// the sender records it as `notified`, so a test that orders the timeline waits for that.
    func waitForEvent(_ kind: String, of id: Int, timeout: Duration = .seconds(20)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while try await !eventKinds(of: id).contains(kind) {
            guard clock.now < deadline else {
                throw TestSetupError("no \(kind) event on scenario #\(id) after \(timeout)\n\(recentOutput)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The last lines the server wrote, for failure messages.
    var recentOutput: String {
        "--- server stdout (last 30 lines):\n" + process.stdout.all.suffix(30).joined(separator: "\n")
            + "\n--- server stderr (last 30 lines):\n" + process.stderr.all.suffix(30).joined(separator: "\n")
    }

    /// Runs `teleops ARGS --data DIR` to completion and returns its standard output.
    func cli(_ arguments: [String]) async throws -> String {
        let cli = try RunningProcess(executable: Self.executable, arguments: arguments + ["--data", dataDirectory])
        let status = try await cli.waitForExit()
        try await cli.waitForOutputEnd()
        let output = cli.stdout.all.joined(separator: "\n")
        guard status == 0 else {
            throw TestSetupError("teleops \(arguments.joined(separator: " ")) exited \(status): \(cli.stderr.all.joined(separator: "\n"))")
        }
        return output
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }
}

/// A TCP port on 127.0.0.1 kept for a server whose URL must be known before it starts (a
/// webhook URL in its own configuration, a client started first). The port stays bound, not
/// listening, until `release()`: nobody else is given it meanwhile (a port merely found free
/// went to another test's server under the full suite), connecting to it is refused, and the
/// server, which binds with SO_REUSEADDR as this does, can bind it before it is released.
final class ReservedLoopbackPort: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket: \(errno)") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        do {
            port = try Self.bindAnyPort(fd)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Call once the server listens on the port.
    func release() { close(fd) }

    private static func bindAnyPort(_ fd: Int32) throws -> Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestSetupError("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One line of /proc: a process with its parent, group, state and command line.
struct ProcEntry {
    var pid: Int32
    var parent: Int32
    var group: Int32
    var state: String
    var name: String
    var argv: [String]

    static func all() -> [ProcEntry] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> ProcEntry? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 2, let parent = Int32(fields[1]), let group = Int32(fields[2]) else { return nil }
            let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") ?? Data()
            return ProcEntry(
                pid: pid, parent: parent, group: group, state: String(fields[0]),
                name: String(stat[stat.index(after: open)..<close]),
                argv: cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
        }
    }
}

/// Processes alive or zombie in process group `pgid`.
func processesInGroup(_ pgid: Int32) -> [String] {
    ProcEntry.all().filter { $0.group == pgid }.map { "\($0.pid) (\($0.name)) state \($0.state)" }
}

/// Every child process of `parent`.
func allChildren(of parent: Int32) -> [Int32] {
    ProcEntry.all().filter { $0.parent == parent }.map(\.pid)
}

/// Child processes of `parent` whose command line is `argv`.
func children(of parent: Int32, running argv: [String]) -> [Int32] {
    ProcEntry.all().filter { $0.parent == parent && $0.argv == argv }.map(\.pid)
}
