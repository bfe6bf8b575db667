import Foundation
import TeleOpsChat
import TeleOpsCore

/// Posts one alert body to the controller for `teleops alert send`, and retries what a later
/// attempt can fix, for a bounded time.
///
/// The command is Sensu's pipe handler: Sensu runs it once per event and does not run it
/// again when it fails, so an event refused while the controller is overloaded (429, 503)
/// or restarting (no connection; 502, 504 from a proxy in front of it) would be lost. Those
/// answers, and 408, are retried until `retryFor` has passed since the first attempt: after
/// the answer's `Retry-After` when it has one, else after a capped exponential backoff. Every
/// other answer is final: a 2xx, any other 4xx (the request itself is wrong, sending it again
/// changes nothing), any other 5xx. A retry of a request that did reach the store is harmless:
/// the Sensu decoder's idempotency key (the event id) makes it a duplicate.
///
/// ```swift
/// let poster = AlertPoster(retryFor: .seconds(30))
/// let answer = try await poster.post(body, to: "http://127.0.0.1:8080/v1/alerts/sensu", headers: headers) {
///     FileHandle.standardError.write(Data("\($0)\n".utf8))  // "HTTP 503: …; retrying in 1s"
/// }
/// ```
public struct AlertPoster: Sendable {
    /// An answer as far as retrying is concerned.
    public struct Answer: Sendable, Equatable {
        public var status: Int
        /// The `Retry-After` header, if any.
        public var retryAfter: String?
        public var body: String

        public init(status: Int, retryAfter: String? = nil, body: String = "") {
            self.status = status
            self.retryAfter = retryAfter
            self.body = body
        }
    }

    /// Why the alert was not delivered: a final answer, or the last retryable one when
    /// `retryFor` ran out.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Statuses a later attempt may get past: a timeout, the rate limit, and a controller
    /// that is overloaded, restarting or behind a proxy that cannot reach it. 500 is not
    /// among them: TeleOps answers 503 for everything it expects to pass.
    public static let retryableStatuses: Set<Int> = [408, 429, 502, 503, 504]

    /// Each attempt's time limit, unless less than that remains of `retryFor` (an attempt
    /// still gets at least `minimumAttemptTimeout`, so a slow commit can answer).
    public static let attemptTimeout: Duration = .seconds(30)
    public static let minimumAttemptTimeout: Duration = .seconds(10)

    /// How long after the first attempt a retryable failure is still retried; zero: never.
    public var retryFor: Duration
    /// The waits when the answer has no `Retry-After`: each between half and all of
    /// `backoff.ceiling(attempt:)`, so they grow and many handlers do not retry in step.
    public var backoff: Backoff

    public init(retryFor: Duration = .seconds(30), backoff: Backoff = Backoff(initial: .milliseconds(250), maximum: .seconds(5))) {
        self.retryFor = retryFor
        self.backoff = backoff
    }

    /// Posts `body` to `url` with libcurl; `report` is told each retry and its reason.
    public func post(
        _ body: Data, to url: String, headers: [String: String], report: (String) -> Void
    ) async throws(Failure) -> Answer {
        try await post(
            attempt: { timeout in
                let client = CurlHTTPClient(totalTimeout: timeout)
                let response = try await client.send(method: "POST", url: url, headers: headers, body: body)
                return Answer(
                    status: response.status, retryAfter: response.header("Retry-After"),
                    body: String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            },
            report: report)
    }

    /// The retry loop around `attempt` (which gets its time limit and throws when no answer
    /// came: no connection, a timeout). `elapsed` and `sleep` are the clock, replaceable in
    /// tests.
    public func post(
        attempt: (Duration) async throws -> Answer,
        report: (String) -> Void,
        elapsed: () -> Duration = AlertPoster.stopwatch(),
        sleep: (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        now: () -> Date = Date.init
    ) async throws(Failure) -> Answer {
        var attempts = 0
        while true {
            attempts += 1
            let remaining = retryFor - elapsed()
            let timeout = min(Self.attemptTimeout, max(remaining, Self.minimumAttemptTimeout))
            let reason: String
            var asked: Duration?
            do {
                let answer = try await attempt(timeout)
                if (200..<300).contains(answer.status) { return answer }
                guard Self.retryableStatuses.contains(answer.status) else {
                    throw Failure(description: "HTTP \(answer.status): \(answer.body)")
                }
                asked = Self.retryAfter(answer.retryAfter, now: now())
                reason = "HTTP \(answer.status)" + (answer.retryAfter.map { " (Retry-After: \($0))" } ?? "")
                    + (answer.body.isEmpty ? "" : ": \(Self.shortened(answer.body))")
            } catch let failure as Failure {
                throw failure
            } catch {
                reason = "could not reach the controller: \(error)"
            }
            let left = retryFor - elapsed()
            guard left > .zero else {
                throw Failure(description: retryFor > .zero
                    ? "\(reason); giving up after \(attempts) attempt\(attempts == 1 ? "" : "s") in \(Self.format(elapsed()))" : reason)
            }
            let wait: Duration
            if let asked {
                // An attempt before the controller's time would be refused again.
                guard asked <= left else {
                    throw Failure(description: "\(reason); giving up: the controller asks for \(Self.format(asked)), and only \(Self.format(left)) of --retry-for is left")
                }
                wait = asked
            } else {
                // The last attempt falls on the deadline rather than after it.
                wait = min(backoff.ceiling(attempt: attempts) * Double.random(in: 0.5...1), left)
            }
            report("\(reason); retrying in \(Self.format(wait))")
            do {
                try await sleep(wait)
            } catch {
                throw Failure(description: "\(reason); interrupted while waiting to retry")
            }
        }
    }

    /// The time since this was called.
    public static func stopwatch() -> () -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// A `Retry-After` value as a wait: delay seconds (`120`) or an HTTP date (`Wed, 21 Oct
    /// 2015 07:28:00 GMT`, a wait of zero once it has passed); nil when absent or unreadable.
    public static func retryAfter(_ header: String?, now: Date) -> Duration? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Int(text) { return seconds >= 0 ? .seconds(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSince(now)) * 1000))
    }

    /// `2s`, `750ms`, `1.5s`.
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return String(format: "%.1fs", Double(milliseconds) / 1000)
    }

    /// An error body on one line, at most 200 characters.
    private static func shortened(_ body: String) -> String {
        let line = body.replacingOccurrences(of: "\n", with: " ")
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}
