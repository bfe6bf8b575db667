import Foundation
import TeleOpsCore

/// A query parameter of a review request that was wrong: which one, the value given, and what
/// is accepted, in one message a person can act on.
struct ReviewParameterError: Error, Equatable {
    var parameter: String
    var value: String
    /// What was wrong and what is accepted (without the parameter's name, which `description` adds).
    var problem: String

    var description: String { "\(parameter): \(problem)" }
}

/// The parameters of a request's query string, decoded as an HTML form sends them: `+` is a
/// space and `%XX` a byte of UTF-8. Each name may appear once.
struct QueryString {
    /// Name and value, in the order given.
    let pairs: [(name: String, value: String)]

    static func parse(_ raw: String?) throws(ReviewParameterError) -> QueryString {
        guard let raw, !raw.isEmpty else { return QueryString(pairs: []) }
        var pairs: [(name: String, value: String)] = []
        for item in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let rawName = String(parts[0]), rawValue = parts.count > 1 ? String(parts[1]) : ""
            guard let name = decode(rawName) else {
                throw ReviewParameterError(
                    parameter: rawName, value: rawValue, problem: "the name is not valid percent-encoded UTF-8")
            }
            guard let value = decode(rawValue) else {
                throw ReviewParameterError(
                    parameter: name, value: rawValue, problem: "'\(rawValue)' is not valid percent-encoded UTF-8")
            }
            if pairs.contains(where: { $0.name == name }) {
                throw ReviewParameterError(parameter: name, value: value, problem: "is given more than once; give it once")
            }
            pairs.append((name, value))
        }
        return QueryString(pairs: pairs)
    }

    /// `application/x-www-form-urlencoded` decoding of one name or value.
    static func decode(_ text: String) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// Percent-encodes a name or value for a URL's query (spaces as `%20`).
    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
}

/// Which scenarios a list request asks for: `GET /v1/scenarios` and `GET /scenarios` take the
/// same parameters. An empty value means "not set" (an HTML form sends every field); anything
/// else that is not accepted is an error naming the parameter.
struct ScenarioFilter: Equatable {
    static let defaultLimit = 50
    static let maxLimit = 200
    /// Longest value of a text parameter (host, check, …) and of the search words.
    static let maxTextLength = 256

    /// Every parameter, in the order the docs list them.
    enum Parameter: String, CaseIterable {
        case status, host, check, source, severity, engineer, since, until, q, limit, before
    }

    static let parameters = Parameter.allCases.map(\.rawValue)

    var query = ScenarioQuery(limit: defaultLimit)
    /// The parameters that were set, with their values as given (to fill a form, or to build the
    /// next page's link).
    var given: [String: String] = [:]

    init() {}

    /// `now`: where ages (`since=24h`) count back from.
    init(_ queryString: QueryString, now: Date = Date()) throws(ReviewParameterError) {
        for (name, rawValue) in queryString.pairs {
            let value = rawValue.trimmingCharacters(in: .whitespaces)
            guard let parameter = Parameter(rawValue: name) else {
                throw ReviewParameterError(
                    parameter: name, value: rawValue,
                    problem: "is not a parameter of this endpoint; accepted: \(Self.parameters.joined(separator: ", "))")
            }
            guard !value.isEmpty else { continue }
            try set(parameter, value, now: now)
            given[name] = value
        }
        if let since = query.openedSince, let until = query.openedBefore, until <= since {
            throw ReviewParameterError(
                parameter: "until", value: given["until"] ?? "",
                problem: "'\(given["until"] ?? "")' is not after since ('\(given["since"] ?? "")'); expected a later time")
        }
    }

    private mutating func set(_ parameter: Parameter, _ value: String, now: Date) throws(ReviewParameterError) {
        func invalid(_ problem: String) -> ReviewParameterError {
            ReviewParameterError(parameter: parameter.rawValue, value: value, problem: "'\(value)' \(problem)")
        }
        func text() throws(ReviewParameterError) -> String {
            guard value.count <= Self.maxTextLength else {
                throw invalid("is \(value.count) characters long; expected at most \(Self.maxTextLength)")
            }
            return value
        }
        switch parameter {
        case .status:
            guard let status = ScenarioStatus(rawValue: value.lowercased()) else {
                throw invalid("is not a scenario status; expected one of: \(ScenarioStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.status = status
        case .severity:
            guard let severity = Severity(rawValue: value.lowercased()) else {
                throw invalid("is not a severity; expected one of: \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.severity = severity
        case .host: query.host = try text()
        case .check: query.check = try text()
        case .source: query.source = try text()
        case .engineer: query.engineer = try text()
        case .since, .until:
            guard let time = QueryTime.parse(value, now: now) else {
                throw invalid("is not a time; expected \(QueryTime.accepted)")
            }
            if parameter == .since { query.openedSince = time } else { query.openedBefore = time }
        case .q:
            let words = try text()
            guard !SearchTerms(words).isEmpty else {
                throw invalid("has no word to search for; expected words of letters or digits (a trailing * matches a prefix)")
            }
            query.text = words
        case .limit:
            guard let limit = Int(value), (1...Self.maxLimit).contains(limit) else {
                throw invalid("is not accepted; expected a whole number from 1 to \(Self.maxLimit) (default \(Self.defaultLimit))")
            }
            query.limit = limit
        case .before:
            guard let id = Int64(value), id > 0 else {
                throw invalid("is not a scenario id; expected the next_before of the previous page, a positive whole number")
            }
            query.beforeID = id
        }
    }

    /// The query string for these filters with `changes` applied (nil removes a parameter), in
    /// the documented parameter order: for paging and status links.
    func queryString(with changes: [String: String?] = [:]) -> String {
        var values = given
        for (name, value) in changes { values[name] = value }
        return Self.parameters.compactMap { name in
            values[name].map { "\(name)=\(QueryString.encode($0))" }
        }.joined(separator: "&")
    }
}
