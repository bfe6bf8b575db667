import ArgumentParser
import Foundation
import TeleOpsCore
import TeleOpsSQLite
import TeleOpsTesting

/// Options of the scenario log at scale (`--history-only`).
struct HistoryOptions: ParsableArguments {
    @Flag(help: "Measure only the scenario log at scale: generate (or reuse) a large store, then list, search, seen-before and intake figures.")
    var historyOnly = false

    @Option(help: "Scenarios the generated store holds (about 10 events each).")
    var historyScenarios: Int = 1_000_000

    @Option(help: "The generated store: reused when it already holds --history-scenarios scenarios, generated there otherwise (default: a file in a scratch directory, removed at the end).")
    var historyStore: String?

    @Option(help: "Seed of the generator (same seed, same store).")
    var historySeed: UInt64 = 6

    @Option(help: "Scenarios per generation window (three transactions each).")
    var historyWindow: Int = 4000

    @Option(help: "Samples of each list and search figure (each figure stops after 30 s, with at least 20).")
    var historySamples: Int = 200

    @Option(help: "Interleaved rounds of the intake figures (empty store, then large store, order alternating).")
    var historyRounds: Int = 5

    @Option(help: "Alerts per store per round for the intake figures (single alerts; group commit takes 4 times as many).")
    var historyIntakeAlerts: Int = 1000

    @Option(help: "The figures to measure, comma-separated: list, search, page, seen, intake.")
    var historyFigures = "list,search,page,seen,intake"

    @Flag(help: "Stop after generating the store (for estimating the generation rate).")
    var historyGenerateOnly = false
}

// MARK: - The shape of the history

/// A seeded model of what a team's alerting looks like: 300 hosts in eight roles and
/// three data centres, 47 checks from six sources, 5,224 (host, check) fingerprints whose
/// frequency follows a Zipf law (a few flapping alerts open tens of thousands of scenarios, the
/// tail a few dozen each), plus pod alerts with fingerprints seen once; eight engineers who
/// attend to rare alerts more often than to flapping ones.
struct HistoryModel {
    enum Role: String, CaseIterable { case web, api, db, cache, queue, worker, lb, node }

    struct Host {
        var name: String
        var role: Role
        var dc: String
    }

    struct Check {
        var name: String
        var source: String
        /// Roles it runs on; empty: every role.
        var roles: [Role]
        var severity: Severity
        /// `{host}`, `{v}` (a number in `values`), `{x}` (one of `picks`).
        var summary: String
        var values: ClosedRange<Double>
        var picks: [String]
        /// Actions engineers run for it (keys of `HistoryModel.actions`).
        var actions: [String]
    }

    /// A stable fingerprint: a check on a host.
    struct Entry {
        var host: Int
        var check: Int
        var fingerprint: String?
        var labels: [String: String]
        /// Expected share of all scenarios.
        var weight: Double
        /// Chance that an engineer works on one of its scenarios.
        var attention: Double
    }

    static let dcs = ["fra1", "ams2", "iad3"]
    static let engineers = ["ana", "bo", "chen", "dmitri", "eva", "farid", "grace", "hiro"]
    static let engineerWeights: [Double] = [5, 4, 4, 3, 3, 2, 2, 1]
    static let apps = ["checkout", "search", "billing", "auth", "catalog", "notifier", "images", "reports"]

    static let checks: [Check] = [
        Check(name: "DiskSpaceLow", source: "alertmanager", roles: [], severity: .warning,
              summary: "Disk /var on {host} is {v}% full", values: 85...99, picks: [], actions: ["disk", "du", "cleanup"]),
        Check(name: "DiskInodesLow", source: "alertmanager", roles: [], severity: .warning,
              summary: "Inodes on /var of {host} {v}% used", values: 88...99, picks: [], actions: ["disk", "cleanup"]),
        Check(name: "HighLoad", source: "alertmanager", roles: [], severity: .warning,
              summary: "Load average {v} on {host}", values: 6...40, picks: [], actions: ["uptime", "top"]),
        Check(name: "HighMemory", source: "alertmanager", roles: [], severity: .warning,
              summary: "Memory {v}% used on {host}", values: 90...99, picks: [], actions: ["free", "top"]),
        Check(name: "SwapUsage", source: "sensu", roles: [.db, .worker, .api], severity: .info,
              summary: "Swap {v}% used on {host}", values: 20...80, picks: [], actions: ["free"]),
        Check(name: "OOMKill", source: "alertmanager", roles: [.api, .worker, .web], severity: .error,
              summary: "OOM killer killed {x} on {host}", values: 0...0, picks: ["java", "php-fpm", "node", "python3"], actions: ["logs", "free", "restart"]),
        Check(name: "ClockSkew", source: "alertmanager", roles: [], severity: .warning,
              summary: "Clock offset {v} ms on {host}", values: 50...900, picks: [], actions: ["chrony"]),
        Check(name: "keepalive", source: "sensu", roles: [], severity: .critical,
              summary: "keepalive: {host} has not checked in for {v} s", values: 120...900, picks: [], actions: ["uptime"]),
        Check(name: "check-nginx", source: "sensu", roles: [.web, .lb], severity: .critical,
              summary: "CheckProcess CRITICAL: nginx.service is not running on {host}", values: 0...0, picks: [], actions: ["status", "restart", "logs"]),
        Check(name: "check-php-fpm", source: "sensu", roles: [.web], severity: .critical,
              summary: "CheckProcess CRITICAL: php-fpm is not running on {host}", values: 0...0, picks: [], actions: ["status", "restart", "logs"]),
        Check(name: "HTTP5xxRate", source: "alertmanager", roles: [.web, .api], severity: .error,
              summary: "HTTP 5xx rate {v}% on {host}", values: 1...30, picks: [], actions: ["logs", "status", "restart"]),
        Check(name: "HTTPLatencyP99", source: "grafana", roles: [.web, .api], severity: .warning,
              summary: "p99 latency {v} ms on {host}", values: 800...9000, picks: [], actions: ["top", "logs"]),
        Check(name: "CertificateExpiry", source: "generic", roles: [.web, .lb, .api], severity: .warning,
              summary: "TLS certificate of {host}.example.net expires in {v} days", values: 3...14, picks: [], actions: ["certs"]),
        Check(name: "PostgresReplicationLag", source: "alertmanager", roles: [.db], severity: .error,
              summary: "Replication lag {v} s on {host}", values: 30...3600, picks: [], actions: ["replication", "logs"]),
        Check(name: "PostgresConnections", source: "alertmanager", roles: [.db], severity: .warning,
              summary: "{v}% of max_connections in use on {host}", values: 80...100, picks: [], actions: ["connections"]),
        Check(name: "PostgresDeadlocks", source: "alertmanager", roles: [.db], severity: .warning,
              summary: "{v} deadlocks in 5 minutes on {host}", values: 3...60, picks: [], actions: ["logs"]),
        Check(name: "BackupFailed", source: "generic", roles: [.db], severity: .error,
              summary: "Nightly backup of {x} failed on {host}", values: 0...0, picks: ["orders", "users", "ledger"], actions: ["logs", "backup"]),
        Check(name: "RedisMemoryHigh", source: "alertmanager", roles: [.cache], severity: .warning,
              summary: "Redis memory {v}% of maxmemory on {host}", values: 85...100, picks: [], actions: ["redis-info"]),
        Check(name: "RedisEvictions", source: "alertmanager", roles: [.cache], severity: .info,
              summary: "Redis evicting {v} keys/s on {host}", values: 100...9000, picks: [], actions: ["redis-info"]),
        Check(name: "KafkaUnderReplicated", source: "alertmanager", roles: [.queue], severity: .error,
              summary: "{v} under-replicated partitions on {host}", values: 1...40, picks: [], actions: ["kafka-topics", "logs"]),
        Check(name: "KafkaConsumerLag", source: "grafana", roles: [.queue], severity: .warning,
              summary: "Consumer group {x} lag {v} messages on {host}", values: 10000...900000, picks: ["billing", "notifier", "search-indexer"], actions: ["kafka-groups"]),
        Check(name: "RabbitQueueDepth", source: "grafana", roles: [.queue], severity: .warning,
              summary: "Queue {x} has {v} messages ready on {host}", values: 5000...200000, picks: ["emails", "exports", "webhooks"], actions: ["rabbit-queues"]),
        Check(name: "KubeNodeNotReady", source: "alertmanager", roles: [.node], severity: .critical,
              summary: "Node {host} has been unready for more than 15 minutes", values: 0...0, picks: [], actions: ["kubelet", "uptime"]),
        Check(name: "KubeletDown", source: "alertmanager", roles: [.node], severity: .critical,
              summary: "Kubelet on {host} has disappeared from Prometheus target discovery", values: 0...0, picks: [], actions: ["kubelet", "restart"]),
        Check(name: "CronJobFailed", source: "generic", roles: [.worker], severity: .warning,
              summary: "Cron job {x} failed on {host}", values: 0...0, picks: ["nightly-backup", "logrotate", "report-export", "db-vacuum", "sitemap"], actions: ["logs", "rerun"]),
        Check(name: "WorkerStuck", source: "statsd", roles: [.worker], severity: .error,
              summary: "No jobs completed by {x} workers on {host} for {v} minutes", values: 5...90, picks: ["sidekiq", "celery", "resque"], actions: ["status", "restart", "logs"]),
        Check(name: "HAProxyBackendDown", source: "alertmanager", roles: [.lb], severity: .critical,
              summary: "HAProxy backend {x} has no healthy servers on {host}", values: 0...0, picks: ["web", "api", "images"], actions: ["haproxy", "logs"]),
        Check(name: "LBConnections", source: "grafana", roles: [.lb], severity: .warning,
              summary: "{v} concurrent connections on {host}", values: 20000...90000, picks: [], actions: ["haproxy"]),
        Check(name: "SSHBruteForce", source: "pagerduty", roles: [], severity: .warning,
              summary: "{v} failed SSH logins in 10 minutes on {host}", values: 50...5000, picks: [], actions: ["auth-log"]),
        Check(name: "RAIDDegraded", source: "sensu", roles: [.db], severity: .critical,
              summary: "CheckRAID CRITICAL: md{v} degraded on {host}", values: 0...3, picks: [], actions: ["mdstat"]),
        Check(name: "SMARTErrors", source: "sensu", roles: [.db, .queue], severity: .warning,
              summary: "CheckSMART WARNING: {v} reallocated sectors on /dev/nvme1n1 of {host}", values: 1...400, picks: [], actions: ["smart"]),
        Check(name: "NetworkErrors", source: "alertmanager", roles: [], severity: .warning,
              summary: "{v} receive errors/s on eth0 of {host}", values: 5...500, picks: [], actions: ["ip-link"]),
        Check(name: "PacketLoss", source: "grafana", roles: [.lb, .web], severity: .warning,
              summary: "Packet loss {v}% from {host} to the {x} gateway", values: 1...25, picks: ["fra1", "ams2", "iad3"], actions: ["mtr"]),
        Check(name: "check-dns", source: "sensu", roles: [], severity: .error,
              summary: "CheckDNS CRITICAL: resolving api.example.net from {host} took {v} ms", values: 1000...5000, picks: [], actions: ["dig"]),
        Check(name: "ZombieProcesses", source: "sensu", roles: [.worker, .api], severity: .info,
              summary: "CheckProcs WARNING: {v} zombie processes on {host}", values: 10...300, picks: [], actions: ["top"]),
        Check(name: "FileDescriptorsHigh", source: "alertmanager", roles: [.api, .web, .queue], severity: .warning,
              summary: "{x} uses {v}% of its file descriptors on {host}", values: 80...99, picks: ["nginx", "java", "haproxy"], actions: ["lsof"]),
        Check(name: "SystemdUnitFailed", source: "alertmanager", roles: [], severity: .error,
              summary: "{x}.service failed on {host}", values: 0...0, picks: ["node-exporter", "filebeat", "postfix", "cron", "docker"], actions: ["status", "restart", "logs"]),
        Check(name: "ConntrackFull", source: "alertmanager", roles: [.lb, .node], severity: .error,
              summary: "Conntrack table {v}% full on {host}", values: 85...100, picks: [], actions: ["conntrack"]),
        Check(name: "JVMHeapHigh", source: "grafana", roles: [.api, .worker], severity: .warning,
              summary: "JVM heap {v}% used on {host}", values: 85...99, picks: [], actions: ["jstat", "restart"]),
        Check(name: "GCPauses", source: "grafana", roles: [.api], severity: .info,
              summary: "GC pauses {v} ms/min on {host}", values: 2000...20000, picks: [], actions: ["jstat"]),
        Check(name: "ErrorBudgetBurn", source: "pagerduty", roles: [.api, .web], severity: .critical,
              summary: "Error budget of {x} burning {v}x too fast ({host})", values: 2...40, picks: ["checkout", "login", "search"], actions: ["logs", "rollback"]),
        Check(name: "SyntheticCheck", source: "pagerduty", roles: [.web], severity: .critical,
              summary: "Synthetic check {x} failing from {v} locations ({host})", values: 2...9, picks: ["homepage", "login", "checkout"], actions: ["curl", "logs"]),
        Check(name: "DiskIOLatency", source: "grafana", roles: [.db, .queue], severity: .warning,
              summary: "Disk write latency {v} ms on {host}", values: 20...400, picks: [], actions: ["iostat"]),
        Check(name: "LogErrors", source: "statsd", roles: [.web, .api, .worker], severity: .warning,
              summary: "{v} errors/min in {x}.log on {host}", values: 50...3000, picks: ["app", "error", "worker"], actions: ["logs"]),
        Check(name: "BackupAge", source: "generic", roles: [.db], severity: .warning,
              summary: "Last successful backup of {host} is {v} hours old", values: 26...96, picks: [], actions: ["backup", "logs"]),
        Check(name: "KubePodCrashLooping", source: "alertmanager", roles: [.node], severity: .error,
              summary: "Pod {x} is crash looping ({v} restarts in 10 minutes)", values: 3...30, picks: apps, actions: ["pod-logs", "pod-describe"]),
        Check(name: "KubePodOOMKilled", source: "alertmanager", roles: [.node], severity: .error,
              summary: "Container of pod {x} was OOM killed", values: 0...0, picks: apps, actions: ["pod-describe", "pod-logs"]),
    ]

    /// The pod checks: their alerts name a pod that lives once (a fingerprint seen once).
    static let podChecks = [checks.count - 2, checks.count - 1]

    var hosts: [Host] = []
    var entries: [Entry] = []
    /// Cumulative weights of `entries`, for sampling.
    private var cumulative: [Double] = []
    /// Share of scenarios that are pod alerts with a fingerprint of their own.
    let podShare = 0.06

    init(seed: UInt64) {
        var random = SplitMix64(seed: seed ^ 0x6869_7374_6f72_79)
        let counts: [(Role, Int)] = [(.web, 60), (.api, 50), (.db, 20), (.cache, 16), (.queue, 12), (.worker, 70), (.lb, 8), (.node, 64)]
        for (role, count) in counts {
            for index in 1...count {
                let dc = Self.dcs[index % Self.dcs.count]
                let number = String(index)
                hosts.append(Host(name: "\(role.rawValue)-\(String(repeating: "0", count: 3 - number.count))\(number).\(dc)", role: role, dc: dc))
            }
        }
        for (hostIndex, host) in hosts.enumerated() {
            for (checkIndex, check) in Self.checks.enumerated() where !Self.podChecks.contains(checkIndex) {
                guard check.roles.isEmpty || check.roles.contains(host.role) else { continue }
                let labels = Self.labels(check: check, host: host)
                var fingerprint: String?
                if check.source == "alertmanager" {
                    fingerprint = "alertmanager|" + Alert.digest(labels.map { "\($0.key)=\($0.value)" }.sorted())
                }
                entries.append(Entry(host: hostIndex, check: checkIndex, fingerprint: fingerprint, labels: labels, weight: 0, attention: 0))
            }
        }
        entries.shuffle(using: &random)
        // Zipf, exponent 0.8: the most frequent fingerprint opens about 4% of the scenarios,
        // the thousandth about 0.02%, the last about 0.004%.
        let raw = entries.indices.map { 1 / pow(Double($0 + 1), 0.8) }
        let total = raw.reduce(0, +)
        var sum = 0.0
        for index in entries.indices {
            entries[index].weight = raw[index] / total * (1 - podShare)
            // Flapping alerts are ignored; rare ones get looked at.
            let expectedPerMillion = entries[index].weight * 1_000_000
            entries[index].attention = 0.7 * min(1, pow(150 / expectedPerMillion, 0.35))
            sum += entries[index].weight
            cumulative.append(sum)
        }
    }

    /// The index of an entry drawn by weight, or nil for a pod alert.
    func draw(_ random: inout SplitMix64) -> Int? {
        let x = Double.random(in: 0..<1, using: &random)
        guard x < 1 - podShare else { return nil }
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < x { low = mid + 1 } else { high = mid }
        }
        return low
    }

    static func labels(check: Check, host: Host) -> [String: String] {
        switch check.source {
        case "alertmanager":
            let job = switch host.role {
            case .db: "postgres"
            case .cache: "redis"
            case .queue: "kafka"
            case .node: "kubelet"
            default: "node"
            }
            return ["alertname": check.name, "instance": "\(host.name):9100", "job": job, "severity": check.severity.rawValue,
                    "team": team(host.role), "dc": host.dc]
        case "grafana":
            return ["alertname": check.name, "grafana_folder": team(host.role), "instance": host.name]
        case "pagerduty":
            return ["service": "\(host.role.rawValue)-\(host.dc)"]
        default:
            return [:]
        }
    }

    static func team(_ role: Role) -> String {
        switch role {
        case .web, .lb: "edge"
        case .api, .worker: "platform"
        case .db, .cache, .queue: "data"
        case .node: "kubernetes"
        }
    }

    // MARK: Words

    static func number(_ range: ClosedRange<Double>, _ random: inout SplitMix64) -> String {
        let value = Double.random(in: range, using: &random)
        return range.upperBound <= 100 && range.upperBound - range.lowerBound < 60
            ? String(format: "%.1f", value) : String(Int(value))
    }

    static func render(_ template: String, host: String, check: Check, _ random: inout SplitMix64) -> String {
        var text = template.replacingOccurrences(of: "{host}", with: host)
        if text.contains("{v}") { text = text.replacingOccurrences(of: "{v}", with: number(check.values, &random)) }
        if text.contains("{x}"), let pick = check.picks.randomElement(using: &random) {
            text = text.replacingOccurrences(of: "{x}", with: pick)
        }
        return text
    }

    static func hex(_ count: Int, _ random: inout SplitMix64) -> String {
        let digits = Array("0123456789abcdef")
        return String((0..<count).map { _ in digits[Int(random.next() & 15)] })
    }

    static func uuid(_ random: inout SplitMix64) -> String {
        "\(hex(8, &random))-\(hex(4, &random))-4\(hex(3, &random))-a\(hex(3, &random))-\(hex(12, &random))"
    }

    /// RFC 3339 in UTC with milliseconds, as Alertmanager writes `startsAt`.
    static func iso(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(milliseconds % 1000))
    }

    static func pickEngineer(_ random: inout SplitMix64) -> String {
        var x = Double.random(in: 0..<engineerWeights.reduce(0, +), using: &random)
        for (index, weight) in engineerWeights.enumerated() {
            if x < weight { return engineers[index] }
            x -= weight
        }
        return engineers[0]
    }

    /// Geometric count with the given mean.
    static func geometric(mean: Double, _ random: inout SplitMix64) -> Int {
        let p = 1 / (1 + mean)
        var count = 0
        while Double.random(in: 0..<1, using: &random) >= p { count += 1 }
        return count
    }
}

// MARK: - Commands and what they print

extension HistoryModel {
    struct Action {
        var argv: [String]
        /// Output for a host; may be empty.
        var output: @Sendable (String, inout SplitMix64) -> String
        var failureRate: Double = 0.05
    }

    static func journal(_ unit: String, host: String, _ random: inout SplitMix64) -> String {
        let messages = [
            "\(unit)[\(Int.random(in: 900...40000, using: &random))]: upstream timed out (110: Connection timed out) while reading response header from upstream",
            "\(unit)[\(Int.random(in: 900...40000, using: &random))]: worker process \(Int.random(in: 900...40000, using: &random)) exited on signal 9",
            "systemd[1]: \(unit).service: Main process exited, code=killed, status=9/KILL",
            "systemd[1]: \(unit).service: Failed with result 'signal'.",
            "kernel: Out of memory: Killed process \(Int.random(in: 900...40000, using: &random)) (\(unit)) total-vm:\(Int.random(in: 100_000...9_000_000, using: &random))kB",
            "\(unit)[\(Int.random(in: 900...40000, using: &random))]: connect() failed (111: Connection refused) while connecting to upstream",
            "\(unit)[\(Int.random(in: 900...40000, using: &random))]: no live upstreams while connecting to upstream",
            "systemd[1]: Started \(unit).service.",
        ]
        var lines: [String] = []
        var second = Int.random(in: 0..<3600, using: &random)
        for _ in 0..<Int.random(in: 3...6, using: &random) {
            second += Int.random(in: 1...90, using: &random)
            let stamp = String(format: "%02d:%02d:%02d", (second / 3600) % 24, (second / 60) % 60, second % 60)
            lines.append("Nov 03 \(stamp) \(host) \(messages.randomElement(using: &random)!)")
        }
        // A rare word, for the "uncommon term" search figure: about one log output in 400.
        if Int.random(in: 0..<400, using: &random) == 0 {
            lines.append("kernel: \(unit)[\(Int.random(in: 900...40000, using: &random))]: segfault at 0 ip 00007f3a sp 00007ffd error 4")
        }
        return lines.joined(separator: "\n")
    }

    static let actions: [String: Action] = [
        "disk": Action(argv: ["df", "-h", "/var"]) { _, random in
            let used = Int.random(in: 150...198, using: &random)
            return "Filesystem      Size  Used Avail Use% Mounted on\n/dev/nvme0n1p3  200G  \(used)G   \(200 - used)G  \(used / 2)% /var"
        },
        "du": Action(argv: ["du", "-xsh", "/var/log", "/var/lib/docker", "/var/cache/apt"]) { _, random in
            "\(Int.random(in: 2...80, using: &random))G\t/var/log\n\(Int.random(in: 10...120, using: &random))G\t/var/lib/docker\n\(Int.random(in: 100...900, using: &random))M\t/var/cache/apt"
        },
        "cleanup": Action(argv: ["find", "/var/log", "-name", "*.gz", "-mtime", "+7", "-delete"]) { _, _ in "" },
        "uptime": Action(argv: ["uptime"]) { _, random in
            String(format: " %02d:%02d:%02d up %d days, %2d:%02d,  0 users,  load average: %.2f, %.2f, %.2f",
                   Int.random(in: 0...23, using: &random), Int.random(in: 0...59, using: &random), Int.random(in: 0...59, using: &random),
                   Int.random(in: 1...400, using: &random), Int.random(in: 0...23, using: &random), Int.random(in: 0...59, using: &random),
                   Double.random(in: 0.5...30, using: &random), Double.random(in: 0.5...30, using: &random), Double.random(in: 0.5...30, using: &random))
        },
        "top": Action(argv: ["ps", "aux", "--sort=-%cpu"]) { _, random in
            var lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
            for name in ["java -Xmx8g -jar app.jar", "php-fpm: pool www", "postgres: checkpointer", "node server.js", "python3 worker.py"]
                .shuffled(using: &random).prefix(4) {
                lines.append(String(format: "app      %7d %4.1f %4.1f %7d %6d ?        Sl   Nov02  %3d:%02d ",
                                    Int.random(in: 900...90000, using: &random), Double.random(in: 0...390, using: &random),
                                    Double.random(in: 0...60, using: &random), Int.random(in: 100_000...9_000_000, using: &random),
                                    Int.random(in: 10_000...4_000_000, using: &random), Int.random(in: 0...900, using: &random),
                                    Int.random(in: 0...59, using: &random)) + name)
            }
            return lines.joined(separator: "\n")
        },
        "free": Action(argv: ["free", "-m"]) { _, random in
            let used = Int.random(in: 20000...31000, using: &random)
            return "               total        used        free      shared  buff/cache   available\nMem:           31842       \(used)         \(31842 - used)         312        \(Int.random(in: 200...4000, using: &random))        \(Int.random(in: 100...9000, using: &random))\nSwap:           2047        \(Int.random(in: 0...2047, using: &random))        \(Int.random(in: 0...2047, using: &random))"
        },
        "status": Action(argv: ["systemctl", "status", "nginx", "--no-pager"]) { host, random in
            let active = Int.random(in: 0..<4, using: &random) == 0 ? "failed (Result: signal)" : "active (running)"
            return """
                ● nginx.service - A high performance web server and a reverse proxy server
                     Loaded: loaded (/lib/systemd/system/nginx.service; enabled; preset: enabled)
                     Active: \(active) since Tue 2026-11-03 11:02:41 UTC; \(Int.random(in: 1...59, using: &random))min ago
                   Main PID: \(Int.random(in: 900...40000, using: &random)) (nginx)
                      Tasks: \(Int.random(in: 2...9, using: &random)) (limit: 38262)
                     Memory: \(Int.random(in: 8...90, using: &random)).\(Int.random(in: 0...9, using: &random))M
                """ + "\n" + journal("nginx", host: host, &random)
        },
        "restart": Action(argv: ["systemctl", "restart", "nginx"], output: { _, _ in "" }, failureRate: 0.08),
        "logs": Action(argv: ["journalctl", "-u", "nginx", "-n", "20", "--no-pager"]) { host, random in journal("nginx", host: host, &random) },
        "chrony": Action(argv: ["chronyc", "tracking"]) { _, random in
            String(format: "Reference ID    : C0A80101 (ntp1.fra1)\nStratum         : 3\nSystem time     : %.6f seconds slow of NTP time\nLast offset     : %.6f seconds\nLeap status     : Normal",
                   Double.random(in: 0...0.9, using: &random), Double.random(in: -0.5...0.5, using: &random))
        },
        "certs": Action(argv: ["openssl", "x509", "-noout", "-enddate", "-in", "/etc/ssl/certs/site.pem"]) { _, random in
            "notAfter=Nov \(Int.random(in: 10...28, using: &random)) 12:00:00 2026 GMT"
        },
        "replication": Action(argv: ["psql", "-Atc", "select client_addr, state, replay_lag from pg_stat_replication"]) { _, random in
            "10.1.\(Int.random(in: 0...9, using: &random)).\(Int.random(in: 2...250, using: &random))|streaming|00:\(String(format: "%02d:%02d", Int.random(in: 0...59, using: &random), Int.random(in: 0...59, using: &random))).\(Int.random(in: 100...999, using: &random))"
        },
        "connections": Action(argv: ["psql", "-Atc", "select state, count(*) from pg_stat_activity group by 1"]) { _, random in
            "active|\(Int.random(in: 10...300, using: &random))\nidle|\(Int.random(in: 10...300, using: &random))\nidle in transaction|\(Int.random(in: 0...90, using: &random))"
        },
        "backup": Action(argv: ["/usr/local/bin/run-backup", "--now"], output: { _, random in
            "pg_basebackup: initiating base backup, waiting for checkpoint to complete\npg_basebackup: write-ahead log end point: \(hex(2, &random))/\(hex(8, &random))\nbackup finished in \(Int.random(in: 60...4000, using: &random)) s"
        }, failureRate: 0.15),
        "redis-info": Action(argv: ["redis-cli", "info", "memory"]) { _, random in
            "# Memory\nused_memory_human:\(Int.random(in: 1...30, using: &random)).\(Int.random(in: 0...99, using: &random))G\nmaxmemory_human:32.00G\nmem_fragmentation_ratio:1.\(Int.random(in: 0...80, using: &random))\nevicted_keys:\(Int.random(in: 0...9_000_000, using: &random))"
        },
        "kafka-topics": Action(argv: ["kafka-topics.sh", "--describe", "--under-replicated-partitions"]) { _, random in
            (0..<Int.random(in: 1...4, using: &random)).map { _ in
                "Topic: events\tPartition: \(Int.random(in: 0...63, using: &random))\tLeader: \(Int.random(in: 1...6, using: &random))\tReplicas: 1,2,3\tIsr: \(Int.random(in: 1...6, using: &random))"
            }.joined(separator: "\n")
        },
        "kafka-groups": Action(argv: ["kafka-consumer-groups.sh", "--describe", "--all-groups"]) { _, random in
            "GROUP           TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG\nsearch-indexer  events  \(Int.random(in: 0...63, using: &random))          \(Int.random(in: 1_000_000...9_000_000, using: &random))         \(Int.random(in: 9_000_000...9_900_000, using: &random))         \(Int.random(in: 1000...900_000, using: &random))"
        },
        "rabbit-queues": Action(argv: ["rabbitmqctl", "list_queues", "name", "messages_ready", "consumers"]) { _, random in
            "emails\t\(Int.random(in: 0...200_000, using: &random))\t\(Int.random(in: 0...12, using: &random))\nexports\t\(Int.random(in: 0...200_000, using: &random))\t\(Int.random(in: 0...12, using: &random))\nwebhooks\t\(Int.random(in: 0...200_000, using: &random))\t\(Int.random(in: 0...12, using: &random))"
        },
        "kubelet": Action(argv: ["systemctl", "status", "kubelet", "--no-pager"]) { host, random in journal("kubelet", host: host, &random) },
        "rerun": Action(argv: ["/usr/local/bin/rerun-cron"], output: { _, random in "job finished with status \(Int.random(in: 0...2, using: &random))" }, failureRate: 0.2),
        "haproxy": Action(argv: ["sh", "-c", "echo 'show stat' | socat stdio /run/haproxy/admin.sock | cut -d, -f1,2,18"]) { _, random in
            "# pxname,svname,status\nweb,web-0\(Int.random(in: 10...60, using: &random)),UP\nweb,web-0\(Int.random(in: 10...60, using: &random)),DOWN\napi,api-0\(Int.random(in: 10...50, using: &random)),UP"
        },
        "auth-log": Action(argv: ["grep", "-c", "Failed password", "/var/log/auth.log"]) { _, random in "\(Int.random(in: 50...9000, using: &random))" },
        "mdstat": Action(argv: ["cat", "/proc/mdstat"]) { _, random in
            "Personalities : [raid1]\nmd0 : active raid1 nvme1n1p1[1] nvme0n1p1[0](F)\n      976630464 blocks super 1.2 [2/1] [U_]\n      bitmap: \(Int.random(in: 0...8, using: &random))/8 pages [0KB], 65536KB chunk"
        },
        "smart": Action(argv: ["smartctl", "-A", "/dev/nvme1n1"]) { _, random in
            "Critical Warning:                   0x00\nTemperature:                        \(Int.random(in: 30...70, using: &random)) Celsius\nAvailable Spare:                    \(Int.random(in: 60...100, using: &random))%\nMedia and Data Integrity Errors:    \(Int.random(in: 0...400, using: &random))"
        },
        "ip-link": Action(argv: ["ip", "-s", "link", "show", "eth0"]) { _, random in
            "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP mode DEFAULT group default qlen 1000\n    RX:  bytes packets errors dropped  missed   mcast\n    \(Int.random(in: 1_000_000...9_000_000_000, using: &random)) \(Int.random(in: 1_000_000...90_000_000, using: &random)) \(Int.random(in: 0...90_000, using: &random)) \(Int.random(in: 0...9000, using: &random)) 0 0"
        },
        "mtr": Action(argv: ["mtr", "-rwc", "10", "gw.example.net"]) { _, random in
            "HOST: \(hex(6, &random))                 Loss%   Snt   Last   Avg  Best  Wrst StDev\n  1.|-- 10.0.0.1                 0.0%    10    0.3   0.3   0.2   0.5   0.1\n  2.|-- gw.example.net          \(Int.random(in: 0...40, using: &random)).0%    10   \(Int.random(in: 1...90, using: &random)).2  12.1   1.1  90.3  20.4"
        },
        "dig": Action(argv: ["dig", "+stats", "api.example.net"]) { _, random in
            ";; ANSWER SECTION:\napi.example.net.\t60\tIN\tA\t203.0.113.\(Int.random(in: 2...250, using: &random))\n;; Query time: \(Int.random(in: 1...5000, using: &random)) msec\n;; SERVER: 10.0.0.2#53(10.0.0.2) (UDP)"
        },
        "lsof": Action(argv: ["sh", "-c", "ls /proc/$(pidof -s nginx)/fd | wc -l"]) { _, random in "\(Int.random(in: 1000...65000, using: &random))" },
        "conntrack": Action(argv: ["sysctl", "net.netfilter.nf_conntrack_count", "net.netfilter.nf_conntrack_max"]) { _, random in
            "net.netfilter.nf_conntrack_count = \(Int.random(in: 200_000...262_144, using: &random))\nnet.netfilter.nf_conntrack_max = 262144"
        },
        "jstat": Action(argv: ["jstat", "-gcutil", "1", "1000", "3"]) { _, random in
            "  S0     S1     E      O      M     CCS    YGC     YGCT    FGC    FGCT     GCT\n  0.00  99.12  \(Int.random(in: 10...99, using: &random)).41  \(Int.random(in: 60...99, using: &random)).02  95.11  91.30   \(Int.random(in: 100...90000, using: &random))  812.113   \(Int.random(in: 1...900, using: &random))   91.207  903.320"
        },
        "rollback": Action(argv: ["/usr/local/bin/deploy", "rollback", "--to", "previous"], output: { _, random in
            "rolling back to release \(hex(7, &random))\nwaiting for \(Int.random(in: 4...40, using: &random)) pods\nrollback complete"
        }, failureRate: 0.1),
        "curl": Action(argv: ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "https://www.example.net/"]) { _, random in
            "\([200, 200, 502, 503, 504].randomElement(using: &random)!) \(Double.random(in: 0.05...30, using: &random))"
        },
        "iostat": Action(argv: ["iostat", "-x", "nvme1n1", "1", "2"]) { _, random in
            "Device            r/s     w/s     rkB/s     wkB/s   rrqm/s   wrqm/s  %util\nnvme1n1       \(Int.random(in: 0...9000, using: &random)).00 \(Int.random(in: 0...9000, using: &random)).00  \(Int.random(in: 0...900_000, using: &random)).0  \(Int.random(in: 0...900_000, using: &random)).0     0.00    12.00  \(Int.random(in: 10...100, using: &random)).0"
        },
        "pod-logs": Action(argv: ["kubectl", "logs", "--previous", "--tail=20", "deploy/app"]) { host, random in journal("app", host: host, &random) },
        "pod-describe": Action(argv: ["kubectl", "describe", "pod", "-l", "app"]) { _, random in
            "    State:          Waiting\n      Reason:       CrashLoopBackOff\n    Last State:     Terminated\n      Reason:       \(["OOMKilled", "Error"].randomElement(using: &random)!)\n      Exit Code:    \([137, 1, 2].randomElement(using: &random)!)\n    Restart Count:  \(Int.random(in: 3...300, using: &random))"
        },
    ]

    static let chatter = [
        "looking", "on it", "looking into it", "this is the nightly backup again", "same as last week",
        "{other} can you take this one?", "seems to be recovering", "opened a ticket INFRA-{n}", "rolling back the deploy from this morning",
        "probably the noisy neighbour again", "waiting for the vendor", "ack, will check after standup", "graphs look normal now",
        "who deployed at {h}:00?", "traffic spike from the campaign", "muting for an hour, known issue INFRA-{n}",
    ]

    static let noteTexts = [
        "root cause: log rotation was disabled by the last config change", "ticket INFRA-{n}", "postmortem scheduled",
        "same cause as INFRA-{n}", "disk was filled by core dumps", "raised the threshold in the runbook", "vendor confirmed a network issue in {dc}",
        "needs a bigger instance; tracked in INFRA-{n}", "flapping since the kernel upgrade",
    ]

    static let resolveTexts = [
        "fixed by {action}", "cleaned up old logs", "restarted the service", "false alarm", "recovered by itself",
        "rolled back", "freed space on /var", "failed over to the replica", "",
    ]

    static func fill(_ template: String, _ random: inout SplitMix64, action: String = "restart", dc: String = "fra1") -> String {
        var text = template
        if text.contains("{other}") { text = text.replacingOccurrences(of: "{other}", with: pickEngineer(&random)) }
        if text.contains("{n}") { text = text.replacingOccurrences(of: "{n}", with: String(Int.random(in: 1000...9999, using: &random))) }
        if text.contains("{h}") { text = text.replacingOccurrences(of: "{h}", with: String(Int.random(in: 7...18, using: &random))) }
        if text.contains("{action}") { text = text.replacingOccurrences(of: "{action}", with: action) }
        if text.contains("{dc}") { text = text.replacingOccurrences(of: "{dc}", with: dc) }
        return text
    }
}

// MARK: - Alerts of the model

extension HistoryModel {
    /// What one scenario is about: a stable entry or a pod with its own fingerprint.
    struct Subject {
        var host: String
        var check: Check
        var source: String
        var fingerprint: String?
        var labels: [String: String]
        var dc: String
        var attention: Double
    }

    func subject(_ entry: Int?, _ random: inout SplitMix64) -> Subject {
        if let entry {
            let e = entries[entry]
            let host = hosts[e.host]
            let check = Self.checks[e.check]
            return Subject(host: host.name, check: check, source: check.source, fingerprint: e.fingerprint, labels: e.labels,
                           dc: host.dc, attention: e.attention)
        }
        let checkIndex = Self.podChecks.randomElement(using: &random)!
        let check = Self.checks[checkIndex]
        let node = hosts.filter { $0.role == .node }.randomElement(using: &random)!
        let app = Self.apps.randomElement(using: &random)!
        let pod = "\(app)-\(Self.hex(9, &random))-\(Self.hex(5, &random))"
        var labels = Self.labels(check: check, host: node)
        labels["pod"] = pod
        labels["namespace"] = "production"
        labels["instance"] = pod
        let fingerprint = "alertmanager|" + Alert.digest(labels.map { "\($0.key)=\($0.value)" }.sorted())
        var podCheck = check
        podCheck.picks = [pod]
        return Subject(host: pod, check: podCheck, source: check.source, fingerprint: fingerprint, labels: labels, dc: node.dc,
                       attention: 0.25)
    }

    /// One delivery about `subject`, as its source's decoder would make it.
    static func alert(_ subject: Subject, status: AlertStatus, severity: Severity, at: Date, startsAt: Date,
                      _ random: inout SplitMix64) -> Alert {
        let check = subject.check
        let summary = status == .resolved
            ? "Resolved: " + render(check.summary, host: subject.host, check: check, &random)
            : render(check.summary, host: subject.host, check: check, &random)
        var details: JSONValue?
        var key: String?
        switch subject.source {
        case "alertmanager":
            let identity = subject.fingerprint ?? ""
            details = .object([
                "annotations": .object([
                    "summary": .string(summary),
                    "description": .string("\(check.name) on \(subject.host) for more than 5 minutes."),
                    "runbook_url": .string("https://runbooks.example.net/\(check.name.lowercased())"),
                ]),
                "startsAt": .string(iso(startsAt)),
                "endsAt": .string(status == .resolved ? iso(at) : "0001-01-01T00:00:00Z"),
                "generatorURL": .string("http://prometheus.\(subject.dc):9090/graph?g0.expr=\(check.name)&g0.tab=1"),
                "fingerprint": .string(String(identity.suffix(16))),
            ])
            key = "\(identity)|\(status.rawValue)|\(iso(startsAt))" + (status == .resolved ? "|\(iso(at))" : "")
        case "grafana":
            details = .object([
                "dashboardURL": .string("https://grafana.example.net/d/\(hex(9, &random))"),
                "valueString": .string("[ var='B' labels={instance=\(subject.host)} value=\(number(check.values, &random)) ]"),
            ])
        case "sensu":
            details = .object([
                "output": .string(summary), "occurrences": .number(Double(Int.random(in: 1...40, using: &random))),
                "interval": .number(60),
            ])
        case "pagerduty":
            let dedup = Alert.digest([subject.host, check.name])
            details = .object(["dedup_key": .string(dedup), "class": .string(check.name), "component": .string(subject.host)])
            key = "pagerduty|\(dedup)|\(status.rawValue)|\(hex(12, &random))"
        case "statsd":
            details = .object(["metric": .string("app.\(check.name.lowercased())"), "value": .number(Double(Int.random(in: 1...5000, using: &random)))])
        default:
            if Bool.random(using: &random) { details = .object(["value": .number(Double(Int.random(in: 1...100, using: &random)))]) }
        }
        return Alert(source: subject.source, host: subject.host, check: check.name, severity: severity, status: status,
                     summary: summary, labels: subject.labels, details: details, fingerprint: subject.fingerprint,
                     idempotencyKey: key, receivedAt: at)
    }
}

// MARK: - Generation

/// Fills a store through its public API, window by window. A window places `historyWindow`
/// scenarios on the time line (two years, ending 2026-11-01); then
/// - A. one `ingest(batches:)` (batches of 64 alerts, one transaction) with every alert of the
///   window in time order: openings, repeats, and the resolves of scenarios nobody worked on;
/// - B. one `append` with what engineers did on the others (acknowledge, replies, commands
///   dispatched and finished, notes, silences, their resolves), in time order;
/// - C. one `ingest(batches:)` with the late repeats and the resolves of those scenarios.
/// A fingerprint with a scenario in B is not drawn again in the same window (a drawn one is
/// drawn again), so each alert finds the scenario state it would have found live. The last
/// 300 scenarios (or 1%) stay open or acknowledged.
struct HistoryGenerator {
    let model: HistoryModel
    let store: SQLiteScenarioStore
    let scenarios: Int
    let window: Int
    var random: SplitMix64

    static let end = Date(timeIntervalSince1970: 1_793_491_200)  // 2026-11-01 00:00 UTC
    static let span: TimeInterval = 730 * 86_400

    struct Counts {
        var scenarios = 0
        var alerts = 0
        var events = 0
        var attended = 0
    }

    /// One placed scenario and the plan of what happens to it.
    struct Planned {
        var subject: HistoryModel.Subject
        var opened: Date
        var attended: Bool
        var staysOpen: Bool
        var scenarioID: Int64 = 0
    }

    struct Timed<T> {
        var at: Date
        var order: Int
        var value: T
    }

    var counts = Counts()
    /// Time spent in `run`.
    var elapsed = Duration.zero
    private var time = Self.end.addingTimeInterval(-Self.span)
    private var busyUntil: [String: Date] = [:]
    private var lockedForever = Set<String>()

    init(model: HistoryModel, store: SQLiteScenarioStore, scenarios: Int, window: Int, seed: UInt64) {
        self.model = model
        self.store = store
        self.scenarios = scenarios
        self.window = window
        random = SplitMix64(seed: seed)
    }

    /// Generates windows until `until` scenarios (at most `scenarios`) are placed; call again to go on.
    mutating func run(until: Int, progress: (Counts, Duration) -> Void) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let before = elapsed
        let gap = Self.span / Double(scenarios)
        let openTail = min(300, max(1, scenarios / 100))
        var placed = counts.scenarios
        var lastReport = clock.now
        while placed < min(until, scenarios) {
            var plans: [Planned] = []
            var locked = Set<String>()
            let size = min(window, scenarios - placed)
            while plans.count < size {
                let entry = model.draw(&random)
                var subject = model.subject(entry, &random)
                let identity = subject.fingerprint ?? Alert.defaultFingerprint(source: subject.source, host: subject.host, check: subject.check.name)
                if locked.contains(identity) || lockedForever.contains(identity) { continue }
                time = time.addingTimeInterval(-log(1 - Double.random(in: 0..<1, using: &random)) * gap)
                let attended = Double.random(in: 0..<1, using: &random) < subject.attention
                let staysOpen = placed + plans.count >= scenarios - openTail
                if attended { locked.insert(identity) }
                if staysOpen { lockedForever.insert(identity) }
                subject.fingerprint = identity
                plans.append(Planned(subject: subject, opened: time, attended: attended, staysOpen: staysOpen))
            }

            // A: every alert of the window in time order.
            var alertsA: [Timed<(plan: Int, alert: Alert)>] = []
            var phaseB: [Int: [Timed<NewEvent>]] = [:]
            var alertsC: [Timed<Alert>] = []
            var lastAlertAt: [Int: Date] = [:]
            var order = 0
            func next() -> Int { order += 1; return order }
            for index in plans.indices {
                // A fingerprint's next scenario opens after its previous one resolved.
                if let busy = busyUntil[plans[index].subject.fingerprint!], busy >= plans[index].opened {
                    plans[index].opened = busy.addingTimeInterval(Double.random(in: 30...600, using: &random))
                }
                let plan = plans[index]
                let subject = plan.subject
                let amKeys = subject.source == "alertmanager"
                var severity = subject.check.severity
                var at = plan.opened
                alertsA.append(Timed(at: at, order: next(), value: (index, HistoryModel.alert(subject, status: .firing, severity: severity, at: at, startsAt: plan.opened, &random))))
                // Alertmanager repeats carry the same key and change nothing: they are not sent.
                let repeats = amKeys ? 0 : HistoryModel.geometric(mean: 5, &random)
                for _ in 0..<repeats {
                    at = at.addingTimeInterval(Double.random(in: 60...900, using: &random))
                    if severity < .critical, Int.random(in: 0..<12, using: &random) == 0 {
                        severity = Severity.allCases[Severity.allCases.firstIndex(of: severity)! + 1]
                    }
                    alertsA.append(Timed(at: at, order: next(), value: (index, HistoryModel.alert(subject, status: .firing, severity: severity, at: at, startsAt: plan.opened, &random))))
                }
                if plan.attended {
                    lastAlertAt[index] = at
                    // Engineer events are planned once the scenario has an id (B).
                    phaseB[index] = []
                    continue
                }
                let resolvedAt = at.addingTimeInterval(Double.random(in: 60...3600, using: &random))
                busyUntil[subject.fingerprint!] = resolvedAt
                if !plan.staysOpen {
                    alertsA.append(Timed(at: resolvedAt, order: next(), value: (index, HistoryModel.alert(subject, status: .resolved, severity: severity, at: resolvedAt, startsAt: plan.opened, &random))))
                }
            }
            alertsA.sort { ($0.at, $0.order) < ($1.at, $1.order) }
            let outcomesA = try await ingest(alertsA.map(\.value.alert))
            for (timed, outcome) in zip(alertsA, outcomesA) where outcome.disposition == .opened {
                plans[timed.value.plan].scenarioID = outcome.scenarioID!
            }
            guard plans.allSatisfy({ $0.scenarioID != 0 }) else {
                throw ValidationError("generation: a planned scenario did not open (window at \(placed))")
            }
            counts.alerts += alertsA.count
            counts.events += outcomesA.filter { $0.disposition != .duplicate && $0.disposition != .unmatched }.count

            // B: what engineers did.
            var events: [Timed<NewEvent>] = []
            for index in phaseB.keys.sorted() {
                let plan = plans[index]
                let lastAlert = lastAlertAt[index]!
                var at = max(lastAlert, plan.opened.addingTimeInterval(Double.random(in: 30...300, using: &random)))
                events += engineerEvents(plan, from: &at, order: &order)
                if plan.staysOpen { continue }
                let engineerResolved = events.last?.value.scenarioID == plan.scenarioID && {
                    if case .resolved = events.last!.value.body { return true } else { return false }
                }()
                // C: late repeats, then the source's resolve (also after an engineer's resolve:
                // the source does not know; that one is unmatched).
                var severity = plan.subject.check.severity
                if plan.subject.source != "alertmanager", !engineerResolved {
                    for _ in 0..<HistoryModel.geometric(mean: 1, &random) {
                        at = at.addingTimeInterval(Double.random(in: 60...600, using: &random))
                        alertsC.append(Timed(at: at, order: next(), value: HistoryModel.alert(plan.subject, status: .firing, severity: severity, at: at, startsAt: plan.opened, &random)))
                    }
                }
                severity = plan.subject.check.severity
                if !engineerResolved || Int.random(in: 0..<3, using: &random) == 0 {
                    at = at.addingTimeInterval(Double.random(in: 30...1800, using: &random))
                    alertsC.append(Timed(at: at, order: next(), value: HistoryModel.alert(plan.subject, status: .resolved, severity: severity, at: at, startsAt: plan.opened, &random)))
                }
                busyUntil[plan.subject.fingerprint!] = at
            }
            events.sort { ($0.at, $0.order) < ($1.at, $1.order) }
            for chunk in stride(from: 0, to: events.count, by: 20_000) {
                try await store.append(events[chunk..<min(events.count, chunk + 20_000)].map(\.value), outbox: [])
            }
            counts.events += events.count
            counts.attended += phaseB.count

            // C.
            alertsC.sort { ($0.at, $0.order) < ($1.at, $1.order) }
            let outcomesC = try await ingest(alertsC.map(\.value))
            counts.alerts += alertsC.count
            counts.events += outcomesC.filter { $0.disposition != .duplicate && $0.disposition != .unmatched }.count

            placed += plans.count
            counts.scenarios = placed
            elapsed = before + (clock.now - start)
            if clock.now - lastReport > .seconds(10) || placed == scenarios {
                lastReport = clock.now
                progress(counts, elapsed)
            }
        }
    }

    private func ingest(_ alerts: [Alert]) async throws -> [IngestOutcome] {
        guard !alerts.isEmpty else { return [] }
        let batches = stride(from: 0, to: alerts.count, by: 64).map { Array(alerts[$0..<min(alerts.count, $0 + 64)]) }
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(alerts.count)
        for result in try await store.ingest(batches: batches, compose: { _, _, _ in [] }) {
            outcomes += try result.get()
        }
        return outcomes
    }

    /// An engineer's session on a scenario: acknowledge, replies (most of them commands, with
    /// their dispatch and result), notes, sometimes a silence, and often the resolve.
    private mutating func engineerEvents(_ plan: Planned, from at: inout Date, order: inout Int) -> [Timed<NewEvent>] {
        var events: [Timed<NewEvent>] = []
        let id = plan.scenarioID
        func add(_ actor: String, _ body: EventBody) {
            order += 1
            events.append(Timed(at: at, order: order, value: NewEvent(scenarioID: id, at: at, actor: actor, body: body)))
        }
        func later(_ range: ClosedRange<Double>) { at = at.addingTimeInterval(Double.random(in: range, using: &random)) }
        let primary = HistoryModel.pickEngineer(&random)
        let second = Int.random(in: 0..<10, using: &random) < 3 ? HistoryModel.pickEngineer(&random) : primary
        let transport = Int.random(in: 0..<3, using: &random) == 0 ? "slack" : "telegram"
        if Int.random(in: 0..<10, using: &random) < 6 {
            add(primary, .acknowledged)
            later(20...240)
        }
        var lastAction = "restart"
        let replies = 1 + HistoryModel.geometric(mean: 2.4, &random)
        for reply in 0..<replies {
            let who = reply % 3 == 2 ? second : primary
            if Int.random(in: 0..<100, using: &random) < 70, let name = plan.subject.check.actions.randomElement(using: &random),
                let action = HistoryModel.actions[name]
            {
                let text = Bool.random(using: &random) ? "#\(id) run \(name)" : "run \(name)"
                add(who, .replyReceived(ReplyFacts(transport: transport, text: text)))
                let taskID = HistoryModel.uuid(&random)
                later(0.05...0.4)
                add(who, .commandDispatched(DispatchFacts(taskID: taskID, action: name, argv: action.argv, host: plan.subject.host)))
                let duration = Double.random(in: 8...2500, using: &random)
                at = at.addingTimeInterval(duration / 1000)
                let failed = Double.random(in: 0..<1, using: &random) < action.failureRate
                let output = failed ? "\(action.argv[0]): exit status 1\n" + action.output(plan.subject.host, &random) : action.output(plan.subject.host, &random)
                add("teleops", .commandFinished(TaskResult(
                    taskID: taskID, action: name, worker: plan.subject.host, exitCode: failed ? 1 : 0, signal: nil, timedOut: false,
                    durationMs: duration, output: output, truncated: false)))
                if !failed { lastAction = name }
            } else {
                add(who, .replyReceived(ReplyFacts(transport: transport, text: HistoryModel.fill(HistoryModel.chatter.randomElement(using: &random)!, &random))))
            }
            later(30...900)
        }
        if Int.random(in: 0..<100, using: &random) < 30 {
            add(primary, .note(NoteFacts(text: HistoryModel.fill(HistoryModel.noteTexts.randomElement(using: &random)!, &random, dc: plan.subject.dc))))
            later(10...300)
        }
        if Int.random(in: 0..<100, using: &random) < 5 {
            add(primary, .silenced(SilenceFacts(until: at.addingTimeInterval(3600))))
            later(60...1800)
        }
        if !plan.staysOpen, Int.random(in: 0..<100, using: &random) < 35 {
            add(primary, .resolved(NoteFacts(text: HistoryModel.fill(HistoryModel.resolveTexts.randomElement(using: &random)!, &random, action: lastAction))))
        }
        return events
    }
}

// MARK: - Figures

extension Bench {
    /// The scenario log at scale: generates (or reuses) a store of `historyScenarios` scenarios,
    /// then measures list pages, search, the seen-before lookup at intake, intake against an
    /// empty store, and the file size. Latencies are from the call to its return (the store's
    /// reader or writer connection, no HTTP).
    func historyFigures(scratch: URL) async throws {
        let options = history
        let model = HistoryModel(seed: options.historySeed)
        let path = options.historyStore ?? scratch.appendingPathComponent("history.sqlite").path
        print("scenario log at scale: \(path), \(loadAverage())")
        let store = try SQLiteScenarioStore(path: path)
        let existing = try await store.count(ScenarioQuery(), upTo: .max).value
        let countsFile = path + ".generated"
        if existing == 0 {
            print("generating \(options.historyScenarios) scenarios (seed \(options.historySeed), windows of \(options.historyWindow))")
            var generator = HistoryGenerator(model: model, store: store, scenarios: options.historyScenarios, window: options.historyWindow,
                                             seed: options.historySeed)
            func progress(_ counts: HistoryGenerator.Counts, _ elapsed: Duration) {
                let seconds = milliseconds(elapsed) / 1000
                print(String(format: "  %9d scenarios, %10d events, %9d alerts in %6.0f s: %6.0f scenarios/s, %7.0f events/s  (",
                             counts.scenarios, counts.events, counts.alerts, seconds, Double(counts.scenarios) / seconds,
                             Double(counts.events) / seconds) + loadAverage() + ")")
            }
            try await generator.run(until: options.historyScenarios, progress: progress)
            let counts = generator.counts
            try await store.checkpoint()
            let seconds = milliseconds(generator.elapsed) / 1000
            let summary = String(format: "%d scenarios, %d events, %d alerts, %d worked on by engineers; generated in %.0f s (%.0f events/s)",
                                 counts.scenarios, counts.events, counts.alerts, counts.attended, seconds, Double(counts.events) / seconds)
            try "\(counts.scenarios) \(counts.events) \(counts.alerts)\n\(summary)\n".write(toFile: countsFile, atomically: true, encoding: .utf8)
            print("  " + summary)
        } else if existing < options.historyScenarios {
            throw ValidationError("\(path) holds \(existing) scenarios, fewer than --history-scenarios \(options.historyScenarios): remove it to generate it again")
        } else {
            print("  reusing \(existing) scenarios" + ((try? String(contentsOfFile: countsFile, encoding: .utf8)).map { "; at generation: " + ($0.split(separator: "\n").last.map(String.init) ?? "") } ?? ""))
        }
        // The full-text index is filled after the commits, as the controller's indexer does:
        // all of it after a generation, or a rebuild (a store from before v7, or no index file).
        let backlog = try await store.searchBacklog()
        if backlog > 0 {
            let clock = ContinuousClock()
            let start = clock.now
            while try await store.indexSearch() > 0 {}
            let seconds = milliseconds(clock.now - start) / 1000
            print(String(format: "  search index: %d alerts and events read in %.0f s (%.0f rows/s)", backlog, seconds, Double(backlog) / seconds))
        }
        try await store.checkpoint()
        let generated = (try? String(contentsOfFile: countsFile, encoding: .utf8))?.split(separator: "\n").first?
            .split(separator: " ").compactMap { Int($0) } ?? []
        printFileSize(path: path, searchPath: store.searchIndexPath, scenarios: existing == 0 ? options.historyScenarios : existing, events: generated.count > 1 ? generated[1] : nil)
        if options.historyGenerateOnly { return }

        var figures: [(String, Samples)] = []
        func record(_ name: String, _ samples: Samples) {
            figures.append((name, samples))
            print(historyLine(name, samples))
        }
        var random = SplitMix64(seed: options.historySeed &+ 1)
        let newest = try await store.scenarios(ScenarioQuery(limit: 1))[0].id
        let firstDay = HistoryGenerator.end.addingTimeInterval(-HistoryGenerator.span)
        let stableHosts = model.hosts.map(\.name)
        let checks = HistoryModel.checks.map(\.name)
        func week(_ random: inout SplitMix64) -> (Date, Date) {
            let since = firstDay.addingTimeInterval(Double.random(in: 0..<(HistoryGenerator.span - 7 * 86_400), using: &random))
            return (since, since.addingTimeInterval(7 * 86_400))
        }

        let wanted = Set(options.historyFigures.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        if wanted.contains("list") {
            print("list pages of 50 (\(loadAverage()))")
            record("newest page", try await sample(options) { _ in _ = try await store.scenarios(ScenarioQuery(limit: 50)) })
            record("page at a random depth (beforeID)", try await sample(options) { _ in
                _ = try await store.scenarios(ScenarioQuery(limit: 50, beforeID: Int64.random(in: 1...newest, using: &random)))
            })
            record("status open", try await sample(options) { _ in _ = try await store.scenarios(ScenarioQuery(status: .open)) })
            record("status resolved", try await sample(options) { _ in _ = try await store.scenarios(ScenarioQuery(status: .resolved)) })
            record("host", try await sample(options) { _ in
                _ = try await store.scenarios(ScenarioQuery(host: stableHosts.randomElement(using: &random)!))
            })
            record("check", try await sample(options) { _ in
                _ = try await store.scenarios(ScenarioQuery(check: checks.randomElement(using: &random)!))
            })
            record("engineer", try await sample(options) { _ in
                _ = try await store.scenarios(ScenarioQuery(engineer: HistoryModel.engineers.randomElement(using: &random)!))
            })
            record("opened in the last 24 hours", try await sample(options) { _ in
                _ = try await store.scenarios(ScenarioQuery(openedSince: HistoryGenerator.end.addingTimeInterval(-86_400)))
            })
            record("opened in a week at a random point", try await sample(options) { _ in
                let (since, before) = week(&random)
                _ = try await store.scenarios(ScenarioQuery(openedSince: since, openedBefore: before))
            })
            record("host + status resolved + engineer", try await sample(options) { _ in
                _ = try await store.scenarios(ScenarioQuery(status: .resolved, host: stableHosts.randomElement(using: &random)!,
                                                            engineer: HistoryModel.engineers.randomElement(using: &random)!))
            })
            record("count, all", try await sample(options) { _ in _ = try await store.count(ScenarioQuery(), upTo: .max) })
            record("count, host", try await sample(options) { _ in
                _ = try await store.count(ScenarioQuery(host: stableHosts.randomElement(using: &random)!), upTo: .max)
            })
        }

        if wanted.contains("search") {
            // Pod names (each opened one scenario, alerts about pods live once): a term that finds one scenario.
            var pods: [String] = []
            while pods.count < 40 {
                let page = try await store.scenarios(ScenarioQuery(check: "KubePodCrashLooping", limit: 1, beforeID: Int64.random(in: 1...newest, using: &random)))
                pods += page.map(\.host)
            }
            print("search, pages of 50 (\(loadAverage()))")
            func search(_ name: String, _ texts: [String], _ query: @escaping (String, inout SplitMix64) -> ScenarioQuery = { text, _ in ScenarioQuery(text: text) }) async throws {
                var found: [Int] = []
                record(name + " (" + texts.prefix(3).joined(separator: ", ") + (texts.count > 3 ? ", …" : "") + ")", try await sample(options) { index in
                    found.append(try await store.scenarios(query(texts[index % texts.count], &random)).count)
                })
                print("      pages held \(found.min() ?? 0)–\(found.max() ?? 0) scenarios")
            }
            try await search("common word", ["disk", "nginx", "load", "memory", "failed"])
            try await search("uncommon word", ["segfault"])
            try await search("pod name (one scenario)", pods)
            try await search("two words, often together", ["disk full", "replication lag", "backup failed", "load average", "upstream nginx"])
            try await search("two words, seldom together", ["segfault kubelet", "chrony redis"])
            try await search("prefix, few words", ["ngin*", "replic*"])
            try await search("prefix, many words", ["sys*", "co*"])
            try await search("common word + host", ["disk", "failed"]) { text, random in
                ScenarioQuery(host: stableHosts.randomElement(using: &random)!, text: text)
            }
            try await search("common word + status open", ["disk", "failed"]) { text, _ in ScenarioQuery(status: .open, text: text) }
            try await search("common word + a week at a random point", ["disk", "failed"]) { text, random in
                let (since, before) = week(&random)
                return ScenarioQuery(openedSince: since, openedBefore: before, text: text)
            }
        }

        if wanted.contains("page") {
            // What GET /scenarios reads (ReviewRoutes.listPage): a page of 50, then counts of open,
            // acknowledged (and, with search words, resolved) scenarios and of all; counts with
            // search words stop at 1,000, and without them resolved is all minus the others.
            print("review page: a page and its counts (\(loadAverage()))")
            func reviewPage(_ query: ScenarioQuery) async throws {
                _ = try await store.scenarios(query)
                let cap = query.text == nil ? Int.max : 1000
                var count = query
                for status in [ScenarioStatus.open, .acknowledged, .resolved] where cap < .max || status != .resolved {
                    count.status = status
                    _ = try await store.count(count, upTo: cap)
                }
                count.status = nil
                _ = try await store.count(count, upTo: cap)
            }
            record("review page, no filter", try await sample(options) { _ in try await reviewPage(ScenarioQuery()) })
            record("review page, a host", try await sample(options) { _ in
                try await reviewPage(ScenarioQuery(host: stableHosts.randomElement(using: &random)!))
            })
            record("review page, a common word (disk, failed)", try await sample(options) { index in
                try await reviewPage(ScenarioQuery(text: ["disk", "failed"][index % 2]))
            })
            record("review page, a common word and a host", try await sample(options) { index in
                try await reviewPage(ScenarioQuery(host: stableHosts.randomElement(using: &random)!, text: ["disk", "failed"][index % 2]))
            })
        }

        if wanted.contains("seen") { try await seenBeforeFigures(store: store, model: model, record: record) }
        if wanted.contains("intake") { try await intakeFigures(store: store, model: model, scratch: scratch) }

        try await store.checkpoint()
        printFileSize(path: path, searchPath: store.searchIndexPath, scenarios: try await store.count(ScenarioQuery(), upTo: .max).value, events: nil)
        print("figures (markdown)")
        print("| figure | n | p50 | p95 |")
        print("|---|---|---|---|")
        for (name, samples) in figures {
            print("| \(name) | \(samples.values.count) | \(format(samples.median).trimmingCharacters(in: .whitespaces)) | \(format(samples.percentile(0.95)).trimmingCharacters(in: .whitespaces)) |")
        }
        try store.close()
    }

    /// Up to `historySamples` timed calls after 3 untimed ones; stops after 30 s (at least 20 samples).
    private func sample(_ options: HistoryOptions, _ body: (Int) async throws -> Void) async throws -> Samples {
        for index in 0..<3 { try await body(index) }
        var samples = Samples()
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<max(1, options.historySamples) {
            let begin = clock.now
            try await body(index)
            samples.add(clock.now - begin)
            if index >= 19, clock.now - start > .seconds(30) { break }
        }
        return samples
    }

    private func historyLine(_ name: String, _ samples: Samples) -> String {
        "  \(name.padded(to: 62)) n=\(String(samples.values.count).padded(to: 4)) p50 \(format(samples.median))  p95 \(format(samples.percentile(0.95)))  max \(format(samples.percentile(1)))"
    }

    private func printFileSize(path: String, searchPath: String, scenarios: Int, events: Int?) {
        func size(_ file: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0 }
        let main = size(path) + size(searchPath)
        let wal = size(path + "-wal") + size(searchPath + "-wal")
        var line = String(format: "  files: %.2f GB store + %.2f GB search index + %.1f MB WAL (after a checkpoint); %.0f bytes per scenario",
                          Double(size(path)) / 1e9, Double(size(searchPath)) / 1e9, Double(wal) / 1e6,
                          Double(main + wal) / Double(max(1, scenarios)))
        if let events { line += String(format: ", %.0f bytes per event (%d events)", Double(main + wal) / Double(max(1, events)), events) }
        print(line)
    }

    // MARK: Seen before

    /// The cost an opening alert pays for its history: alerts whose fingerprint opened many
    /// scenarios before (the most frequent fingerprints: counts capped at `SeenBefore.countCap`, events of the
    /// last occurrence and of the last one elsewhere read), against alerts never seen (new host,
    /// new check: the lookups find nothing) and alerts of a new host with a known
    /// check (seen elsewhere only). One alert per transaction (what a notification waits for),
    /// then 10 per transaction, where the commit is shared and the difference is the lookup.
    private func seenBeforeFigures(store: SQLiteScenarioStore, model: HistoryModel,
                                   record: (String, Samples) -> Void) async throws {
        print("seen before (\(loadAverage()))")
        let active = try await activeFingerprints(store)
        var random = SplitMix64(seed: history.historySeed &+ 2)
        let hot = model.entries.indices.prefix(400).filter { !active.contains(identity(model, $0)) }.prefix(50).map { $0 }
        let token = String(Int(Date().timeIntervalSince1970) % 1_000_000)
        var serial = 0
        func now() -> Date {
            serial += 1
            return Date().addingTimeInterval(Double(serial) / 1000)
        }
        func hotAlert(_ entry: Int) -> (Alert, Alert) {
            let subject = model.subject(entry, &random)
            let at = now()
            return (HistoryModel.alert(subject, status: .firing, severity: subject.check.severity, at: at, startsAt: at, &random),
                    HistoryModel.alert(subject, status: .resolved, severity: subject.check.severity, at: at.addingTimeInterval(1), startsAt: at, &random))
        }
        func plainAlert(host: String, check: String) -> (Alert, Alert) {
            let at = now()
            return (Alert(source: "generic", host: host, check: check, severity: .warning, status: .firing, summary: "\(check) on \(host)", receivedAt: at),
                    Alert(source: "generic", host: host, check: check, severity: .warning, status: .resolved, summary: "\(check) on \(host)", receivedAt: at))
        }
        let knownCheck = HistoryModel.checks[model.entries[hot[0]].check].name
        let kinds: [(String, (Int) -> (Alert, Alert))] = [
            ("fingerprint seen many times", { hotAlert(hot[$0 % hot.count]) }),
            ("never seen (new host, new check)", { plainAlert(host: "bench-\(token)-\($0)", check: "BenchCheck\(token)n\($0)") }),
            ("new host, check seen on other hosts", { plainAlert(host: "bench-\(token)-k\($0)", check: knownCheck) }),
        ]
        var pair: (Alert, Alert) = hotAlert(hot[0])
        let first = try await store.ingest([pair.0]) { _, _, _ in [] }[0]
        _ = try await store.ingest([pair.1]) { _, _, _ in [] }
        if let seen = first.seenBefore {
            print("  e.g. \(pair.0.fingerprint): seen \(seen.times) times (cap \(SeenBefore.countCap)), its check elsewhere \(seen.elsewhere) times")
        }
        var single = kinds.map { _ in Samples() }
        let clock = ContinuousClock()
        for index in 0..<45 {
            for (kind, (_, make)) in kinds.enumerated() {
                pair = make(index)
                let start = clock.now
                let outcome = try await store.ingest([pair.0]) { _, _, _ in [] }[0]
                if index >= 5 { single[kind].add(clock.now - start) }
                guard outcome.disposition == .opened else { throw ValidationError("seen before: \(pair.0.fingerprint) did not open a scenario") }
                _ = try await store.ingest([pair.1]) { _, _, _ in [] }
            }
        }
        for (kind, (name, _)) in kinds.enumerated() { record("ingest 1 opening alert, \(name)", single[kind]) }
        print(String(format: "    added by the history: %.3f ms at p50 (seen many times − never seen), %.3f ms (known check − never seen)",
                     milliseconds(single[0].median) - milliseconds(single[1].median), milliseconds(single[2].median) - milliseconds(single[1].median)))

        var batched = kinds.map { _ in Samples() }
        for round in 0..<7 {
            for (kind, (_, make)) in kinds.enumerated() {
                let pairs = (0..<10).map { make(1000 + round * 10 + $0) }
                let start = clock.now
                let outcomes = try await store.ingest(pairs.map(\.0)) { _, _, _ in [] }
                let elapsed = clock.now - start
                if round >= 1 { batched[kind].add(elapsed / 10) }
                guard outcomes.allSatisfy({ $0.disposition == .opened }) else { throw ValidationError("seen before: a batched alert did not open a scenario") }
                _ = try await store.ingest(pairs.map(\.1)) { _, _, _ in [] }
            }
        }
        for (kind, (name, _)) in kinds.enumerated() { record("per alert in a transaction of 10 openings, \(name)", batched[kind]) }
        print(String(format: "    lookup cost per opening alert (p50 per-alert difference): %.3f ms with a long history, %.3f ms for a known check on a new host",
                     milliseconds(batched[0].median) - milliseconds(batched[1].median), milliseconds(batched[2].median) - milliseconds(batched[1].median)))
    }

    private func identity(_ model: HistoryModel, _ entry: Int) -> String {
        let e = model.entries[entry]
        let check = HistoryModel.checks[e.check]
        return e.fingerprint ?? Alert.defaultFingerprint(source: check.source, host: model.hosts[e.host].name, check: check.name)
    }

    private func activeFingerprints(_ store: SQLiteScenarioStore) async throws -> Set<String> {
        let open = try await store.scenarios(ScenarioQuery(status: .open, limit: 1_000_000))
        let acknowledged = try await store.scenarios(ScenarioQuery(status: .acknowledged, limit: 1_000_000))
        return Set((open + acknowledged).map(\.fingerprint))
    }

    // MARK: Intake

    /// Alerts per second through `ingest` into the large store and into an empty one (a new
    /// file each round), in interleaved rounds: single alerts (one transaction each, what one
    /// request at a time gets) and group commit (`ingest(batches:)` with 64 one-alert batches
    /// per transaction, what concurrent requests get). The same alerts go to both stores: per
    /// fingerprint drawn by the model (pod alerts included, at their share), it fires, repeats
    /// twice and resolves.
    private func intakeFigures(store: SQLiteScenarioStore, model: HistoryModel, scratch: URL) async throws {
        let options = history
        print("intake, large store against an empty one (\(options.historyRounds) rounds, \(loadAverage()))")
        var random = SplitMix64(seed: options.historySeed &+ 3)
        let active = try await activeFingerprints(store)
        func workload(_ count: Int) -> [Alert] {
            var alerts: [Alert] = []
            var used = Set<Int>()
            while alerts.count < count {
                // Pod alerts (an entry of nil) come at their share, each with a fingerprint never seen.
                let entry = model.draw(&random)
                if let entry {
                    guard !used.contains(entry), !active.contains(identity(model, entry)) else { continue }
                    used.insert(entry)
                }
                let subject = model.subject(entry, &random)
                let start = Date()
                for status in [AlertStatus.firing, .firing, .firing, .resolved] {
                    alerts.append(HistoryModel.alert(subject, status: status, severity: subject.check.severity, at: Date(), startsAt: start, &random))
                }
            }
            return alerts
        }
        func run(_ target: SQLiteScenarioStore, _ alerts: [Alert], group: Bool) async throws -> Double {
            let clock = ContinuousClock()
            let start = clock.now
            if group {
                for chunk in stride(from: 0, to: alerts.count, by: 64) {
                    for result in try await target.ingest(batches: alerts[chunk..<min(alerts.count, chunk + 64)].map { [$0] }, compose: { _, _, _ in [] }) {
                        _ = try result.get()
                    }
                }
            } else {
                for alert in alerts { _ = try await target.ingest([alert]) { _, _, _ in [] } }
            }
            let written = clock.now
            // The full-text indexing the controller runs after the commits (SearchIndexer), and
            // the copy of the WAL into the file it runs beside the writer (WALCheckpointer),
            // counted in the time: all of them, after the alerts.
            while try await target.indexSearch() > 0 {}
            let indexed = clock.now
            try await target.checkpointInBackground()
            let end = clock.now
            phases[target === store ? "large \(group)" : "empty \(group)", default: []].append(
                (milliseconds(written - start), milliseconds(indexed - written), milliseconds(end - indexed)))
            return Double(alerts.count) / (milliseconds(end - start) / 1000)
        }
        var phases: [String: [(alerts: Double, indexing: Double, checkpoint: Double)]] = [:]
        var ratios: (single: [Double], group: [Double]) = ([], [])
        for round in 1...max(1, options.historyRounds) {
            let emptyPath = scratch.appendingPathComponent("empty-\(round).sqlite").path
            let empty = try SQLiteScenarioStore(path: emptyPath)
            defer {
                try? empty.close()
                for file in [emptyPath, empty.searchIndexPath] {
                    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
                }
            }
            var rates: [String: Double] = [:]
            for group in [false, true] {
                let count = group ? 4 * options.historyIntakeAlerts : options.historyIntakeAlerts
                let alerts = workload(count)
                let order = round % 2 == 1 ? [("empty", empty), ("large", store)] : [("large", store), ("empty", empty)]
                for (name, target) in order {
                    rates["\(name) \(group)"] = try await run(target, alerts, group: group)
                }
            }
            let single = rates["large false"]! / rates["empty false"]!
            let grouped = rates["large true"]! / rates["empty true"]!
            ratios.single.append(single)
            ratios.group.append(grouped)
            print(String(format: "  round %d: single alerts %5.0f/s empty, %5.0f/s large (%.2f); group commit %6.0f/s empty, %6.0f/s large (%.2f)  (",
                         round, rates["empty false"]!, rates["large false"]!, single, rates["empty true"]!, rates["large true"]!, grouped) + loadAverage() + ")")
        }
        func summary(_ values: [Double]) -> String {
            let sorted = values.sorted()
            return String(format: "%.2f [%.2f–%.2f]", sorted[sorted.count / 2], sorted.first ?? 0, sorted.last ?? 0)
        }
        print("  large / empty, median of the rounds [range]: single alerts \(summary(ratios.single)), group commit \(summary(ratios.group))")
        // Where each store's time went, summed over the rounds: writing the alerts, then the
        // the full-text indexing and the checkpoint counted after them.
        for key in ["empty false", "large false", "empty true", "large true"] {
            let rows = phases[key] ?? []
            let sum = rows.reduce((0.0, 0.0, 0.0)) { ($0.0 + $1.alerts, $0.1 + $1.indexing, $0.2 + $1.checkpoint) }
            print(String(format: "  %@ %@: alerts %.0f ms, search indexing %.0f ms, checkpoint %.0f ms",
                         key.hasPrefix("empty") ? "empty store" : "1M store   ",
                         key.hasSuffix("true") ? "group commit " : "single alerts", sum.0, sum.1, sum.2))
        }
    }
}

/// The load averages of the machine (1, 5, 15 minutes).
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return "load " + text.split(separator: " ").prefix(3).joined(separator: " ")
}
