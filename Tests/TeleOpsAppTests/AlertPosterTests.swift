import Foundation
import Testing
import TeleOpsApp

/// The retries of `teleops alert send`, with scripted answers and a clock that moves only
/// when the poster sleeps.
@Suite struct AlertPosterTests {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "http://127.0.0.1:9/v1/alerts/sensu: Couldn't connect to server" }
    }

    /// What one run did: the waits, the lines reported, the attempts made, and the outcome.
    struct Run {
        var waits: [Duration] = []
        var reports: [String] = []
        var attempts = 0
        var result: Result<AlertPoster.Answer, AlertPoster.Failure>?
    }

    /// Runs `poster` against `answers`, one per attempt (nil: no connection); the last repeats.
    static func run(_ poster: AlertPoster, _ answers: [AlertPoster.Answer?]) async -> Run {
        var run = Run()
        var elapsed = Duration.zero
        do {
            let answer = try await poster.post(
                attempt: { _ in
                    run.attempts += 1
                    guard let answer = answers[min(run.attempts, answers.count) - 1] else { throw Refused() }
                    return answer
                },
                report: { run.reports.append($0) },
                elapsed: { elapsed },
                sleep: { wait in
                    run.waits.append(wait)
                    elapsed += wait
                },
                now: { Date(timeIntervalSince1970: 1_445_412_480) })  // Wed, 21 Oct 2015 07:28:00 GMT
            run.result = .success(answer)
        } catch {
            run.result = .failure(error)
        }
        return run
    }

    static let accepted = AlertPoster.Answer(status: 202, body: #"{"accepted":1}"#)

    @Test func retryAfterIsHonoured() async throws {
        let busy = AlertPoster.Answer(status: 503, retryAfter: "2", body: #"{"error":"overloaded"}"#)
        let limited = AlertPoster.Answer(status: 429, retryAfter: "1")
        let run = await Self.run(AlertPoster(), [busy, limited, Self.accepted])
        #expect(run.waits == [.seconds(2), .seconds(1)])
        #expect(run.reports == [
            #"HTTP 503 (Retry-After: 2): {"error":"overloaded"}; retrying in 2s"#,
            "HTTP 429 (Retry-After: 1); retrying in 1s",
        ])
        #expect(try run.result?.get() == Self.accepted)
    }

    @Test func withoutRetryAfterTheWaitsGrowUpToTheirCap() async throws {
        let poster = AlertPoster(retryFor: .seconds(600))
        let run = await Self.run(poster, Array(repeating: nil, count: 10) + [Self.accepted])
        #expect(run.attempts == 11)
        for (index, wait) in run.waits.enumerated() {
            let ceiling = poster.backoff.ceiling(attempt: index + 1)
            #expect(wait >= ceiling / 2 && wait <= ceiling, "wait \(index + 1): \(wait)")
        }
        #expect(run.waits.last! >= .milliseconds(2500))  // capped at 5 s
        #expect(run.reports.allSatisfy { $0.hasPrefix("could not reach the controller: http://127.0.0.1:9/v1/alerts/sensu: Couldn't connect") })
        #expect(try run.result?.get() == Self.accepted)
    }

    @Test(arguments: [408, 429, 502, 503, 504])
    func retryableAnswers(status: Int) async throws {
        let run = await Self.run(AlertPoster(), [AlertPoster.Answer(status: status), Self.accepted])
        #expect(run.attempts == 2)
        #expect(try run.result?.get() == Self.accepted)
    }

    @Test(arguments: [400, 401, 404, 413, 415, 500, 501])
    func finalAnswers(status: Int) async {
        let run = await Self.run(AlertPoster(), [AlertPoster.Answer(status: status, body: "no"), Self.accepted])
        #expect(run.attempts == 1)
        #expect(run.reports.isEmpty)
        #expect(throws: AlertPoster.Failure.self) { try run.result?.get() }
        if case .failure(let failure)? = run.result { #expect(failure.description == "HTTP \(status): no") }
    }

    @Test func retriesStopOnceRetryForHasPassed() async throws {
        let run = await Self.run(AlertPoster(retryFor: .seconds(30)), [nil])
        let total = run.waits.reduce(Duration.zero, +)
        #expect(total == .seconds(30), "the last attempt falls on the deadline: \(run.waits)")
        #expect(run.attempts == run.waits.count + 1)
        guard case .failure(let failure)? = run.result else { Issue.record("no failure"); return }
        #expect(failure.description.contains("Couldn't connect to server; giving up after \(run.attempts) attempts in 30s"))
    }

    @Test func aRetryAfterPastTheDeadlineGivesUpAtOnce() async {
        let run = await Self.run(AlertPoster(retryFor: .seconds(30)), [AlertPoster.Answer(status: 429, retryAfter: "120")])
        #expect(run.attempts == 1)
        #expect(run.waits.isEmpty)
        guard case .failure(let failure)? = run.result else { Issue.record("no failure"); return }
        #expect(failure.description.hasSuffix("giving up: the controller asks for 120s, and only 30s of --retry-for is left"))
    }

    @Test func retryForZeroMakesOneAttempt() async {
        let run = await Self.run(AlertPoster(retryFor: .zero), [AlertPoster.Answer(status: 503, retryAfter: "1", body: "busy")])
        #expect(run.attempts == 1)
        guard case .failure(let failure)? = run.result else { Issue.record("no failure"); return }
        #expect(failure.description == "HTTP 503 (Retry-After: 1): busy")
    }

    @Test func retryAfterIsDelaySecondsOrAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(AlertPoster.retryAfter("3", now: now) == .seconds(3))
        #expect(AlertPoster.retryAfter(" 0 ", now: now) == .zero)
        #expect(AlertPoster.retryAfter("Wed, 21 Oct 2015 07:28:07 GMT", now: now) == .seconds(7))
        #expect(AlertPoster.retryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now: now) == .zero)
        #expect(AlertPoster.retryAfter("-1", now: now) == nil)
        #expect(AlertPoster.retryAfter("soon", now: now) == nil)
        #expect(AlertPoster.retryAfter(nil, now: now) == nil)
    }
}
