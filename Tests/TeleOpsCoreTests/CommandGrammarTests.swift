import Testing
@testable import TeleOpsCore

@Suite struct CommandGrammarTests {
    let grammar = CommandGrammar.standard

    @Test(arguments: [
        ("run disk", nil, Command.run(action: "disk", arguments: [])),
        ("run disk /var", nil, .run(action: "disk", arguments: ["/var"])),
        ("#12 run disk path=/var", 12, .run(action: "disk", arguments: ["path=/var"])),
        ("  RUN   restart  'my service'  ", nil, .run(action: "restart", arguments: ["my service"])),
        ("run uptime on role=web", nil, .run(action: "uptime", arguments: [], labels: ["role": "web"])),
        ("#4 run disk on role=web,zone=eu /var", 4, .run(action: "disk", arguments: ["/var"], labels: ["role": "web", "zone": "eu"])),
        ("run disk /var on", nil, .run(action: "disk", arguments: ["/var", "on"])),
        ("cancel", nil, .cancel(task: nil)),
        ("#9 cancel 7f3c1a2b", 9, .cancel(task: "7f3c1a2b")),
        ("/ack", nil, .ack),
        ("/ack@TeleOpsBot", nil, .ack),
        ("#3 ack", 3, .ack),
        ("resolve", nil, .resolve(note: "")),
        ("resolve cleared /var/log by rotating", nil, .resolve(note: "cleared /var/log by rotating")),
        ("note paged the storage team", nil, .note("paged the storage team")),
        ("#7 status", 7, .status),
        ("help", nil, .help),
    ] as [(String, Int64?, Command)])
    func parses(text: String, scenario: Int64?, command: Command) throws {
        let reply = try grammar.parse(text)
        #expect(reply.command == command)
        #expect(reply.scenarioID == scenario)
    }

    @Test(arguments: [
        ("", "empty reply"),
        ("reboot now", "unknown command 'reboot'"),
        ("run", "run needs an action"),
        ("ack please", "ack takes no arguments"),
        ("note", "note needs some text"),
        ("#x status", "'#' must be followed by a scenario number"),
        ("#0 status", "'#' must be followed by a scenario number"),
        ("run disk \"/var", "unterminated \" quote"),
        ("run disk on", "run disk on needs labels"),
        ("run disk on web", "'web' is not LABEL=VALUE"),
        ("run disk on role=", "'role=' is not LABEL=VALUE"),
        ("run disk on role=web,role=db", "label 'role' is given twice"),
        ("cancel a b", "cancel takes at most a task id"),
    ])
    func rejects(text: String, message: String) {
        #expect {
            try grammar.parse(text)
        } throws: { error in
            (error as? CommandError)?.message.contains(message) == true
        }
    }

    @Test func helpListsEveryCommandAndAction() {
        let help = grammar.helpText(actions: .defaults)
        for spec in grammar.specs { #expect(help.contains(spec.syntax)) }
        for action in ActionCatalogue.defaults.actions { #expect(help.contains(action.usage)) }
    }

    @Test func onlyCommandsThatReadNeedNoRole() {
        let open = grammar.specs.filter { $0.requiredRole == nil }.map(\.name).sorted()
        #expect(open == ["help", "history", "status"])
    }
}
