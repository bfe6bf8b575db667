import ArgumentParser
import Foundation
import TeleOpsApp
import TeleOpsCore
import TeleOpsSQLite

struct Scenarios: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the shared scenario log (safe while the server runs).",
        subcommands: [List.self, Search.self, Show.self, Export.self, Verify.self, Prune.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List scenarios, newest first.")

        @OptionGroup var options: ConfigOptions
        @OptionGroup var filters: ScenarioFilters

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            try await printScenarios(try openStore(options), query: try filters.query(), json: json)
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Full-text search over summaries, alert details, replies, notes, commands and their output.",
            discussion: "All words must appear (any order; case and accents ignored); a word ending in * matches as a prefix.")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The words to look for.")
        var words: [String]

        @OptionGroup var filters: ScenarioFilters

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            var query = try filters.query()
            query.text = words.joined(separator: " ")
            guard !SearchTerms(query.text ?? "").isEmpty else {
                throw ValidationError("give at least one word to search for (letters or digits)")
            }
            let store = try openStore(options)
            try await printScenarios(store, query: query, json: json)
            let lag = try await store.searchLag()
            if lag > SQLiteScenarioStore.searchCatchUpLimit {
                let note = "note: the search index has yet to read up to \(lag) alerts and events (it is being "
                    + "rebuilt, newest first, by `teleops serve`); older scenarios may be missing from these results\n"
                FileHandle.standardError.write(Data(note.utf8))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one scenario and its whole timeline.")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The scenario number (with or without #).")
        var id: String

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let number = try scenarioNumber(id)
            let store = try openStore(options)
            guard let scenario = try await store.scenario(id: number) else {
                throw ValidationError("there is no scenario #\(number)")
            }
            let events = try await store.events(of: number)
            let alerts = try await store.alerts(ids: events.compactMap(\.alertID))
            print(json ? try ScenarioReport.json(ScenarioReport.Detail(scenario: scenario, events: events, alerts: alerts))
                       : ScenarioReport.timeline(scenario, events: events, alerts: alerts))
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one Markdown file and its JSON twin per scenario, for a review or a postmortem.",
            discussion: "With scenario numbers, exports those; otherwise every scenario the filters select (all by default).")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "Scenario numbers (with or without #).")
        var ids: [String] = []

        @Option(name: .customLong("out"), help: "The directory to write to (created if needed).")
        var directory: String = "scenarios"

        @OptionGroup var filters: ScenarioFilters

        func run() async throws {
            let store = try openStore(options)
            var scenarios: [Scenario] = []
            if ids.isEmpty {
                var query = try filters.query()
                query.limit = 500
                while true {
                    let page = try await store.scenarios(query)
                    scenarios += page
                    guard page.count == query.limit, let last = page.last else { break }
                    query.beforeID = last.id
                }
            } else {
                for id in ids {
                    let number = try scenarioNumber(id)
                    guard let scenario = try await store.scenario(id: number) else {
                        throw ValidationError("there is no scenario #\(number)")
                    }
                    scenarios.append(scenario)
                }
            }
            let folder = URL(fileURLWithPath: directory)
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for scenario in scenarios {
                    let events = try await store.events(of: scenario.id)
                    let alerts = try await store.alerts(ids: events.compactMap(\.alertID))
                    try Data(ScenarioReport.markdown(scenario, events: events, alerts: alerts).utf8)
                        .write(to: folder.appendingPathComponent("\(scenario.id).md"), options: .atomic)
                    try Data(ScenarioReport.json(ScenarioReport.Detail(scenario: scenario, events: events, alerts: alerts)).utf8)
                        .write(to: folder.appendingPathComponent("\(scenario.id).json"), options: .atomic)
                }
            } catch let error as CocoaError {
                throw ValidationError("cannot write to \(directory): \(error.localizedDescription)")
            }
            print("Exported \(scenarios.count) scenario\(scenarios.count == 1 ? "" : "s") to \(folder.path)/ (N.md and N.json each).")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every scenario's hash chain; exits 1 and names the first broken event if the log was altered.",
            discussion: """
                Each alert an event recorded the digest of is checked too: an alert edited in the file (its labels, \
                details, host, …) or removed from its scenario is named. So is a scenario whose row (status, who \
                acknowledged it, occurrences, …) is not what its events make of the alert that opened it. Keep the printed checkpoint somewhere else (a ticket, the postmortem). A later `verify --checkpoint` \
                recomputes it from the events it covers, however much the log grew since: if it differs, events \
                were rewritten, even with every hash recomputed to match. Retention removing scenarios since makes \
                a checkpoint uncheckable; take a new one after pruning.
                """)

        @OptionGroup var options: ConfigOptions

        @Option(help: "A checkpoint an earlier verify printed (LAST_EVENT-PRUNED_BELOW-DIGEST): check the log still holds it.")
        var checkpoint: String?

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let given = try checkpoint.map { text in
                guard let parsed = ChainCheckpoint(text) else {
                    throw ValidationError("--checkpoint '\(text)' is not a checkpoint: expected LAST_EVENT-PRUNED_BELOW-DIGEST (two whole numbers and 64 lowercase hex digits), as verify prints it")
                }
                return parsed
            }
            let report = try await openStore(options).verifyChain(against: given)
            if json {
                print(try ScenarioReport.json(report))
            } else {
                if let broken = report.firstBreak {
                    print("BROKEN: \(broken.description)")
                    print("checked \(report.scenariosChecked) scenarios and \(report.eventsChecked) events")
                } else {
                    print("OK: \(report.scenariosChecked) scenarios, \(report.eventsChecked) events, every chain intact")
                }
                switch (given, report.checkpointResult) {
                case (let given?, .holds?):
                    print("checkpoint holds: the events up to event \(given.lastEventID) are as they were")
                case (let given?, .differs?):
                    print("CHECKPOINT DIFFERS: events up to \(given.lastEventID) were edited, removed or re-hashed since it was taken")
                case (let given?, .prunedSince?):
                    print("checkpoint not checked: retention removed scenarios since it was taken (pruned below #\(given.prunedBelow) then, more now)")
                default:
                    break
                }
                if report.firstBreak == nil { print("checkpoint \(report.checkpoint)") }
            }
            if !report.isIntact { throw ExitCode(1) }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove old resolved scenarios now (the server also does it on the store.retention settings).",
            discussion: "Active scenarios are always kept. Each batch is a short transaction, so a running server's intake is not held up.")

        @OptionGroup var options: ConfigOptions

        @Option(name: .customLong("older-than"), help: "Remove resolved scenarios resolved longer ago than this (e.g. 90d, 12h).")
        var olderThan: String?

        @Option(help: "Keep at most this many scenarios (the newest); older resolved ones are removed.")
        var keep: Int?

        func run() async throws {
            var policy = RetentionPolicy(maxCount: keep)
            if let olderThan {
                guard let age = ChatDuration.parse(olderThan) else {
                    throw ValidationError("--older-than '\(olderThan)' is not a duration such as 90d, 12h or 30m")
                }
                policy.maxAge = age
            }
            if let keep, keep < 0 { throw ValidationError("--keep must be 0 or more, not \(keep)") }
            guard !policy.keepsEverything else { throw ValidationError("give --older-than, --keep or both") }
            let removed = try await openStore(options).prune(policy, now: Date(), batch: 200)
            print("Removed \(removed) resolved scenario\(removed == 1 ? "" : "s").")
        }
    }
}

/// The filters `list`, `search` and `export` share.
struct ScenarioFilters: ParsableArguments {
    @Option(help: "Only this status: open, acknowledged, resolved.")
    var status: String?

    @Option(help: "Only this host.")
    var host: String?

    @Option(help: "Only this check.")
    var check: String?

    @Option(help: "Only this alert source (generic, alertmanager, grafana, sensu, pagerduty, statsd).")
    var source: String?

    @Option(help: "Only this severity: info, warning, error, critical.")
    var severity: String?

    @Option(help: "Only scenarios this engineer replied in, acted on or acknowledged.")
    var engineer: String?

    @Option(help: "Opened at or after: an ISO 8601 time (2026-11-20T08:00:00Z, 2026-11-20) or an age (24h, 7d).")
    var since: String?

    @Option(help: "Opened before: an ISO 8601 time or an age, as --since.")
    var until: String?

    @Option(help: "At most this many (for list and search).")
    var limit: Int = 50

    @Option(help: "Only scenarios numbered below this one (the next page).")
    var before: Int64?

    func query(now: Date = Date()) throws -> ScenarioQuery {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1, not \(limit)") }
        var query = ScenarioQuery(host: host, check: check, source: source, engineer: engineer, limit: limit, beforeID: before)
        if let status {
            guard let parsed = ScenarioStatus(rawValue: status) else {
                throw ValidationError("--status '\(status)' must be one of: open, acknowledged, resolved")
            }
            query.status = parsed
        }
        if let severity {
            guard let parsed = Severity(rawValue: severity) else {
                throw ValidationError("--severity '\(severity)' must be one of: info, warning, error, critical")
            }
            query.severity = parsed
        }
        query.openedSince = try since.map { try Self.time($0, option: "--since", now: now) }
        query.openedBefore = try until.map { try Self.time($0, option: "--until", now: now) }
        return query
    }

    /// An ISO 8601 time or date, or an age before `now`.
    static func time(_ text: String, option: String, now: Date) throws -> Date {
        guard let time = QueryTime.parse(text, now: now) else {
            throw ValidationError("\(option) '\(text)' is not a time; expected \(QueryTime.accepted)")
        }
        return time
    }
}

private func printScenarios(_ store: SQLiteScenarioStore, query: ScenarioQuery, json: Bool) async throws {
    let scenarios = try await store.scenarios(query)
    if json {
        print(try ScenarioReport.json(scenarios))
        return
    }
    guard !scenarios.isEmpty else {
        print(query.beforeID == nil && query == ScenarioQuery(limit: query.limit) ? "No scenarios yet." : "No scenarios match.")
        return
    }
    scenarios.forEach { print(ScenarioReport.listLine($0)) }
    if scenarios.count == query.limit, let last = scenarios.last {
        print("… more with --before \(last.id)")
    }
}

private func scenarioNumber(_ text: String) throws -> Int64 {
    guard let number = Int64(text.trimmingCharacters(in: CharacterSet(charactersIn: "#"))) else {
        throw ValidationError("'\(text)' is not a scenario number")
    }
    return number
}

private func openStore(_ options: ConfigOptions) throws -> SQLiteScenarioStore {
    let config = try options.load()
    guard FileManager.default.fileExists(atPath: config.databasePath) else {
        throw ValidationError("no scenario store at \(config.databasePath); start `teleops serve` first, or pass --data DIR")
    }
    return try SQLiteScenarioStore(path: config.databasePath)
}
