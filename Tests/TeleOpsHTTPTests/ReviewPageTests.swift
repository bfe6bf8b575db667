import Foundation
import TeleOpsChat
import TeleOpsCore
@testable import TeleOpsHTTP
import TeleOpsTesting
import Testing

/// `/scenarios` and `/scenarios/{id}`: server-rendered HTML, over real HTTP, on the
/// `ReviewFixture` log.
@Suite struct ReviewPageTests {
    @Test func theListHasTheFormCountsRowsAndPaging() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            let page = try await server.get("/scenarios?limit=2&host=web-1")
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            let html = page.text
            #expect(html.contains(#"<meta name="viewport" content="width=device-width, initial-scale=1">"#))
            #expect(html.contains(#"<form class="filters" method="get" action="/scenarios""#))
            #expect(html.contains(#"<input name="host" value="web-1""#), "the form keeps what was asked")
            #expect(html.contains(#"<input type="hidden" name="limit" value="2">"#), "a filter without a field is kept")
            for (status, count) in [("open", 1), ("acknowledged", 0), ("resolved", 1)] {
                #expect(html.contains(#"href="/scenarios?status=\#(status)&amp;host=web-1&amp;limit=2">\#(status) \#(count)</a>"#), "\(status)")
            }
            #expect(html.contains(#">all 2</a>"#))
            #expect(html.contains(#"<a href="/scenarios/4"><strong>#4</strong></a>"#))
            #expect(html.contains(#"<a href="/scenarios/1"><strong>#1</strong></a>"#))
            #expect(html.contains("lasted 42m"))
            #expect(html.contains("2026-03-01 09:00:00 UTC"))
            #expect(!html.contains(#"href="/scenarios/2""#), "only web-1")

            let first = try await server.get("/scenarios?limit=2")
            #expect(first.text.contains(#"<a href="/scenarios?limit=2&amp;before=4" rel="next">Older →</a>"#))
            #expect(!first.text.contains("Newest"))
            let last = try await server.get("/scenarios?limit=2&before=2")
            #expect(last.text.contains(#"<a href="/scenarios?limit=2">← Newest</a>"#))
            #expect(!last.text.contains("Older"))
        }
    }

    @Test func aSearchFromTheFormFindsAndCountsWhatItFound() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            // What the form's GET sends: every field, empty ones too, spaces as +.
            let page = try await server.get("/scenarios?q=nginx+logs&status=&severity=&host=&check=&engineer=")
            #expect(page.status == 200)
            #expect(page.text.contains(#"href="/scenarios/1""#))
            #expect(!page.text.contains(#"href="/scenarios/4""#))
            #expect(page.text.contains(#"value="nginx logs""#))
            #expect(page.text.contains(#">resolved 1</a>"#) && page.text.contains(#">open 0</a>"#), "counts of what the words found")
            #expect(page.text.contains(#">all 1</a>"#))
        }
    }

    @Test func theFormPicksSourceAndOpeningTimesAndKeepsThem() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            let blank = try await server.get("/scenarios").text
            for name in ["source", "since", "until"] {
                #expect(blank.contains(#"<input name="\#(name)" value="""#), "a field for \(name)")
            }
            #expect(blank.contains(#"placeholder="24h, 7d, 2026-11-20""#))
            #expect(blank.contains("Times: \(QueryTime.accepted)"), "what the time fields accept is on the page")

            // What the form's GET sends, with a source and a time picked (#3 and #4 are generic and
            // opened after 10:30; #1 is generic but earlier, #2 and #5 come from other sources).
            let form = "/scenarios?q=&status=&severity=&host=&check=&source=generic&engineer="
                + "&since=2026-03-01T10%3A30%3A00Z&until="
            let page = try await server.get(form)
            #expect(page.status == 200)
            let html = page.text
            #expect(html.contains(#"href="/scenarios/3""#) && html.contains(#"href="/scenarios/4""#))
            for id in [1, 2, 5] { #expect(!html.contains(#"href="/scenarios/\#(id)""#), "#\(id)") }
            #expect(html.contains(#"<input name="source" value="generic""#))
            #expect(html.contains(#"<input name="since" value="2026-03-01T10:30:00Z""#))
            #expect(!html.contains(#"type="hidden" name="since""#), "a field, not a hidden input")
            #expect(html.contains(#">all 2</a>"#))

            // Paging and status links keep them.
            let paged = try await server.get(form + "&limit=1").text
            #expect(paged.contains(
                #"<a href="/scenarios?source=generic&amp;since=2026-03-01T10%3A30%3A00Z&amp;limit=1&amp;before=4" rel="next">Older →</a>"#))
            #expect(paged.contains(#"href="/scenarios?status=open&amp;source=generic&amp;since=2026-03-01T10%3A30%3A00Z&amp;limit=1">"#))

            // An age, as a phone user types it: the fixture is older than a day.
            let recent = try await server.get("/scenarios?since=24h&until=").text
            #expect(recent.contains(#"<input name="since" value="24h""#))
            #expect(recent.contains("No scenario matches."))
            let week = try await server.get("/scenarios?source=sensu&until=2026-03-02").text
            #expect(week.contains(#"href="/scenarios/2""#) && !week.contains(#"href="/scenarios/1""#))
            #expect(week.contains(#"<input name="until" value="2026-03-02""#))

            let bad = try await server.get("/scenarios?since=yesterday")
            #expect(bad.status == 400)
            #expect(bad.text.contains(#"<input name="since" value="yesterday""#), "the form as given, to try again")
        }
    }

    @Test func countsOfASearchStopAtTheirCap() async throws {
        let store = MemoryScenarioStore()
        let alerts = (0...ReviewRoutes.searchCountCap).map { index in
            Alert(source: "generic", host: "web-\(index)", check: "disk", severity: .warning, status: .firing,
                  summary: "disk full on web-\(index)", receivedAt: Date(timeIntervalSince1970: 1_790_000_000 + Double(index)))
        }
        _ = try await store.ingest(alerts) { _, _, _ in [] }
        // Five of them resolved.
        _ = try await store.ingest(alerts.prefix(5).map { alert in
            var resolve = alert
            resolve.status = .resolved
            return resolve
        }) { _, _, _ in [] }
        let cap = ReviewRoutes.searchCountCap
        try await ReviewServer.with(store: store) { server in
            let page = try await server.get("/scenarios?q=disk")
            #expect(page.text.contains(">open \(cap - 4)</a>"), "under the cap: exact")
            #expect(page.text.contains(">all \(cap)+</a>"), "a count that stopped says so")
            #expect(page.text.contains(">resolved 4+</a>"), "what is left of a partial count is partial too")
            let few = try await server.get("/scenarios?q=disk+web-1")
            #expect(few.text.contains(">open 0</a>") && few.text.contains(">resolved 1</a>") && few.text.contains(">all 1</a>"))
            let plain = try await server.get("/scenarios")
            #expect(plain.text.contains(">open \(cap - 4)</a>") && plain.text.contains(">resolved 5</a>"), "without words, exact")
            #expect(plain.text.contains(">all \(cap + 1)</a>"))
        }
    }

    @Test func theTimelineShowsWhoWasToldWhatWasRunItsOutputAndTheOutcome() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            let page = try await server.get("/scenarios/1")
            #expect(page.status == 200)
            let html = page.text
            #expect(html.contains("<h1>#1 web-1 · disk_usage</h1>"))
            #expect(html.contains("Resolved by ana after 42m: freed 6 GiB"))
            #expect(html.contains("<dt>Acknowledged by</dt><dd>ana</dd>"))
            let timeline = try #require(html.range(of: #"<ol class="timeline">"#).map { String(html[$0.upperBound...]) })
            let order = ["Alert fired", "Notified", "Reply", "Command dispatched", "Command finished", "Acknowledged", "Note", "Resolved"]
            let positions = order.compactMap { timeline.range(of: ">\($0)</span>")?.lowerBound }
            #expect(positions.count == order.count && positions == positions.sorted(), "the events in order")
            #expect(timeline.contains("on telegram, chat -100123, message 77"))
            #expect(timeline.contains("<code>run disk /var</code>"))
            #expect(timeline.contains("<code>df -h /var</code>"))
            #expect(timeline.contains("disk on worker local-1 (task t-1): exit 0 in 3.1 ms"))
            #expect(timeline.contains("<details><summary>Output, 2 lines</summary><pre>Filesystem Size Used Avail Use% Mounted on\n/dev/vda1 20G 19G 1G 95% /var\n</pre></details>"))
            #expect(timeline.contains("+42m"))
            #expect(timeline.contains(
                "<details><summary>Alert: 2 labels and details</summary><pre>labels\n  mountpoint = /var\n  team = ops\ndetails\n"
                    + "  history[0] = 1\n  history[1] = 2\n  output = CRITICAL: /var is 95% full\n  thresholds.critical = 90</pre></details>"))
            #expect(html.contains(#"<a href="/v1/scenarios/1">"#))

            let next = try await server.get("/scenarios/4")
            #expect(next.text.contains(#"<a href="/scenarios/1">#1 (the last time this alert fired)</a>"#))
        }
    }

    @Test func userTextIsEscapedEverywhereAndNoScriptMayRun() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            for path in ["/scenarios", "/scenarios/3", "/scenarios?q=bold"] {
                let page = try await server.get(path)
                #expect(page.status == 200)
                let html = page.text
                #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39;"), "\(path)")
                #expect(!html.contains("<script"), "\(path)")
                #expect(!html.contains("<b>"), "\(path)")
                let policy = try #require(page.header("Content-Security-Policy"))
                #expect(policy.hasPrefix("default-src 'none'; style-src 'sha256-"))
                #expect(!policy.contains("script-src") && !policy.contains("unsafe"))
                #expect(page.header("X-Content-Type-Options") == "nosniff")
            }
            let detail = try await server.get("/scenarios/3").text
            #expect(detail.contains("&lt;img src=x onerror=alert(1)&gt;"))
            #expect(detail.contains("<code>note &lt;i&gt;look&lt;/i&gt;</code>"))
            #expect(!detail.contains("<img") && !detail.contains("<i>"))
            #expect(detail.contains("Output, 1 line (truncated)"))
            #expect(detail.contains("<summary>Alert: 1 label</summary><pre>labels\n  runbook = &lt;script&gt;"), "labels are escaped too")
        }
    }

    @Test func theStyleSheetIsTheOneThePolicyAllows() throws {
        let html = ReviewTemplates.render(ReviewPageModels.MessagePage(title: "t", heading: "h", message: "m"), "message")
        let style = try #require(html.range(of: "<style>").flatMap { open in
            html.range(of: "</style>").map { String(html[open.upperBound..<$0.lowerBound]) }
        })
        let hash = Data(Digest.sha256(Array(style.utf8))).base64EncodedString()
        #expect(ReviewTemplates.contentSecurityPolicy.contains("style-src 'sha256-\(hash)'"))
    }

    @Test func badParametersAndUnknownScenariosGetAPageThatSaysWhy() async throws {
        let store = MemoryScenarioStore()
        try await ReviewFixture.seed(store)
        try await ReviewServer.with(store: store) { server in
            let bad = try await server.get("/scenarios?host=web-1&severity=%3Cb%3Eurgent%3C%2Fb%3E")
            #expect(bad.status == 400)
            #expect(bad.text.contains("severity: &#39;&lt;b&gt;urgent&lt;/b&gt;&#39; is not a severity; expected one of: info, warning, error, critical"))
            #expect(bad.text.contains(#"<input name="host" value="web-1""#), "the form as given, to try again")
            #expect(!bad.text.contains("No scenario matches") && !bad.text.contains(#"class="counts""#), "nothing was searched")
            let missing = try await server.get("/scenarios/99")
            #expect(missing.status == 404)
            #expect(missing.text.contains("There is no scenario #99."))
            let malformed = try await server.get("/scenarios/abc")
            #expect(malformed.status == 400)
            #expect(malformed.text.contains("id: &#39;abc&#39; is not a scenario id"))
            let root = try await server.get("/")
            #expect(root.status == 303)
            #expect(root.header("Location") == "/scenarios")
        }
    }

    @Test(arguments: [
        (0.4, "400 ms"), (1, "1s"), (59.9, "59s"), (60, "1m"), (192, "3m 12s"), (3600, "1h"), (7500, "2h 5m"),
        (90_000, "1d 1h"), (-5, "0 ms"),
    ] as [(Double, String)])
    func durationsReadInTheirTwoLargestUnits(seconds: Double, text: String) {
        #expect(ReviewFormat.duration(seconds) == text)
    }
}
