import Foundation

/// Latency samples and their summary.
struct Samples {
    var values: [Duration] = []

    mutating func add(_ value: Duration) { values.append(value) }

    func percentile(_ p: Double) -> Duration {
        guard !values.isEmpty else { return .zero }
        let sorted = values.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))
        return sorted[index]
    }

    var median: Duration { percentile(0.5) }
    var p99: Duration { percentile(0.99) }

    func line(_ name: String) -> String {
        "\(name.padded(to: 48)) n=\(String(values.count).padded(to: 5)) median \(format(median))  p99 \(format(p99))"
    }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func format(_ duration: Duration) -> String {
    let ms = milliseconds(duration)
    return ms < 1 ? String(format: "%7.1f µs", ms * 1000) : String(format: "%7.2f ms", ms)
}
