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

        // A real PNG of the size asked for, with something drawn in it. (Chromium lays a window out
        // no narrower than 500 px and crops the shot; the layout at a phone's width is measured by
        // `longContentFitsAPhoneAndItsLinksAreEasyToTap`.)
        let png = try await chromium.screenshot(server.baseURL + link, width: 412, height: 915)
        #expect(png.count > 10_000 && png.count < 5_000_000, "\(png.count) bytes")
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "the PNG signature")
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        #expect(Self.bigEndian(png[16..<20]) == 412 && Self.bigEndian(png[20..<24]) == 915, "412×915")
    }

    /// 64 hex digits, as a SHA-256 fingerprint or a certificate serial is shown.
    static let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    static let host = "ip-10-20-30-40.eu-west-1.compute.internal"
    static let runbook = "https://wiki.example.com/runbooks/tls/certificate-rotation-for-the-payments-gateway-ingress?section=renewal"
    static let longLine = "depth=0 CN = payments-gateway.internal.example.com, O = Example Payments Ltd, L = Dublin, C = IE "
        + "verify error:num=20:unable to get local issuer certificate verify return:1 notAfter=Nov 26 08:00:00 2026 GMT"
    /// An action whose command line and output are long: a long line of words, a long unbroken
    /// token, a long URL.
    static let certsAction = #"""
        actions:
          - name: certs
            help: the certificate chain the gateway serves
            argv: [sh, -c, 'printf ''%s\n'' "$@"', certs, '--servername=payments-gateway.internal.example.com',
                   '\#(longLine)',
                   'sha256_fingerprint=\#(hex):\#(hex)',
                   'https://crt.sh/?q=\#(hex)&output=json&exclude=expired&deduplicate=Y&match=exact']
            timeout: 10s
        """#

    /// What "readable on a phone" means here, in CSS px at each width.
    enum Phone {
        /// A common Android phone (412×915) and the narrowest in common use (360×800).
        static let sizes = [(width: 412, height: 915), (width: 360, height: 800)]
        /// No text is smaller (Lighthouse's "legible font sizes"): labels, badges, times, code.
        static let smallestText = 12.0
        /// The text one reads: the body, headings, summaries, timeline events, facts, rows.
        static let readingText = 14.0
        /// Text in form fields: iOS Safari zooms into a field whose text is smaller.
        static let fieldText = 16.0
        /// Every link, button, field and summary is at least this tall and wide: above WCAG 2.2's
        /// 24 px minimum (2.5.8), below the 44–48 px platform guidelines ask for buttons.
        static let target = 32.0
    }

    /// A scenario whose host, check, summary, labels, command line, output, note and outcome are
    /// long (long lines, 64-hex tokens, long URLs) fits a phone: the list and the scenario, as
    /// served, laid out by headless Chromium in frames 412 and 360 CSS px wide (every `<details>`
    /// opened) do not scroll sideways, have readable text, and links a thumb can hit.
    @Test func longContentFitsAPhoneAndItsLinksAreEasyToTap() async throws {
        let chromium = try HeadlessChromium.locate()
        let server = try await TeleOpsServer(extraYAML: Self.certsAction)
        defer { server.stop() }

        var alert: [String: Any] = [
            "host": Self.host, "check": "tls_certificate_pinned_sha256_\(Self.hex)", "severity": "critical", "status": "firing",
            "summary": "Certificate for https://payments-gateway.internal.example.com:8443/v2/health?region=eu-west-1&probe=synthetic-7 "
                + "expires in 3 days; its sha256 fingerprint \(Self.hex) is not the pinned one, and the renewal job has failed four "
                + "times in a row since the last deploy of the ingress controllers",
            "labels": ["runbook": Self.runbook, "pinned_sha256": Self.hex, "team": "payments"],
            "details": [
                "error": #"x509: certificate signed by unknown authority (possibly because of "crypto/rsa: verification error" "#
                    + #"while trying to verify candidate authority certificate "Example Internal CA 2")"#,
                "serial": Self.hex + Self.hex,
            ],
        ]
        // Fired, resolved by its source and fired again: #2 follows #1 (a link among the facts).
        #expect(try await server.post(JSONSerialization.data(withJSONObject: alert)).status == 202)
        try await server.console("#1 CRITICAL \(Self.host)")
        alert["status"] = "resolved"
        #expect(try await server.post(JSONSerialization.data(withJSONObject: alert)).status == 202)
        try await server.console("✅ #1 resolved by generic")
        alert["status"] = "firing"
        #expect(try await server.post(JSONSerialization.data(withJSONObject: alert)).status == 202)
        try await server.console("#2 CRITICAL \(Self.host)")
        _ = try await server.post(sample: "generic-disk.json")
        try await server.console("#3 CRITICAL web-1 · disk_usage")
        server.process.send("#2 run certs")
        try await server.console("#2 certs on \(Self.host): exit 0")
        server.process.send("#2 note pinned fingerprint \(Self.hex) replaced, see \(Self.runbook)")
        try await server.waitForEvent("note", of: 2)
        server.process.send("#2 resolve rotated the certificate; its sha256 is now \(Self.hex)")
        try await server.console("#2 resolved by operator")

        var pages: [(name: String, html: String)] = []
        for path in ["/scenarios", "/scenarios/2"] {
            let response = try await server.http.send(method: "GET", url: server.baseURL + path)
            #expect(response.status == 200, "GET \(path)")
            pages.append((path, String(decoding: response.body, as: UTF8.self)))
        }
        let detail = pages[1].html
        #expect(detail.contains("<pre>") && detail.contains("sha256_fingerprint=\(Self.hex)") && detail.contains("Follows"))

        let layouts = try await chromium.layout(of: pages, sizes: Phone.sizes)
        #expect(layouts.map { "\($0.page) \($0.frameWidth)" } == pages.flatMap { page in Phone.sizes.map { "\(page.name) \($0.width)" } })
        for layout in layouts {
            let page = "\(layout.page) at \(layout.frameWidth) px"
            try Self.expectFitsAPhone(layout, readingBlocks: 5)
            let targets = layout.targets.map(\.what)
            let expected = layout.page == "/scenarios"
                ? ["a.brand \"TeleOps\"", "input ", "select ", "button \"Search\"", "a \"Clear\"", "a.s-open \"open 1\"",
                   "a \"#1\"", "a \"#2\"", "a \"#3\""]
                : ["a \"← All scenarios\"", "a \"#1 (the last time this alert fired)\"", "summary \"Alert: 3 labels and details\"",
                   "summary \"Output, 4 lines\"", "a \"this scenario as JSON\""]
            for prefix in expected where !targets.contains(where: { $0.hasPrefix(prefix) }) {
                Issue.record("\(page): no \(prefix) among the targets measured: \(targets)")
            }
        }
    }

    /// The other pages a phone may land on fit it the same way: sign-in (asked for, and after a
    /// token that is not accepted), and the message pages (no such scenario, a bad id).
    @Test func signInAndMessagePagesFitAPhone() async throws {
        let chromium = try HeadlessChromium.locate()
        let token = "phone-layout-token-0123456789abcdef"
        let server = try await TeleOpsServer(extraYAML: "review:\n  tokens: [\"\(token)\"]\n")
        defer { server.stop() }
        let bearer = ["Authorization": "Bearer \(token)"]
        let form = ["Content-Type": "application/x-www-form-urlencoded"]
        let requests: [(name: String, method: String, path: String, headers: [String: String], body: String?, status: Int)] = [
            ("sign-in", "GET", "/scenarios", [:], nil, 401),
            ("sign-in refused", "POST", "/scenarios/login", form, "token=not-the-token-0123456789&next=%2Fscenarios", 401),
            ("not found", "GET", "/scenarios/999999", bearer, nil, 404),
            ("bad id", "GET", "/scenarios/yesterday", bearer, nil, 400),
        ]
        var pages: [(name: String, html: String)] = []
        for request in requests {
            let response = try await server.http.send(method: request.method, url: server.baseURL + request.path,
                                                      headers: request.headers, body: request.body.map { Data($0.utf8) })
            #expect(response.status == request.status, "\(request.method) \(request.path)")
            pages.append((request.name, String(decoding: response.body, as: UTF8.self)))
        }
        #expect(pages[0].html.contains(#"<form method="post" action="/scenarios/login">"#))
        #expect(pages[1].html.contains("That token is not accepted."))
        #expect(pages[2].html.contains("There is no scenario #999999."))

        let layouts = try await chromium.layout(of: pages, sizes: Phone.sizes)
        #expect(layouts.count == pages.count * Phone.sizes.count)
        for layout in layouts {
            try Self.expectFitsAPhone(layout, readingBlocks: 1)
            let page = "\(layout.page) at \(layout.frameWidth) px"
            let targets = layout.targets.map(\.what)
            let expected = layout.page.hasPrefix("sign-in") ? ["input ", "button \"Sign in\""] : ["a \"← All scenarios\""]
            for prefix in expected where !targets.contains(where: { $0.hasPrefix(prefix) }) {
                Issue.record("\(page): no \(prefix) among the targets measured: \(targets)")
            }
        }
    }

    /// What `Phone` asks of one page at one width: laid out at the phone's width, nothing past
    /// its edge, text no smaller than readable (and at least `readingBlocks` blocks of reading
    /// text), field text that does not make iOS zoom, and targets a thumb can hit on screen.
    static func expectFitsAPhone(_ layout: PhoneLayout, readingBlocks: Int) throws {
        let page = "\(layout.page) at \(layout.frameWidth) px"
        // The page asks for the phone's width, and is laid out at it.
        #expect(layout.viewport == "width=device-width, initial-scale=1", "\(page)")
        #expect(layout.innerWidth == layout.frameWidth && layout.clientWidth == layout.frameWidth, "\(page): \(layout.clientWidth) px wide")
        // Nothing makes the page scroll sideways or sticks out of it (output may scroll in its own box).
        #expect(layout.scrollWidth <= layout.innerWidth, "\(page) scrolls sideways to \(layout.scrollWidth) px: \(layout.outside)")
        #expect(layout.outside.isEmpty, "\(page): past the edge: \(layout.outside)")
        // Readable text.
        let smallest = try #require(layout.smallest, "\(page): no text measured")
        #expect(smallest.size >= Phone.smallestText, "\(page): \(smallest.size) px text: \(smallest.what)")
        #expect(layout.reading.count >= readingBlocks, "\(page): \(layout.reading.count) blocks of text")
        for text in layout.reading where text.size < Phone.readingText {
            Issue.record("\(page): \(text.size) px reading text: \(text.what)")
        }
        for field in layout.fields where field.size < Phone.fieldText {
            Issue.record("\(page): \(field.size) px text in a field: \(field.what)")
        }
        // Links, buttons and fields a thumb can hit, all within the screen.
        for target in layout.targets {
            #expect(target.height >= Phone.target && target.width >= Phone.target,
                    "\(page): \(target.what) is \(target.width)×\(target.height) px")
            #expect(target.left >= 0 && target.right <= Double(layout.frameWidth) + 0.5,
                    "\(page): \(target.what) spans \(target.left)…\(target.right) px")
        }
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

    /// `pages` (HTML as served) laid out at each of `sizes`, as a script measures them.
    ///
    /// The pages run no script and refuse to be framed (`frame-ancestors 'none'`), and Chromium
    /// lays a window out no narrower than 500 px and applies `<meta name="viewport">` only when it
    /// emulates a phone. So each page is put, unchanged, in a frame of the phone's size
    /// (`srcdoc`, same origin as the harness around it, sandboxed so that nothing in the page could
    /// run) of a harness page whose script measures the frame's document once everything loaded
    /// and writes the results into its own DOM, which `--dump-dom` returns.
    func layout(of pages: [(name: String, html: String)], sizes: [(width: Int, height: Int)]) async throws -> [PhoneLayout] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teleops-layout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let attribute = { (text: String) in text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;") }
        let frames = pages.flatMap { page in
            sizes.map { size in
                #"<iframe data-page="\#(attribute(page.name))" sandbox="allow-same-origin" width="\#(size.width)" "#
                    + #"height="\#(size.height)" style="display:block;border:0" srcdoc="\#(attribute(page.html))"></iframe>"#
            }
        }
        let harness = #"<!doctype html><html><head><meta charset="utf-8"><title>layout</title></head><body style="margin:0">"#
            + frames.joined() + #"<pre id="layout">pending</pre><script>"# + Self.measure + "</script></body></html>"
        let file = directory.appendingPathComponent("harness.html")
        try harness.write(to: file, atomically: true, encoding: .utf8)
        let dom = try await run(["--hide-scrollbars", "--virtual-time-budget=10000", "--dump-dom", file.absoluteString]).stdout
        guard let start = dom.range(of: #"<pre id="layout">"#), let end = dom[start.upperBound...].range(of: "</pre>") else {
            throw TestSetupError("no measurements in the harness page:\n\(dom.suffix(2000))")
        }
        let json = String(dom[start.upperBound..<end.lowerBound])
        do {
            return try JSONDecoder().decode([PhoneLayout].self, from: Data(json.utf8))
        } catch {
            throw TestSetupError("the harness page's measurements are not what was expected (\(error)): \(json.prefix(2000))")
        }
    }

    /// Measures each frame of the harness page, with every `<details>` opened, and writes the
    /// results (`[PhoneLayout]` as JSON, in ASCII, no `& < >`) into `#layout`.
    static let measure = #"""
        addEventListener('load', () => {
          const layouts = [];
          for (const frame of document.querySelectorAll('iframe')) {
            const win = frame.contentWindow, doc = frame.contentDocument, root = doc.documentElement;
            for (const details of doc.querySelectorAll('details')) details.open = true;
            const width = win.innerWidth;
            const what = (el) => el.tagName.toLowerCase() + [...el.classList].map((c) => '.' + c).join('')
              + ' "' + (el.value || el.textContent).trim().replace(/\s+/g, ' ').slice(0, 40) + '"';
            // Inside a box of its own that scrolls sideways, like long output in a <pre>.
            const inScrollBox = (node) => {
              for (let a = node.parentElement; a && a !== doc.body; a = a.parentElement) {
                if (['auto', 'scroll'].includes(win.getComputedStyle(a).overflowX)) return true;
              }
              return false;
            };
            const rendered = (el) => el.getClientRects().length > 0;
            const sticksOut = (r) => r.right > width + 0.5 || r.left < -0.5;
            const outside = [];
            for (const el of doc.body.querySelectorAll('*')) {
              if (rendered(el) && !inScrollBox(el) && [...el.getClientRects()].some(sticksOut)) outside.push(what(el));
            }
            let smallest = null;
            const texts = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
            for (let node = texts.nextNode(); node; node = texts.nextNode()) {
              const el = node.parentElement;
              if (!node.data.trim() || !rendered(el) || el.closest('select')) continue;
              // Text runs past its box's edge when nothing lets a long word break.
              const range = doc.createRange();
              range.selectNodeContents(node);
              if (!inScrollBox(node) && [...range.getClientRects()].some(sticksOut)) outside.push('text of ' + what(el));
              const size = parseFloat(win.getComputedStyle(el).fontSize);
              if (!smallest || size < smallest.size) smallest = {size, what: what(el)};
            }
            const sizes = (selector) => [...doc.querySelectorAll(selector)].filter(rendered)
              .map((el) => ({size: parseFloat(win.getComputedStyle(el).fontSize), what: what(el)}));
            const targets = [...doc.body.querySelectorAll('a[href], button, input:not([type=hidden]), select, summary')]
              .filter(rendered).map((el) => {
                const r = el.getBoundingClientRect();
                return {what: what(el), left: r.left, right: r.right, width: r.width, height: r.height};
              });
            const viewport = doc.querySelector('meta[name=viewport]');
            layouts.push({
              page: frame.dataset.page, frameWidth: frame.clientWidth, innerWidth: width, clientWidth: root.clientWidth,
              scrollWidth: root.scrollWidth, viewport: viewport && viewport.content, outside, smallest,
              reading: sizes('body, h1, h2, .summary, .outcome, .event, dl.facts dd, ul.scenarios li'),
              fields: sizes('input, select'), targets,
            });
          }
          document.getElementById('layout').textContent = JSON.stringify(layouts)
            .replace(/[^\x20-\x7e]|[&<>]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
        });
        """#

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

/// One page laid out in a frame of a phone's width, in CSS px (`HeadlessChromium.layout`).
struct PhoneLayout: Decodable {
    struct Text: Decodable {
        let size: Double
        /// The element: tag, classes and the start of its text.
        let what: String
    }

    struct Target: Decodable {
        let what: String
        let left: Double
        let right: Double
        let width: Double
        let height: Double
    }

    let page: String
    let frameWidth: Int
    let innerWidth: Int
    let clientWidth: Int
    /// The document's width: more than `innerWidth` when the page scrolls sideways.
    let scrollWidth: Int
    /// The content of `<meta name="viewport">`.
    let viewport: String?
    /// Elements and text that reach past the frame's edges, outside any box that scrolls.
    let outside: [String]
    /// The smallest text shown.
    let smallest: Text?
    /// The font sizes of the text one reads.
    let reading: [Text]
    /// The font sizes of form fields.
    let fields: [Text]
    /// Links, buttons, fields and summaries as shown.
    let targets: [Target]
}
