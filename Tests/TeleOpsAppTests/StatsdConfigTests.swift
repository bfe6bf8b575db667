import Testing
import TeleOpsCore
import Yams
@testable import TeleOpsApp

@Suite struct StatsdConfigTests {
    /// Reads the `statsd:` section of `yaml`, as the main loader does.
    static func read(_ yaml: String) throws -> StatsdSettings {
        let root = try #require(try Yams.compose(yaml: yaml))
        let section = try #require(root["statsd"])
        return try ConfigLoader.readStatsd(YAMLValue(node: section, key: "statsd", file: "teleops.yaml"))
    }

    @Test func readsEveryKey() throws {
        let settings = try Self.read("""
            statsd:
              udp: "127.0.0.1:8125"
              evaluation_interval: 250ms
              max_series: 50
              max_packet_bytes: 1432
              rules:
                - name: api_latency
                  metric: api.latency
                  tags: {env: prod, canary: ""}
                  aggregation: P95
                  window: 1m
                  comparison: '>='
                  threshold: 500
                  clear: 400.5
                  for: 30s
                  clear_for: 2m
                  severity: critical
                  host_tag: node
                  host: edge
                  summary: "{host}: {value}"
                - name: heartbeat
                  metric: heartbeat.*
                  aggregation: count
                  window: 5m
                  comparison: '<'
                  threshold: 1
                  for: 0
                  clear_for: 0
                  severity: warning
            """)
        #expect(settings == StatsdSettings(
            udpHost: "127.0.0.1", udpPort: 8125, evaluationInterval: .milliseconds(250), maxSeries: 50, maxPacketBytes: 1432,
            rules: [
                StatsdRule(
                    name: "api_latency", metric: "api.latency", tags: ["env": "prod", "canary": ""], aggregation: .p95,
                    window: .seconds(60), comparison: .greaterOrEqual, threshold: 500, clearThreshold: 400.5,
                    forDuration: .seconds(30), clearForDuration: .seconds(120), severity: .critical, hostTag: "node", defaultHost: "edge",
                    summaryTemplate: "{host}: {value}"),
                StatsdRule(
                    name: "heartbeat", metric: "heartbeat.*", aggregation: .count, window: .seconds(300), comparison: .less,
                    threshold: 1, clearForDuration: .zero, severity: .warning),
            ]))
    }

    @Test func clearForIsOptional() throws {
        let rule = try #require(try Self.read(Self.rule("for: 5m")).rules.first)
        #expect(rule.clearForDuration == nil)
        #expect(rule.effectiveClearFor == .seconds(300))
        #expect(try Self.read(Self.rule("")).rules.first?.effectiveClearFor == StatsdRule.minimumClearFor)
    }

    @Test func anEmptySectionHasNoUDPAndNoRules() throws {
        #expect(try Self.read("statsd: {}\n") == StatsdSettings())
        #expect(StatsdSettings().udpHost == nil)
        #expect(StatsdSettings().udpPort == 8125)
    }

    @Test func udpAddresses() throws {
        #expect(try Self.read("statsd:\n  udp: '[::1]:0'\n").udpHost == "::1")
        #expect(try Self.read("statsd:\n  udp: localhost:9125\n").udpPort == 9125)
        let remote = try Self.read("statsd:\n  udp: 0.0.0.0:8125\n  allow_remote_udp: true\n")
        #expect(remote.udpHost == "0.0.0.0")
    }

    @Test(arguments: [
        ("statsd:\n  udpp: x\n", "teleops.yaml:2:3: statsd.udpp: unknown key; expected one of: udp, allow_remote_udp"),
        ("statsd:\n  udp: 0.0.0.0:8125\n", "statsd.udp: '0.0.0.0' is not a loopback address; statsd has no authentication"),
        ("statsd:\n  udp: 8125\n", "statsd.udp: expected host:port such as 127.0.0.1:8125"),
        ("statsd:\n  udp: '[::1:8125'\n", "statsd.udp: expected host:port"),
        ("statsd:\n  udp: 127.0.0.1:70000\n", "statsd.udp: port 70000 is out of range"),
        ("statsd:\n  evaluation_interval: 0s\n", "statsd.evaluation_interval: expected a positive duration"),
        ("statsd:\n  max_series: 0\n", "statsd.max_series: 0 is out of range"),
        ("statsd:\n  rules: {}\n", "statsd.rules: expected a list"),
        ("statsd:\n  rules:\n    - metric: m\n", "teleops.yaml:3:7: statsd.rules[0].name: is required"),
        (StatsdConfigTests.rule("thresold: 5"), "statsd.rules[0].thresold: unknown key"),
        (StatsdConfigTests.rule("aggregation: p42"), "statsd.rules[0].aggregation: 'p42' is not one of: avg, min, max, sum, count, last, rate, p50, p90, p95, p99"),
        (StatsdConfigTests.rule("comparison: >"), "statsd.rules[0].comparison: '' is not one of: >, >=, <, <= (quote it: '>')"),
        (StatsdConfigTests.rule("comparison: '=>'"), "'=>' is not one of: >, >=, <, <= (quote it: '>')"),
        (StatsdConfigTests.rule("threshold: high"), "statsd.rules[0].threshold: expected a number, found 'high'"),
        (StatsdConfigTests.rule("clear: 600"), "statsd.rules[0]: statsd rule 'r': the clear threshold 600 must not be above the threshold 500 for '>'"),
        (StatsdConfigTests.rule("window: soon"), "statsd.rules[0].window: expected a positive duration"),
        (StatsdConfigTests.rule("for: -5s"), "statsd.rules[0].for: expected a positive duration"),
        (StatsdConfigTests.rule("clear_for: soon"), "statsd.rules[0].clear_for: expected a positive duration"),
        (StatsdConfigTests.rule("tags: [a, b]"), "statsd.rules[0].tags: expected a mapping of tag names to values"),
        (StatsdConfigTests.rule("tags: {a: [b]}"), "statsd.rules[0].tags.a: expected text"),
        (StatsdConfigTests.rule("severity: bad"), "'bad' is not one of: info, warning, error, critical"),
        (StatsdConfigTests.rule("summary: '{vlaue}'"), "the summary uses {vlaue}"),
        (StatsdConfigTests.rule("metric: 'a*b'"), "'*' may only end the metric name"),
        (StatsdConfigTests.rule("") + "    - " + StatsdConfigTests.baseRule.replacingOccurrences(of: "\n", with: "\n      ") + "\n", "statsd.rules[1]: statsd rule 'r' is defined twice"),
    ])
    func errorsNameTheKeyAndLine(yaml: String, expected: String) {
        #expect {
            try Self.read(yaml)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    static let baseRule = "name: r\nmetric: m\naggregation: max\nwindow: 1m\ncomparison: '>'\nthreshold: 500\nseverity: error"

    /// A section with one rule: `baseRule` with `change` replacing or adding a key.
    static func rule(_ change: String) -> String {
        var lines = baseRule.split(separator: "\n").map(String.init)
        if let key = change.split(separator: ":").first, let index = lines.firstIndex(where: { $0.hasPrefix("\(key):") }) {
            lines[index] = change
        } else if !change.isEmpty {
            lines.append(change)
        }
        return "statsd:\n  rules:\n    - " + lines.joined(separator: "\n      ") + "\n"
    }
}
