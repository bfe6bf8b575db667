import Glibc

/// The connection's thread: connect, upgrade, then a poll loop over the socket and the eventfd
/// callers wake it with. Everything here runs on that one thread; it shares only `core`.
final class WebSocketSession {
    private enum Mode {
        case open
        /// The client sent (or queued) its close frame and waits for the server's.
        case closing(deadline: ContinuousClock.Instant)
        /// The server sent its close frame; the answer is queued, then the client waits briefly
        /// for the server to close the TCP connection (RFC 6455 §7.1.1: the server closes first).
        case draining(deadline: ContinuousClock.Instant)
    }

    private struct Pending {
        var bytes: [UInt8]
        var offset = 0
        var sent: CheckedContinuation<Void, any Error>?
    }

    private static let lingerAfterClose: Duration = .seconds(1)

    private let core: WebSocketCore
    private let socket: CurlSocket
    private var reader: FrameReader
    private var pending: [Pending] = []
    private var mode = Mode.open
    /// Set after a protocol failure: what still arrives cannot be parsed, only waited out.
    private var readerFailed = false
    private var ended = false
    private var lastReceived = ContinuousClock.now
    private var nextPing: ContinuousClock.Instant
    private var readBuffer = [UInt8](repeating: 0, count: 1 << 16)

    private init(core: WebSocketCore, socket: CurlSocket, leftover: [UInt8]) {
        self.core = core
        self.socket = socket
        reader = FrameReader(maxMessageBytes: core.options.maxMessageBytes)
        reader.append(leftover)
        nextPing = .now + core.options.pingInterval
    }

    /// The thread's body: resumes `connected` once the upgrade succeeded or failed, then serves
    /// the connection until it ends.
    static func run(core: WebSocketCore, headers: [String: String], connected: CheckedContinuation<Void, any Error>) {
        let socket: CurlSocket
        let leftover: [UInt8]
        do {
            if core.connectCancelled { throw CancellationError() }
            let deadline = ContinuousClock.now + core.options.connectTimeout
            do {
                socket = try CurlSocket(url: core.target.connectURL, timeout: core.options.connectTimeout)
            } catch {
                throw core.error(error.message)
            }
            do {
                leftover = try upgrade(socket: socket, core: core, headers: headers, deadline: deadline)
                if core.connectCancelled { throw CancellationError() }
            } catch {
                socket.close()
                throw error
            }
        } catch {
            core.continuation.finish(throwing: error)
            core.threadEnded(unsent: [])
            connected.resume(throwing: error)
            return
        }
        connected.resume()
        let session = WebSocketSession(core: core, socket: socket, leftover: leftover)
        session.serve()
        socket.close()
        core.threadEnded(unsent: session.pending.map { WebSocketCore.Outgoing(bytes: [], sent: $0.sent) })
    }

    // MARK: Upgrade

    /// Sends the upgrade request and reads the answer; returns the bytes after the response head
    /// (frames the server sent right away).
    private static func upgrade(socket: CurlSocket, core: WebSocketCore, headers: [String: String],
                                deadline: ContinuousClock.Instant) throws -> [UInt8] {
        let key = WebSocketHandshake.makeKey()
        let request = try WebSocketHandshake.request(target: core.target, key: key, headers: headers)

        /// Waits for `events` on the socket; false when the deadline passed.
        func wait(_ events: Int32, until deadline: ContinuousClock.Instant) throws -> Bool {
            var fds = [pollfd(fd: socket.fd, events: Int16(events), revents: 0),
                       pollfd(fd: core.wakeFD, events: Int16(POLLIN), revents: 0)]
            let ready = pollUntil(&fds, deadline: deadline)
            if core.connectCancelled { throw CancellationError() }
            if fds[1].revents != 0 { drain(core.wakeFD) }
            return ready > 0
        }

        var offset = 0
        while offset < request.count {
            switch request.withUnsafeBytes({ socket.send(UnsafeRawBufferPointer(rebasing: $0[offset...])) }) {
            case .done(let count): offset += count
            case .again:
                guard try wait(POLLOUT, until: deadline) || ContinuousClock.now < deadline else {
                    throw core.error("timed out sending the upgrade request")
                }
            case .closed: throw core.error("the server closed the connection during the upgrade")
            case .failed(let message): throw core.error("sending the upgrade request: \(message)")
            }
        }

        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        /// Reads once; false at end of stream or when nothing came before `limit`.
        func read(until limit: ContinuousClock.Instant, failOnEnd: Bool) throws -> Bool {
            while true {
                switch chunk.withUnsafeMutableBytes({ socket.receive(into: $0) }) {
                case .done(let count):
                    received += chunk[0..<count]
                    return true
                case .again:
                    if try !wait(POLLIN, until: limit) && ContinuousClock.now >= limit {
                        if failOnEnd {
                            throw core.error("no upgrade response within \(core.options.connectTimeout)")
                        }
                        return false
                    }
                case .closed:
                    if failOnEnd { throw core.error("the server closed the connection without answering the upgrade") }
                    return false
                case .failed(let message):
                    if failOnEnd { throw core.error("reading the upgrade response: \(message)") }
                    return false
                }
            }
        }

        var head: WebSocketHandshake.ResponseHead
        while true {
            switch WebSocketHandshake.parseHead(received) {
            case .head(let parsed):
                head = parsed
            case .malformed:
                throw core.error("malformed upgrade response: \(WebSocketHandshake.bodyStart(Array(received.prefix(100)), chunked: false))")
            case .incomplete:
                guard received.count <= 64 << 10 else { throw core.error("upgrade response head over 64 KiB") }
                _ = try read(until: deadline, failOnEnd: true)
                continue
            }
            break
        }

        guard head.status == 101 else {
            // The start of the body says why (Slack: "invalid_auth", an expired ticket, …).
            let wanted = min(head.headers["content-length"].flatMap { Int($0) } ?? 200, 200)
            let bodyDeadline = min(deadline, .now + .seconds(1))
            while received.count - head.length < wanted, try read(until: bodyDeadline, failOnEnd: false) {}
            let body = WebSocketHandshake.bodyStart(Array(received[head.length...].prefix(wanted)),
                                                    chunked: head.headers["transfer-encoding"]?.lowercased().contains("chunked") == true)
            let status = "HTTP \(head.status)" + (head.reason.isEmpty ? "" : " \(head.reason)")
            throw core.error("upgrade refused: \(status)" + (body.isEmpty ? "" : ": \(body)"))
        }
        if let problem = WebSocketHandshake.problem(with: head, key: key) {
            throw core.error(problem)
        }
        return Array(received[head.length...])
    }

    private static func drain(_ fd: Int32) {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) }
    }

    // MARK: Serving

    private func serve() {
        // Frames that came with the upgrade response.
        processFrames()
        while !ended {
            takeWork()
            flush()
            if ended { break }
            let more = readAvailable()
            if ended { break }
            checkTimers()
            if ended { break }
            wait(immediately: more)
        }
    }

    private var options: WebSocketOptions { core.options }

    private func queue(_ opcode: FrameOpcode, _ payload: [UInt8]) {
        pending.append(Pending(bytes: FrameEncoder.frame(opcode, payload: payload)))
    }

    private func takeWork() {
        let (frames, close) = core.takeWork()
        pending += frames.map { Pending(bytes: $0.bytes, sent: $0.sent) }
        if let close, case .open = mode {
            queue(.close, FrameEncoder.closePayload(code: close.code, reason: close.reason))
            mode = .closing(deadline: .now + options.connectTimeout)
        }
    }

    /// The client stops sending data (the server closed, or a protocol error): frames not yet
    /// started are failed; one partly written is finished, the frame must stay whole.
    private func stopSending() {
        var dropped = core.stopAccepting()
        let keep = pending.first.map { $0.offset > 0 } ?? false
        let unstarted = pending[(keep ? 1 : 0)...]
        dropped += unstarted.map { WebSocketCore.Outgoing(bytes: [], sent: $0.sent) }
        pending.removeLast(unstarted.count)
        for frame in dropped { frame.sent?.resume(throwing: core.error("the connection is closing")) }
    }

    private func flush() {
        while let first = pending.first {
            let result = first.bytes.withUnsafeBytes { socket.send(UnsafeRawBufferPointer(rebasing: $0[first.offset...])) }
            switch result {
            case .done(let count):
                pending[0].offset += count
                if pending[0].offset == pending[0].bytes.count {
                    pending.removeFirst().sent?.resume()
                }
            case .again:
                return
            case .closed:
                lost("the server closed the connection")
                return
            case .failed(let message):
                lost("connection lost: \(message)")
                return
            }
        }
    }

    /// Reads until the socket has nothing more (or a fair share was read); true when there may be more.
    private func readAvailable() -> Bool {
        for _ in 0..<16 {
            let result = readBuffer.withUnsafeMutableBytes { socket.receive(into: $0) }
            switch result {
            case .done(let count):
                lastReceived = .now
                guard !readerFailed else { continue }
                reader.append(readBuffer[0..<count])
                processFrames()
                if ended { return false }
            case .again:
                return false
            case .closed:
                lost("the server closed the connection without a close frame")
                return false
            case .failed(let message):
                lost("connection lost: \(message)")
                return false
            }
        }
        return true
    }

    private func processFrames() {
        while !readerFailed {
            let event: FrameEvent?
            do {
                event = try reader.next()
            } catch {
                failed(error)
                return
            }
            guard let event else { return }
            switch event {
            case .text(let text):
                if case .draining = mode { continue }
                core.continuation.yield(text)
            case .binary:
                continue  // not part of what this client is for (Slack's Socket Mode is text)
            case .ping(let payload):
                if case .open = mode { queue(.pong, payload) }
            case .pong:
                continue
            case .close(let code, _):
                core.setCloseCode(code ?? CloseCode.noStatus)
                switch mode {
                case .open:
                    stopSending()
                    queue(.close, code.map { FrameEncoder.closePayload(code: $0, reason: "") } ?? [])
                    core.continuation.finish()
                    mode = .draining(deadline: .now + Self.lingerAfterClose)
                case .closing:
                    core.continuation.finish()
                    ended = true
                case .draining:
                    break
                }
                return
            }
        }
    }

    /// The server broke the protocol: the stream ends with an error, the client closes with `failure.code`.
    private func failed(_ failure: FrameFailure) {
        readerFailed = true
        guard case .open = mode else {
            ended = true
            return
        }
        core.continuation.finish(throwing: core.error("\(failure.message); closing with \(failure.code)"))
        stopSending()
        queue(.close, FrameEncoder.closePayload(code: failure.code, reason: failure.message))
        mode = .closing(deadline: .now + options.connectTimeout)
    }

    /// The connection ended without a close handshake: an error unless a close was under way.
    private func lost(_ message: String) {
        if case .open = mode {
            core.continuation.finish(throwing: core.error(message))
        } else {
            core.continuation.finish()
        }
        ended = true
    }

    private func checkTimers() {
        let now = ContinuousClock.now
        switch mode {
        case .open:
            if options.idleTimeout > .zero && now - lastReceived >= options.idleTimeout {
                core.continuation.finish(throwing: core.error("nothing from the server for \(options.idleTimeout)"))
                ended = true
                return
            }
            if options.pingInterval > .zero && now >= nextPing {
                queue(.ping, [])
                nextPing = now + options.pingInterval
            }
        case .closing(let deadline):
            if now >= deadline {
                // The server never answered the close frame: the close is over all the same.
                core.continuation.finish()
                ended = true
            }
        case .draining(let deadline):
            if now >= deadline { ended = true }
        }
    }

    private var nextDeadline: ContinuousClock.Instant? {
        switch mode {
        case .open:
            var deadline: ContinuousClock.Instant?
            if options.idleTimeout > .zero { deadline = lastReceived + options.idleTimeout }
            if options.pingInterval > .zero { deadline = min(deadline ?? nextPing, nextPing) }
            return deadline
        case .closing(let deadline), .draining(let deadline):
            return deadline
        }
    }

    private func wait(immediately: Bool) {
        var fds = [pollfd(fd: socket.fd, events: Int16(POLLIN) | (pending.isEmpty ? 0 : Int16(POLLOUT)), revents: 0),
                   pollfd(fd: core.wakeFD, events: Int16(POLLIN), revents: 0)]
        pollUntil(&fds, deadline: immediately ? .now : nextDeadline)
        if fds[1].revents != 0 { Self.drain(core.wakeFD) }
    }
}
