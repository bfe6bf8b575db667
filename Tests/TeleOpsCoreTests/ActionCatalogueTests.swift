import Testing
@testable import TeleOpsCore

@Suite struct ActionCatalogueTests {
    let restart = ActionDefinition(
        name: "restart", help: "restart a unit", argv: ["systemctl", "restart", "{unit}"],
        parameters: [ActionParameter(name: "unit", type: .word, required: true)])
    let tail = ActionDefinition(
        name: "tail", help: "last lines of a log", argv: ["tail", "-n", "{lines}", "{file}"],
        parameters: [
            ActionParameter(name: "file", type: .path, required: true),
            ActionParameter(name: "lines", type: .int(min: 1, max: 500), defaultValue: "50"),
        ])

    @Test func optionalParameterLeftOutWhenAbsent() throws {
        let disk = try #require(ActionCatalogue.defaults["disk"])
        #expect(try disk.render(arguments: []) == ["df", "-h"])
        #expect(try disk.render(arguments: ["/var"]) == ["df", "-h", "/var"])
        #expect(try disk.render(arguments: ["path=/srv"]) == ["df", "-h", "/srv"])
    }

    @Test func defaultsAndNamedArguments() throws {
        #expect(try tail.render(arguments: ["/var/log/syslog"]) == ["tail", "-n", "50", "/var/log/syslog"])
        #expect(try tail.render(arguments: ["lines=10", "/var/log/syslog"]) == ["tail", "-n", "10", "/var/log/syslog"])
        #expect(try tail.render(arguments: ["/var/log/syslog", "200"]) == ["tail", "-n", "200", "/var/log/syslog"])
    }

    @Test(arguments: [
        (["--now"], "must not start with '-'"),
        (["nginx;reboot"], "must be a word"),
        (["a b"], "must be a word"),
        ([], "needs UNIT"),
        (["nginx", "extra"], "too many arguments"),
    ])
    func rejectsBadArguments(arguments: [String], message: String) {
        #expect {
            try restart.render(arguments: arguments)
        } throws: { error in
            (error as? CommandError)?.message.contains(message) == true
        }
    }

    @Test(arguments: [
        (ParameterType.path, "relative/path", "absolute path"),
        (.path, "/var/../etc/shadow", "'..'"),
        (.int(min: 1, max: 500), "0", "at least 1"),
        (.int(min: 1, max: 500), "501", "at most 500"),
        (.int(min: nil, max: nil), "12abc", "whole number"),
        (.choice(["a", "b"]), "c", "one of: a, b"),
        (.string, "line\nbreak", "control characters"),
        (.string, String(repeating: "x", count: 300), "at most 256"),
    ])
    func typeChecks(type: ParameterType, value: String, message: String) throws {
        let problem = try #require(type.problem(with: value))
        #expect(problem.contains(message))
    }

    @Test func negativeIntegersAreNumbersNotOptions() {
        #expect(ParameterType.int(min: nil, max: nil).problem(with: "-5") == nil)
    }

    @Test func definitionProblemsAreFound() {
        let broken = ActionDefinition(
            name: "x", help: "", argv: ["{prog}", "{missing}"],
            parameters: [ActionParameter(name: "prog", type: .word), ActionParameter(name: "prog", type: .word)],
            timeout: .zero, outputLimit: 0)
        let problems = broken.definitionProblems().joined(separator: "\n")
        #expect(problems.contains("argv[0]"))
        #expect(problems.contains("{missing}"))
        #expect(problems.contains("declared twice"))
        #expect(problems.contains("timeout must be positive"))
        #expect(problems.contains("output_limit must be positive"))
        #expect(ActionCatalogue.defaults.actions.allSatisfy { $0.definitionProblems().isEmpty })
    }
}
