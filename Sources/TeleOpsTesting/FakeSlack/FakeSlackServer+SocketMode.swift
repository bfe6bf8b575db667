import Foundation
import TeleOpsCore

/// Slack's side of Socket Mode over `WebSocketTestServer`: `apps.connections.open` hands out a
/// one-use ticket URL; a connection with a valid ticket gets `hello`, then envelopes. Each
/// envelope goes to one connection (the newest that was not told to disconnect), and one not
/// acknowledged within `ackTimeout` is sent again with `retry_attempt` + 1 and
/// `retry_reason: "timeout"`, up to `maxRedeliveries` times.
struct SocketState {
    struct Peer {
        var peer: WebSocketPeer
        var warned = false
    }

    struct Pending {
        var sends = 0
        var lastSent: ContinuousClock.Instant?
        var due = true
    }

    var server: WebSocketTestServer?
    var tickets: Set<String> = []
    var peers: [Int: Peer] = [:]
    var nextPeer = 0
    var pending: [String: Pending] = [:]
    /// How many connections said hello, over the fake's life.
    var connected = 0
    var withheld = 0
}

extension FakeSlackServer {
    func startSocketMode() async throws {
        let server = try await WebSocketTestServer.start(upgrade: { [weak self] request in
            guard let self, let ticket = Self.ticket(in: request.path) else {
                return .refuse(status: 401, body: "invalid ticket")
            }
            return self.state.withLock { $0.socket.tickets.contains(ticket) } ? .accept : .refuse(status: 401, body: "invalid ticket")
        }, onConnect: { [weak self] peer in
            await self?.serve(peer)
        })
        state.withLock { $0.socket.server = server }
    }

    func stopSocketMode() async {
        let server = state.withLock { $0.socket.server }
        await server?.stop()
    }

    func socketModeURL() -> String? {
        state.withLock { state in
            guard let server = state.socket.server else { return nil }
            let ticket = UUID().uuidString.lowercased()
            state.socket.tickets.insert(ticket)
            return server.url(path: "/link/?ticket=\(ticket)&app_id=\(Self.appID)")
        }
    }

    private static func ticket(in path: String) -> String? {
        guard let query = path.split(separator: "?", maxSplits: 1).last, path.contains("?") else { return nil }
        for pair in query.split(separator: "&") where pair.hasPrefix("ticket=") {
            return String(pair.dropFirst(7))
        }
        return nil
    }

    /// One connection: `hello`, the envelopes waiting, then acks until it closes.
    private func serve(_ peer: WebSocketPeer) async {
        guard let ticket = Self.ticket(in: peer.path),
              let id = state.withLock({ state -> Int? in
                  guard state.socket.tickets.remove(ticket) != nil else { return nil }
                  state.socket.nextPeer += 1
                  return state.socket.nextPeer
              })
        else {
            await peer.close(code: 1008)
            return
        }
        let withhold = state.withLock { state -> Bool in
            guard state.socket.withheld < options.withholdHello else { return false }
            state.socket.withheld += 1
            return true
        }
        if withhold {
            for await _ in peer.received {}
            socketEvents.append(.closed(id))
            return
        }
        let count = state.withLock { state -> Int in
            state.socket.connected += 1
            return state.socket.peers.count + 1
        }
        await peer.send(JSONValue.object([
            "type": "hello", "num_connections": .number(Double(count)),
            "debug_info": ["host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060],
            "connection_info": ["app_id": .string(Self.appID)],
        ]).compactJSON)
        state.withLock { $0.socket.peers[id] = SocketState.Peer(peer: peer) }
        socketEvents.append(.connected(id))
        await flushEnvelopes()
        for await text in peer.received {
            guard let ack = try? JSONParser.parse(Data(text.utf8)), let envelopeID = ack["envelope_id"]?.stringValue else { continue }
            state.withLock { state in
                guard state.envelopes[envelopeID] != nil else { return }
                state.envelopes[envelopeID]!.acked = true
                state.envelopes[envelopeID]!.ackPayload = ack["payload"]
                state.socket.pending[envelopeID] = nil
            }
            acks.append(envelopeID)
        }
        state.withLock { _ = $0.socket.peers.removeValue(forKey: id) }
        socketEvents.append(.closed(id))
    }

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
            state.socket.pending[id] = SocketState.Pending()
        }
        await flushEnvelopes()
    }

    /// Sends every envelope that is due to one connection each.
    func flushEnvelopes() async {
        let now = ContinuousClock.now
        let sends = state.withLock { state -> [(WebSocketPeer, String)] in
            let peers = state.socket.peers.sorted { $0.key > $1.key }.map(\.value)
            guard let target = peers.first(where: { !$0.warned }) ?? peers.first else { return [] }
            var sends: [(WebSocketPeer, String)] = []
            for id in state.envelopeOrder {
                guard var pending = state.socket.pending[id], pending.due, let envelope = state.envelopes[id] else { continue }
                pending.due = false
                pending.sends += 1
                pending.lastSent = now
                state.socket.pending[id] = pending
                state.envelopes[id]!.sends = pending.sends
                var json: [String: JSONValue] = [
                    "envelope_id": .string(id), "payload": envelope.payload, "type": .string(envelope.type),
                    "accepts_response_payload": .bool(envelope.type != "events_api"),
                ]
                if envelope.type == "events_api" {
                    json["retry_attempt"] = .number(Double(pending.sends - 1))
                    json["retry_reason"] = pending.sends > 1 ? "timeout" : ""
                }
                sends.append((target.peer, JSONValue.object(json).compactJSON))
            }
            return sends
        }
        for (peer, text) in sends { await peer.send(text) }
    }

    /// Marks envelopes not acknowledged in time as due again, and sends them, until `stop()`.
    func runRedelivery() async {
        let tick = max(options.ackTimeout / 4, .milliseconds(20))
        while !Task.isCancelled {
            do { try await Task.sleep(for: tick) } catch { return }
            let now = ContinuousClock.now
            let due = state.withLock { state -> Bool in
                var any = false
                for (id, pending) in state.socket.pending {
                    guard !pending.due, let sent = pending.lastSent, now - sent >= options.ackTimeout else { continue }
                    if pending.sends > options.maxRedeliveries {
                        state.socket.pending[id] = nil   // Slack gives up on it
                    } else {
                        state.socket.pending[id]!.due = true
                        any = true
                    }
                }
                return any
            }
            if due { await flushEnvelopes() }
        }
    }

    // MARK: Test API

    /// Sends `{"type":"disconnect","reason":…}` on every open connection, as Slack does before it
    /// closes one (`warning`, about 10 s before), to ask for a new one (`refresh_requested`), or
    /// when Socket Mode is turned off (`link_disabled`, after which the connections are closed).
    public func sendDisconnect(reason: String) async {
        let peers = state.withLock { state -> [WebSocketPeer] in
            for id in state.socket.peers.keys { state.socket.peers[id]!.warned = true }
            return state.socket.peers.values.map(\.peer)
        }
        let text = JSONValue.object(["type": "disconnect", "reason": .string(reason), "debug_info": ["host": "wss-fake.slack.com"]]).compactJSON
        for peer in peers { await peer.send(text) }
        if reason == "link_disabled" {
            for peer in peers { await peer.close(code: 1000) }
        }
    }

    /// Closes every connection that was told to disconnect (what Slack does after `warning`).
    public func closeWarnedConnections() async {
        let peers = state.withLock { $0.socket.peers.values.filter(\.warned).map(\.peer) }
        for peer in peers { await peer.close(code: 1000) }
    }

    /// Drops every connection without a close handshake, as a network failure would.
    public func dropConnections() async {
        let peers = state.withLock { $0.socket.peers.values.map(\.peer) }
        for peer in peers { await peer.drop() }
    }

    /// Sends `text` as is on the newest connection (a reference sample, say).
    public func sendRaw(_ text: String) async throws {
        guard let peer = state.withLock({ $0.socket.peers.max { $0.key < $1.key }?.value.peer }) else {
            throw FakeSlackError(description: "no Socket Mode connection is open")
        }
        await peer.send(text)
    }

    /// Socket Mode connections open now.
    public var socketConnections: Int { state.withLock { $0.socket.peers.count } }
    /// Connections that said hello since the fake started.
    public var socketConnectionsOpened: Int { state.withLock { $0.socket.connected } }
}
