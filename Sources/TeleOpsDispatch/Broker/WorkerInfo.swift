import Foundation

/// A worker registered with the broker, as `Broker.registeredWorkers()` reports it.
///
/// ```swift
/// for worker in broker.registeredWorkers() {
///     print(worker.id, worker.hosts, "\(worker.inFlight)/\(worker.capacity)")
/// }
/// ```
public struct WorkerInfo: Sendable, Equatable {
    public var id: String
    /// Hosts it serves; `"*"` means every host.
    public var hosts: [String]
    public var labels: [String: String]
    public var capacity: Int
    /// Tasks sent to it that have not come back yet.
    public var inFlight: Int
    /// When the broker last heard from it (any message counts).
    public var lastHeartbeat: Date
    public var pid: Int32
    public var version: String
}
