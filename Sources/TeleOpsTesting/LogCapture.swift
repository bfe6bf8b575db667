import Logging

/// Log lines, rendered as `level message key=value…`, for assertions.
public final class LogCapture: Sendable {
    public let lines = Collector<String>()

    public init() {}

    public var logger: Logger {
        Logger(label: "test") { _ in CapturingLogHandler(sink: self.lines) }
    }

    public func lines(containing needle: String) -> [String] { lines.all.filter { $0.contains(needle) } }
}

private struct CapturingLogHandler: LogHandler {
    let sink: Collector<String>
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
        sink.append("\(event.level) \(event.message) \(rendered)")
    }
}
