import Foundation
import TeleOpsCore

/// Socket Mode needs the WebSocket test server, which is not in this tree yet: envelopes are
/// kept (`envelopes`) but not sent, and apps.connections.open answers `internal_error`.
struct SocketState {}

extension FakeSlackServer {
    func startSocketMode() async throws {}
    func stopSocketMode() async {}
    func socketModeURL() -> String? { nil }
    func runRedelivery() async {}

    func enqueueEnvelope(_ delivery: PendingDelivery) async {
        let id = UUID().uuidString.lowercased()
        let (type, payload): (String, JSONValue) = switch delivery {
        case .event(let body): ("events_api", body)
        case .interactive(let payload): ("interactive", payload)
        case .command(let fields): ("slash_commands", .object(fields.mapValues(JSONValue.string)))
        }
        state.withLock { state in
            state.envelopes[id] = FakeSlackEnvelope(id: id, type: type, payload: payload, sends: 0, acked: false)
            state.envelopeOrder.append(id)
        }
    }
}
