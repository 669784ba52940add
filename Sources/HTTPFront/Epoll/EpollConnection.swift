#if os(Linux)
    import ClstrRuntime
    import CEpoll
    import Glibc
    import NIOCore

    /// One connection of the epoll engine: an ``HTTPSession`` whose bytes are read from and written to a
    /// non-blocking socket by its loop.
    ///
    /// - Reading: edge-triggered; reads until a short read, `EAGAIN` or end of stream, into the loop's shared
    ///   receive buffer. Reading is held back while the session's pipeline ring is full or written answers wait
    ///   for the socket (bounded buffers), and resumes when they drain.
    /// - Writing: one `write` of the whole output per batch; what the socket does not take waits for `EPOLLOUT`.
    /// - Closing with unread input lingers (``HTTPConnectionStateMachine/CloseMode/linger``): our side is shut
    ///   (FIN after the last answer) and the peer's rest is read and dropped until its end of stream or a limit.
    typealias EpollConnection = HTTPSession<EpollTransport>

    /// The epoll engine's per-connection state and hooks.
    struct EpollTransport: HTTPTransport {
        let fd: Int32
        /// The connection's slot in its loop's table (with its generation: events and scheduled reads for a closed
        /// connection whose slot was reused are recognised as stale).
        let slot: Int
        // A strong reference (it was `unowned(unsafe)`): a session outlives its socket whenever a request is in
        // flight in the cluster (the reply target holds it), and a reply may complete after the loop group was
        // shut down and released; `onLoop` and `post` would then read a freed loop. The loop's table does not
        // keep this cycle alive: a closed connection leaves it, and a stopping loop closes every connection.
        let loop: EpollServerLoop
        let server: EpollHTTPServer
        /// The socket may have bytes to read (an edge was seen and not yet read to `EAGAIN`).
        var readable = false
        /// The peer shut its sending side (`EPOLLRDHUP`): read until end of stream.
        var peerShutWrite = false

        init(fd: Int32, slot: Int, loop: EpollServerLoop, server: EpollHTTPServer) {
            self.fd = fd
            self.slot = slot
            self.loop = loop
            self.server = server
        }

        static func onLoop(_ session: EpollConnection) -> Bool { session.transport.loop.inLoop }

        static func write(
            _ session: EpollConnection, thenClose: HTTPConnectionStateMachine.CloseMode?
        )
            -> HTTPWriteResult
        {
            let fd = session.transport.fd
            while session.output.readableBytes > 0 {
                // MSG_NOSIGNAL: a peer that reset the connection gives EPIPE here, not a SIGPIPE to the process.
                let written = session.output.withUnsafeReadableBytes { raw in
                    cepoll_send(fd, raw.baseAddress, raw.count)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { return .blocked }
                    return .failed
                }
                session.output.moveReaderIndex(forwardBy: Int(written))
            }
            session.output.clear()
            return .complete
        }

        static func close(_ session: EpollConnection, _ mode: HTTPConnectionStateMachine.CloseMode) {
            switch mode {
            case .now: session.closeSocket()
            case .linger: session.lingerClose()
            }
        }

        static func resumeReading(_ session: EpollConnection) {
            session.transport.loop.scheduleRead(session)
        }

        static func post(_ outcome: Outcome, context: UInt64, to session: EpollConnection) {
            session.transport.loop.post(.reply(session, outcome, context))
        }
    }

    extension HTTPSession where Transport == EpollTransport {
        convenience init(fd: Int32, slot: Int, loop: EpollServerLoop, server: EpollHTTPServer) {
            self.init(
                transport: EpollTransport(fd: fd, slot: slot, loop: loop, server: server), service: server.service,
                metrics: server.metrics, limits: server.configuration.limits, metricsShard: loop.index)
        }

        // MARK: Readiness

        func handle(events: UInt32) {
            if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                // A reset, or both directions shut: nothing can be delivered any more, whatever is unread.
                return closeNow()
            }
            if events & EPOLLRDHUP.rawValue != 0 {
                // The peer shut its side: the end of stream must be read even after a short read (no further
                // edge will come for it).
                transport.peerShutWrite = true
            }
            if events & EPOLLOUT.rawValue != 0 {
                transportWritable()
                if state.isClosed { return }
            }
            if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 {
                transport.readable = true
                readAvailable()
            }
        }

        /// Reads and serves what the socket holds, until a short read, `EAGAIN`, end of stream or a hold.
        func readAvailable() {
            if state.phase == .lingering { return discardInput() }
            let loop = transport.loop
            var reads = 0
            while transport.readable && !state.isClosed {
                guard mayRead() else { break }
                if reads == 16 {
                    // Fairness: let the loop's other connections run; continue after this batch of events.
                    loop.scheduleRead(self)
                    break
                }
                reads += 1
                loop.readBuffer.clear()
                let fd = transport.fd
                var result = 0
                loop.readBuffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { raw -> Int in
                    result = cepoll_recv(fd, raw.baseAddress, raw.count)
                    return max(result, 0)
                }
                if result < 0 {
                    if errno == EINTR { continue }
                    transport.readable = false
                    if errno == EAGAIN || errno == EWOULDBLOCK { break }
                    // A reset or another error: nothing can be answered.
                    return closeNow()
                }
                if result == 0 {
                    // End of stream: answer what was received, then close.
                    transport.readable = false
                    endOfStream()
                    break
                }
                let short = result < loop.readBuffer.capacity
                received(&loop.readBuffer)
                if short && !transport.peerShutWrite { transport.readable = false }
            }
            readBatchEnded()
        }

        // MARK: Closing

        /// Ends the connection after its last answer: shuts our sending side (the peer sees end of stream after
        /// the answers) and drops what the peer still sends until it closes too, at most
        /// ``HTTPLimits/lingerTimeout`` or ``HTTPLimits/lingerByteLimit`` bytes. Closing at once with unread input
        /// would make the kernel reset the connection.
        fileprivate func lingerClose() {
            state.lingerStarted(now: MonotonicClock.coarseNow())
            if Glibc.shutdown(transport.fd, Int32(SHUT_WR)) != 0 { return closeNow() }
            transport.readable = true
            discardInput()
        }

        /// Reads and drops input while lingering; closes at the peer's end of stream, an error or the byte limit.
        private func discardInput() {
            let loop = transport.loop
            let fd = transport.fd
            while transport.readable && state.phase == .lingering {
                loop.readBuffer.clear()
                let count = loop.readBuffer.withUnsafeMutableWritableBytes { cepoll_recv(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if state.bytesReceived(Int(count)) == .closeNow { return closeSocket() }
                    continue
                }
                if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    transport.readable = false
                    return
                }
                if count < 0 && errno == EINTR { continue }
                return closeNow()  // end of stream or an error
            }
        }

        /// Closes the socket and leaves the loop (once: the state machine hands out `.now` once).
        fileprivate func closeSocket() {
            transport.readable = false
            transport.loop.unregister(self)
            Glibc.close(transport.fd)
        }

        /// Closes the connection if its linger deadline passed, it stayed idle for a whole idle period, or a partial
        /// request missed its read deadline (the loop's sweep, every ``HTTPLimits/sweepPeriod`` at most).
        func sweep(now: UInt64) {
            if state.lingerCheck(now: now) { return closeSocket() }
            periodicCheck(now: now)
        }
    }
#endif
