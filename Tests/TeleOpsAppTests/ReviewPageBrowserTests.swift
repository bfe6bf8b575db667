import Foundation
import Testing
import TeleOpsCore
import TeleOpsHTTP
import TeleOpsTesting
@testable import TeleOpsApp

/// Black-box: the real `teleops serve` with its SQLite log, alerts over HTTP and replies typed on
/// its console, then the scenario pages as headless Chromium loads and renders them: the list,
/// a search through the form's GET URL, a scenario reached by the link in the list, and a
/// phone-sized screenshot.
@Suite(.serialized) struct ReviewPageBrowserTests {
    static let markup = #"<script>document.title='pwned'</script> <b>load</b> 12 on 4 cores"#

    @Test func aPersonFindsAScenarioAndReadsItsTimelineInABrowser() async throws {
        let chromium = try HeadlessChromium.locate()
        let server = try await TeleOpsServer()
        defer { server.stop() }

        _ = try await server.post(sample: "generic-disk.json")
        try await server.console("#1 CRITICAL web-1 · disk_usage")
        try await server.waitForEvent("notified", of: 1)
        let alert = [
            "host": "db-1", "check": "load", "severity": "warning", "summary": Self.markup, "status": "firing",
        ]
        #expect(try await server.post(JSONSerialization.data(withJSONObject: alert)).status == 202)
        try await server.console("#2 WARNING db-1 · load")
        server.process.send("#1 run disk")
        try await server.console("#1 disk on web-1: exit 0")
        server.process.send("#1 note rotated nginx logs")
        // Replies are handled concurrently; an engineer sends the next once the note is taken.
        try await server.waitForEvent("note", of: 1)
        server.process.send("#1 resolve freed 6 GiB")
        try await server.console("#1 resolved by operator: freed 6 GiB")

        // The JSON API over the real store: full-text search through its index.
        let search = try await server.http.send(method: "GET", url: "\(server.baseURL)/v1/scenarios?q=nginx+logs")
        #expect(search.status == 200)
        let found = (try JSONSerialization.jsonObject(with: search.body) as? [String: Any])?["scenarios"] as? [[String: Any]]
        #expect(found?.compactMap { $0["id"] as? Int } == [1])

        // The list, as the browser builds it.
        let list = try await chromium.dumpDOM("\(server.baseURL)/scenarios")
        #expect(list.contains(#"<a href="/scenarios/2"><strong>#2</strong></a>"#))
        #expect(list.contains(#"<a href="/scenarios/1"><strong>#1</strong></a>"#))
        #expect(list.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt; &lt;b&gt;load&lt;/b&gt; 12"), "markup shows as text")
        #expect(list.contains("<title>Scenarios · TeleOps</title>") && !list.contains("pwned</title>"), "no script ran")
        #expect(!list.contains("<b>load</b>"))

        // A search: the URL the form's GET makes, from the form in the page.
        let searchURL = try Self.formURL(in: list, base: server.baseURL, filling: ["q": "nginx logs"])
        #expect(searchURL.contains("q=nginx+logs"))
        let results = try await chromium.dumpDOM(searchURL)
        #expect(results.contains(#"value="nginx logs""#))
        let links = Self.scenarioLinks(in: results)
        #expect(links == ["/scenarios/1"], "only the scenario whose note says it")

        // The scenario, by the link the list gave.
        let link = try #require(links.first)
        let detail = try await chromium.dumpDOM(server.baseURL + link)
        #expect(detail.contains("<h1>#1 web-1 · disk_usage</h1>"))
        #expect(detail.contains("Resolved by operator after"))
        #expect(detail.contains(": freed 6 GiB"))
        let timeline = try #require(detail.range(of: #"<ol class="timeline">"#).map { String(detail[$0.upperBound...]) })
        let headlines = ["Alert fired", "Notified", "Reply", "Command dispatched", "Command finished", "Note", "Resolved"]
        let positions = headlines.compactMap { timeline.range(of: ">\($0)</span>")?.lowerBound }
        let order = headlines.filter { timeline.contains(">\($0)</span>") }
            .sorted { timeline.range(of: ">\($0)</span>")!.lowerBound < timeline.range(of: ">\($1)</span>")!.lowerBound }
        #expect(positions.count == headlines.count && positions == positions.sorted(), "the timeline in order: \(order)")
        #expect(timeline.contains("on console, chat console"))
        #expect(timeline.contains("<code>#1 run disk</code>"))
        #expect(timeline.contains("<code>df -h</code>"))
        #expect(timeline.contains(": exit 0 in "))
        #expect(timeline.contains("<details><summary>Output, "))
        #expect(timeline.contains("Filesystem"))
        #expect(timeline.contains("rotated nginx logs"))
        #expect(detail.contains(#"<a href="/scenarios">← All scenarios</a>"#))

        // On a phone: a real PNG of the size asked for, with something drawn in it.
        let png = try await chromium.screenshot(server.baseURL + link, width: 412, height: 915)
        #expect(png.count > 10_000 && png.count < 5_000_000, "\(png.count) bytes")
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "the PNG signature")
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        #expect(Self.bigEndian(png[16..<20]) == 412 && Self.bigEndian(png[20..<24]) == 915, "412×915")
    }

    @Test func aMissingChromiumFailsTheTestWithHowToInstallIt() {
        #expect {
            try HeadlessChromium.locate(path: "/nonexistent")
        } throws: { error in
            "\(error)".contains("apt-get install -y chromium") && "\(error)".contains("make test")
        }
    }

    /// The URL a browser makes from the page's search form (GET): every field in order, empty
    /// ones included, `filling` set, form-encoded.
    static func formURL(in html: String, base: String, filling values: [String: String]) throws -> String {
        guard let start = html.range(of: #"<form class="filters" method="get" action=""#),
              let end = html[start.upperBound...].range(of: "</form>") else {
            throw TestSetupError("no search form in the page")
        }
        let action = String(html[start.upperBound...].prefix { $0 != "\"" })
        let form = String(html[start.upperBound..<end.lowerBound])
        let names = form.matches(of: /<(?:input|select)[^>]*name="([^"]+)"/).map { String($0.1) }
        guard names.contains("q") else { throw TestSetupError("the search form has no q field: \(names)") }
        let encode = { (text: String) in
            (text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text).replacingOccurrences(of: "%20", with: "+")
        }
        return base + action + "?" + names.map { "\($0)=\(encode(values[$0] ?? ""))" }.joined(separator: "&")
    }

    /// The scenario links of a list page's results, in order.
    static func scenarioLinks(in html: String) -> [String] {
        html.matches(of: /<a href="(\/scenarios\/[0-9]+)"><strong>#/).map { String($0.1) }
    }

    static func bigEndian(_ bytes: Data.SubSequence) -> Int {
        bytes.reduce(0) { $0 << 8 | Int($1) }
    }
}

/// Debian's `chromium`, run headless for one page at a time with a profile of its own, which
/// is removed afterwards. A run that outlives its deadline is killed, with every process that
/// carries its profile directory.
struct HeadlessChromium {
    let executable: String
    static let deadline: Duration = .seconds(90)

    /// `chromium` on the PATH (or at `path`); when it is missing, an error saying how to install it.
    static func locate(path: String? = nil) throws -> HeadlessChromium {
        let candidates = path.map { [$0] }
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/chromium" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestSetupError(
                "chromium is not installed, and the scenario pages are tested in it: run `make test` (it installs it) or "
                    + "`sudo apt-get update && sudo apt-get install -y chromium` (scripts/install-deps.sh --test)")
        }
        return HeadlessChromium(executable: found)
    }

    /// The page's DOM after it loaded, as Chromium serializes it.
    func dumpDOM(_ url: String) async throws -> String {
        try await run(["--dump-dom", url]).stdout
    }

    /// A screenshot of the page in a window of `width`×`height`, as PNG bytes.
    func screenshot(_ url: String, width: Int, height: Int) async throws -> Data {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-shot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("page.png").path
        _ = try await run(["--screenshot=\(file)", "--window-size=\(width),\(height)", "--hide-scrollbars", url])
        return try Data(contentsOf: URL(fileURLWithPath: file))
    }

    private func run(_ arguments: [String]) async throws -> (stdout: String, status: Int32) {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-chromium-\(UUID().uuidString)").path
        defer {
            for entry in ProcEntry.all() where entry.argv.contains("--user-data-dir=\(profile)") { kill(entry.pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: profile)
        }
        let process = try RunningProcess(
            executable: executable,
            arguments: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)"] + arguments)
        defer { process.stop() }
        let status: Int32
        do {
            status = try await process.waitForExit(timeout: Self.deadline)
            try await process.waitForOutputEnd()
        } catch {
            throw TestSetupError("chromium \(arguments.joined(separator: " ")): \(error)\n" + process.stderr.all.suffix(20).joined(separator: "\n"))
        }
        guard status == 0 else {
            throw TestSetupError(
                "chromium \(arguments.joined(separator: " ")) exited \(status):\n" + process.stderr.all.suffix(20).joined(separator: "\n"))
        }
        return (process.stdout.all.joined(separator: "\n"), status)
    }
}
