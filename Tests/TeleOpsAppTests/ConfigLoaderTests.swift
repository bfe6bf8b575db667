import Testing
import TeleOpsCore
@testable import TeleOpsApp

@Suite struct ConfigLoaderTests {
    @Test func emptyFileGivesTheEmbeddedDefaults() throws {
        let config = try ConfigLoader.parse(yaml: "")
        #expect(config.http.host == "127.0.0.1")
        #expect(config.http.port == 8080)
        #expect(config.dispatch.localWorkers == 2)
        #expect(config.engineers.map(\.name) == ["operator"])
        #expect(config.actions == .defaults)
    }

    @Test func readsEveryKey() throws {
        let yaml = """
            data_dir: /tmp/teleops-test
            http:
              host: 127.0.0.1
              port: 9090
              max_body_bytes: 2048
            dispatch:
              endpoint: tcp://127.0.0.1:*
              local_workers: 1
              worker_capacity: 3
              heartbeat_interval: 250ms
              heartbeat_timeout: 2s
              max_queued: 10
            console:
              operator: ana
            engineers:
              - name: ana
                console: ana
                telegram: "123456"
                roles: [responder]
              - name: bo
                slack: U02
                roles: []
            default_actions: false
            actions:
              - name: tail
                help: last lines of a log
                argv: [tail, -n, "{lines}", "{file}"]
                timeout: 5s
                output_limit: 1000
                env: {LC_ALL: C, LOG_DIR: /var/log/app}
                cwd: /var/log
                user: nobody
                group: nogroup
                limits: {cpu: 30s, address_space_mb: 512, open_files: 64, processes: 32}
                params:
                  - {name: file, type: path, required: true}
                  - {name: lines, type: int, min: 1, max: 500, default: "50"}
            """
        let config = try ConfigLoader.parse(yaml: yaml)
        #expect(config.dataDirectory == "/tmp/teleops-test")
        #expect(config.http.port == 9090)
        #expect(config.http.maxBodyBytes == 2048)
        #expect(config.dispatch.endpoint == "tcp://127.0.0.1:*")
        #expect(config.dispatch.heartbeatInterval == .milliseconds(250))
        #expect(config.dispatch.heartbeatTimeout == .seconds(2))
        #expect(config.console.operatorID == "ana")
        #expect(config.engineers[0].identities == ["console": "ana", "telegram": "123456"])
        #expect(config.engineers[1].roles.isEmpty)
        #expect(config.actions.actions.map(\.name) == ["tail"])
        let tail = try #require(config.actions["tail"])
        #expect(tail.timeout == .seconds(5))
        #expect(tail.parameters[1].type == .int(min: 1, max: 500))
        #expect(tail.environment == ["LC_ALL": "C", "LOG_DIR": "/var/log/app"])
        #expect(tail.workingDirectory == "/var/log")
        #expect(tail.user == "nobody" && tail.group == "nogroup")
        #expect(tail.limits == ResourceLimits(cpuSeconds: 30, addressSpaceBytes: 512 << 20, openFiles: 64, processes: 32))
        let task = tail.task(argv: ["tail", "/var/log/x"], host: "web-1")
        #expect(task.environment == tail.environment && task.limits == tail.limits && task.user == "nobody")
    }

    @Test func retentionKeepsEverythingUnlessConfigured() throws {
        #expect(try ConfigLoader.parse(yaml: "").retention.policy.keepsEverything)
        let config = try ConfigLoader.parse(yaml: "retention:\n  max_age: 90d\n  max_count: 500000\n  interval: 10m\n")
        #expect(config.retention.policy == RetentionPolicy(maxAge: .seconds(90 * 86400), maxCount: 500_000))
        #expect(config.retention.interval == .seconds(600))
    }

    @Test func configuredActionsJoinAndOverrideTheDefaults() throws {
        let config = try ConfigLoader.parse(yaml: """
            actions:
              - name: disk
                argv: [df, -hT]
              - name: true
                argv: [/bin/true]
            """)
        #expect(config.actions["disk"]?.argv == ["df", "-hT"])
        #expect(config.actions["true"] != nil)
        #expect(config.actions["uptime"] != nil)
    }

    @Test func localWorkersTakeAUserAndGroupForCommands() throws {
        let config = try ConfigLoader.parse(yaml: "dispatch:\n  worker_user: teleops-run\n  worker_group: adm\n")
        #expect(config.dispatch.workerUser == "teleops-run")
        #expect(config.dispatch.workerGroup == "adm")
        #expect {
            try ConfigLoader.parse(yaml: "dispatch:\n  worker_group: adm\n", file: "teleops.yaml")
        } throws: { error in
            "\(error)".contains("teleops.yaml:2:17: dispatch.worker_group: worker_group needs worker_user")
        }
    }

    /// An action's one-tap button carries `#N run NAME`, which must fit Telegram's 64-byte
    /// callback_data for a scenario number of up to 10 digits: names are held to 48 bytes.
    @Test func actionNamesMustFitTheirChatButton() throws {
        let longest = String(repeating: "x", count: 48)
        let config = try ConfigLoader.parse(yaml: "actions:\n  - name: \(longest)\n    argv: [echo]\n")
        #expect(config.actions[longest] != nil)
        #expect(NotificationComposer.runCommand(scenario: 9_999_999_999, action: longest).utf8.count == ChatButton.maxCommandBytes)
        // Bytes, not characters: é is two.
        let tooLong = String(repeating: "x", count: 47) + "é"
        #expect {
            try ConfigLoader.parse(yaml: "actions:\n  - name: disk\n    argv: [df]\n  - name: \(tooLong)\n    argv: [echo]\n", file: "teleops.yaml")
        } throws: { error in
            "\(error)" == "teleops.yaml:4:11: actions[1].name: action '\(tooLong)': the name is 49 bytes; at most 48 fit in its chat button (#N run NAME, 64 bytes on Telegram)"
        }
    }

    @Test(arguments: [
        ("http:\n  prot: 80\n", "teleops.yaml:2:3: http.prot: unknown key"),
        ("http:\n  port: eighty\n", "teleops.yaml:2:9: http.port: expected a whole number, found 'eighty'"),
        ("http:\n  port: 70000\n", "http.port: 70000 is out of range"),
        ("http:\n  host: 0.0.0.0\n", "http.host: '0.0.0.0' is not a loopback address, and these enabled sources have no token: alertmanager, generic"),
        ("dispatch:\n  endpoint: tcp://10.0.0.5:7311\n", "dispatch.endpoint: 'tcp://10.0.0.5:7311' is not on loopback"),
        ("dispatch:\n  endpoint: http://x\n", "expected a ZeroMQ endpoint"),
        ("dispatch:\n  heartbeat_interval: soon\n", "dispatch.heartbeat_interval: expected a positive duration"),
        ("dispatch:\n  heartbeat_interval: 2s\n  heartbeat_timeout: 3s\n", "at least twice heartbeat_interval"),
        ("engineers:\n  - roles: [responder]\n", "teleops.yaml:2:5: engineers[0].name: is required"),
        ("engineers:\n  - name: a\n  - name: a\n", "engineer 'a' is listed twice"),
        ("actions:\n  - name: x\n    argv: [echo, \"{y}\"]\n", "actions[0]: action 'x': argv uses {y} but no parameter has that name"),
        ("actions:\n  - name: x\n    argv: [echo]\n    params:\n      - {name: y, type: float}\n", "actions[0].params[0].type: unknown parameter type 'float'"),
        ("actions:\n  - name: x\n    argv: [echo]\n    env: {1X: a}\n", "action 'x': env name '1X' must be letters"),
        ("actions:\n  - name: x\n    argv: [echo]\n    cwd: tmp\n", "action 'x': cwd 'tmp' must be an absolute path"),
        ("actions:\n  - name: x\n    argv: [echo]\n    limits: {cpu: 500ms}\n", "actions[0].limits.cpu: the CPU limit must be at least 1s"),
        ("actions:\n  - name: x\n    argv: [echo]\n    limits: {memory: 5}\n", "actions[0].limits.memory: unknown key"),
        ("actions:\n  - name: x\n    argv: [echo]\n    output_limit: 16777216\n",
         "actions[0].output_limit: at most 2785280 bytes: the result travels in one message of at most 16 MiB"),
        ("retention:\n  max_age: 30s\n", "teleops.yaml:2:12: retention.max_age: must be at least 1m"),
        ("retention:\n  max_count: 0\n", "retention.max_count: 0 is out of range"),
        ("retention:\n  keep: 5\n", "retention.keep: unknown key"),
        ("http: [1, 2\n", "is not valid YAML"),
        ("- just\n- a list\n", "expected a mapping, found a list"),
    ])
    func errorsNameTheKeyAndLine(yaml: String, expected: String) {
        #expect {
            try ConfigLoader.parse(yaml: yaml, file: "teleops.yaml")
        } throws: { error in
            "\(error)".contains(expected)
        }
    }
}
