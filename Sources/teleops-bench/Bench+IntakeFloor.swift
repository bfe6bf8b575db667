import ArgumentParser
import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Synchronization
import TeleOpsApp
import TeleOpsCore
import TeleOpsHTTP

/// Floors for alert intake over HTTP: the controller's own intake routes and decoders
/// (`buildHTTPService`, `alertDecoders`) in front of a sink that does no store work at all.
///
/// - `none` answers at once: what the HTTP stack and the decoding cost.
/// - `fsync` answers once the request's alerts are written to a file and `fdatasync`ed, the
///   requests that arrived meanwhile sharing one sync (group commit, on a thread of its own):
///   what acknowledging only what is on disk costs before any store work. The file is written
///   with zeros first (1 GiB by default; the writes wrap around at its end), so that a sync
///   has no file size or extent to record, only the data; a record is the alert's text fields
///   and labels, less than any store keeps. Both make it a floor.
///
/// `scripts/bench/intake-floors.sh` drives both with `wrk` beside `teleops serve` and
/// Prometheus Alertmanager.
extension Bench {
    enum IntakeFloor: String, CaseIterable, ExpressibleByArgument {
        case none, fsync
    }

    func serveIntakeFloor(_ floor: IntakeFloor, port: Int, scratch: URL) async throws {
        let sink: any AlertSink
        switch floor {
        case .none: sink = AnswerAtOnce()
        case .fsync: sink = try SyncedFileSink(path: scratch.appendingPathComponent("floor.journal").path,
                                               bytes: intakeFloorFileMiB << 20)
        }
        var settings = HTTPSettings(host: "127.0.0.1", port: port)
        for name in settings.sources.keys { settings.sources[name]?.rateLimit = nil }
        let logger = Logger(label: "intake-floor")
        let http = buildHTTPService(settings: settings, sink: sink, decoders: alertDecoders, logger: logger) { port in
            print("intake floor '\(floor.rawValue)' listening on 127.0.0.1:\(port)")
            fflush(nil)
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: http)], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}

/// What both floors answer: every alert taken, none stored.
private func takenNotStored(_ alerts: [Alert]) -> [IngestOutcome] {
    alerts.map { _ in IngestOutcome(alertID: 0, scenarioID: nil, disposition: .opened) }
}

/// Takes every alert and stores nothing.
private struct AnswerAtOnce: AlertSink {
    func accept(_ alerts: [Alert]) async throws -> [IngestOutcome] { takenNotStored(alerts) }
}

/// Answers each request once its alerts are in the file and synced; one thread writes and syncs
/// whatever requests gathered during the previous sync.
private final class SyncedFileSink: AlertSink {
    private struct Waiting {
        var record: [UInt8]
        var count: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let fd: Int32
    private let size: Int
    private let waiting = Mutex<[Waiting]>([])
    private let ready = DispatchSemaphore(value: 0)

    init(path: String, bytes: Int) throws {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FloorError("cannot open \(path): \(String(cString: strerror(errno)))") }
        size = max(bytes, 1 << 20)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for offset in stride(from: 0, to: size, by: zeros.count) {
            let written = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard written == zeros.count else { throw FloorError("cannot write \(path): \(String(cString: strerror(errno)))") }
        }
        guard fsync(fd) == 0 else { throw FloorError("cannot sync \(path): \(String(cString: strerror(errno)))") }
        let thread = Thread { [self] in writeLoop() }
        thread.name = "floor-fsync"
        thread.start()
    }

    func accept(_ alerts: [Alert]) async throws -> [IngestOutcome] {
        var record: [UInt8] = []
        for alert in alerts {
            for field in [alert.fingerprint, alert.host, alert.check, alert.summary] {
                record += field.utf8
                record.append(9)
            }
            for (name, value) in alert.labels.sorted(by: { $0.key < $1.key }) {
                record += name.utf8
                record.append(61)
                record += value.utf8
                record.append(9)
            }
            record.append(10)
        }
        let count = alerts.count
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let first = waiting.withLock { list in
                list.append(Waiting(record: record, count: count, continuation: continuation))
                return list.count == 1
            }
            if first { ready.signal() }
        }
        return takenNotStored(alerts)
    }

    private func writeLoop() {
        var offset = 0
        while true {
            ready.wait()
            let taken = waiting.withLock { list in
                defer { list.removeAll(keepingCapacity: true) }
                return list
            }
            guard !taken.isEmpty else { continue }
            var bytes: [UInt8] = []
            for request in taken { bytes += request.record }
            if offset + bytes.count > size { offset = 0 }
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, min($0.count, size), off_t(offset)) }
            offset += max(0, written)
            let failure = written < 0 || fdatasync(fd) != 0 ? FloorError("write or sync: \(String(cString: strerror(errno)))") : nil
            for request in taken {
                if let failure { request.continuation.resume(throwing: failure) } else { request.continuation.resume() }
            }
        }
    }
}

private struct FloorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
