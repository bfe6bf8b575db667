import Foundation

/// What full-text search indexes for alerts and events, and how a search box's text becomes
/// a query. Every store indexes the same text, so a search finds the same scenarios in each.
public enum SearchText {
    /// An alert: summary, host, check, source, label values and every string and number in
    /// its details.
    public static func of(_ alert: Alert) -> String {
        ofAlert(summary: alert.summary, host: alert.host, check: alert.check, source: alert.source,
                labels: alert.labels, details: alert.details)
    }

    /// The same from an alert's stored fields (a store removing it from its index needs it again).
    public static func ofAlert(summary: String, host: String, check: String, source: String,
                               labels: [String: String], details: JSONValue?) -> String {
        var parts = [summary, host, check, source]
        parts += labels.keys.sorted().compactMap { labels[$0] }
        if let details { collect(details, into: &parts) }
        return parts.filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// An event: what people typed (replies, refusals, notes), the commands run and their
    /// output. Nil for events with nothing to search (alerts are indexed from the alert itself).
    public static func of(_ body: EventBody) -> String? {
        switch body {
        case .replyReceived(let facts): facts.text
        case .replyRefused(let facts), .commandRejected(let facts): facts.text + "\n" + facts.reason
        case .commandDispatched(let facts): ([facts.action] + facts.argv + [facts.host, facts.worker ?? ""]).joined(separator: " ")
        case .commandFinished(let result): result.action + "\n" + result.output
        case .commandLost(let facts): facts.action + "\n" + facts.reason
        case .resolved(let facts), .note(let facts): facts.text.isEmpty ? nil : facts.text
        case .handedOff(let facts): facts.to + "\n" + facts.note
        case .alertFired, .alertRepeated, .alertResolved, .notified, .cancelRequested, .acknowledged, .silenced: nil
        }
    }

    /// Whether events of `kind` can have text (`of(_:)` is nil for every other kind), so that
    /// a store reading events back for its index need not decode the payloads of the others.
    public static func mayHaveText(_ kind: EventKind) -> Bool {
        switch kind {
        case .replyReceived, .replyRefused, .commandRejected, .commandDispatched, .commandFinished, .commandLost,
             .resolved, .note, .handedOff: true
        case .alertFired, .alertRepeated, .alertResolved, .notified, .cancelRequested, .acknowledged, .silenced: false
        }
    }

    private static func collect(_ value: JSONValue, into parts: inout [String]) {
        switch value {
        case .string(let string): parts.append(string)
        case .number(let number):
            parts.append(number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : number.description)
        case .array(let items): items.forEach { collect($0, into: &parts) }
        case .object(let members): members.forEach { collect($0.value, into: &parts) }
        case .bool, .null: break
        }
    }
}

/// A search box's text as search terms: words separated by white space, each matched as a
/// whole word (or as a prefix when it ends in `*`), all required. Quotes and operators mean
/// nothing, so no input is a syntax error.
public struct SearchTerms: Sendable, Equatable {
    public struct Term: Sendable, Equatable {
        public var word: String
        public var isPrefix: Bool
    }

    public let terms: [Term]

    public init(_ text: String) {
        terms = text.split(whereSeparator: { $0.isWhitespace }).compactMap { raw in
            let isPrefix = raw.hasSuffix("*")
            let word = String(raw).trimmingCharacters(in: CharacterSet.alphanumerics.inverted)
            return word.isEmpty ? nil : Term(word: word, isPrefix: isPrefix)
        }
    }

    public var isEmpty: Bool { terms.isEmpty }

    /// As an SQLite FTS5 query: each term a quoted string, prefix terms with `*`.
    public var fts5: String {
        terms.map { "\"" + $0.word.replacingOccurrences(of: "\"", with: "\"\"") + "\"" + ($0.isPrefix ? "*" : "") }
            .joined(separator: " ")
    }

    /// Whether `text` holds every term, comparing case- and accent-insensitively word by word
    /// (the reference behaviour for stores without a full-text index).
    /// A term with punctuation inside (`db-1`) is a phrase of its words, as in the index.
    public func matches(_ text: String) -> Bool {
        let words = Self.words(text)
        return terms.allSatisfy { term in
            let phrase = Self.words(term.word)
            guard !phrase.isEmpty, words.count >= phrase.count else { return false }
            return (0...(words.count - phrase.count)).contains { start in
                phrase.indices.allSatisfy { index in
                    let word = words[start + index]
                    let isLast = index == phrase.count - 1
                    return term.isPrefix && isLast ? word.hasPrefix(phrase[index]) : word == phrase[index]
                }
            }
        }
    }

    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map { fold(String($0)) }
    }

    static func fold(_ word: String) -> String {
        word.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
    }
}
