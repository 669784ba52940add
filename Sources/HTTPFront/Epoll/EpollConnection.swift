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
    final class EpollConnection: HTTPSession, @unchecked Sendable {
        // @unchecked Sendable: see HTTPSession; everything here is confined to the loop's thread, `loop` and
        // `fd` are immutable.
        let fd: Int32
        let slot: Int
        unowned(unsafe) let loop: EpollServerLoop
        let server: EpollHTTPServer
        /// The socket may have bytes to read (an edge was seen and not yet read to `EAGAIN`).
        private var readable = false
        /// The peer shut its sending side (`EPOLLRDHUP`): read until end of stream.
        private var peerShutWrite = false
        /// Output waits for the socket to take it (`EPOLLOUT`).
        private var writeBlocked = false
        /// Close once the blocked output is written.
        private var closeWhenWritten = false
        private var socketClosed = false
        /// Lingering close (only when the connection ends with unread input, see
        /// ``HTTPSession/endsWithUnreadInput``): our side is shut (FIN sent after the last answer), the peer's
        /// remaining input is read and dropped until its end of stream or `lingerUntil`, so that closing with
        /// unread input does not reset the connection under the last answer.
        private var lingering = false
        private var lingerUntil: UInt64 = 0
        private var lingerBytes = 0
        static let lingerNanoseconds: UInt64 = 2_000_000_000
        static let lingerByteLimit = 1 << 20
        private var nextIdleCheck: UInt64 = .max
        private let idlePeriod: UInt64

        init(fd: Int32, slot: Int, loop: EpollServerLoop, server: EpollHTTPServer) {
            self.fd = fd
            self.slot = slot
            self.loop = loop
            self.server = server
            if let idle = server.configuration.limits.idleTimeout {
                idlePeriod = max(1, MonotonicClock.nanoseconds(idle))
                nextIdleCheck = MonotonicClock.coarseNow() &+ idlePeriod
            } else {
                idlePeriod = 0
            }
            super.init(
                service: server.service, metrics: server.metrics, limits: server.configuration.limits,
                metricsShard: loop.index)
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
                peerShutWrite = true
            }
            if events & EPOLLOUT.rawValue != 0 && writeBlocked {
                writePending()
                if socketClosed { return }
            }
            if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 {
                readable = true
                readAvailable()
            }
        }

        /// Reads and serves what the socket holds, until a short read, `EAGAIN`, end of stream or a hold.
        func readAvailable() {
            if lingering { return discardInput() }
            var reads = 0
            while readable && !socketClosed {
                guard wantsInput && !writeBlocked && !stopParsing else {
                    if !stopParsing { readHeld = true }
                    break
                }
                if reads == 16 {
                    // Fairness: let the loop's other connections run; continue after this batch of events.
                    loop.scheduleRead(self)
                    break
                }
                reads += 1
                loop.readBuffer.clear()
                let fd = self.fd
                var result = 0
                loop.readBuffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { raw -> Int in
                    result = cepoll_recv(fd, raw.baseAddress, raw.count)
                    return max(result, 0)
                }
                if result < 0 {
                    if errno == EINTR { continue }
                    readable = false
                    if errno == EAGAIN || errno == EWOULDBLOCK { break }
                    // A reset or another error: nothing can be answered.
                    closeNow()
                    return
                }
                if result == 0 {
                    // End of stream: answer what was received, then close.
                    readable = false
                    drainAndClose()
                    break
                }
                let count = result
                let short = count < loop.readBuffer.capacity
                received(&loop.readBuffer)
                if short && !peerShutWrite { readable = false }
            }
            readBatchEnded()
        }

        // MARK: HTTPSession hooks

        override func transmit(thenClose: Bool) {
            guard !socketClosed else { return }
            if thenClose { closeWhenWritten = true }
            // A blocked output is written (with what was appended since) when EPOLLOUT comes.
            if !writeBlocked { writePending() }
        }

        /// Writes the output; arms the wait for `EPOLLOUT` with what the socket did not take.
        private func writePending() {
            while output.readableBytes > 0 {
                let fd = self.fd
                // MSG_NOSIGNAL: a peer that reset the connection gives EPIPE here, not a SIGPIPE to the process.
                let written = output.withUnsafeReadableBytes { raw in cepoll_send(fd, raw.baseAddress, raw.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK {
                        writeBlocked = true
                        return
                    }
                    return closeNow()
                }
                output.moveReaderIndex(forwardBy: Int(written))
            }
            output.clear()
            let wasBlocked = writeBlocked
            writeBlocked = false
            if closeWhenWritten {
                return endsWithUnreadInput ? lingerClose() : closeNow()
            }
            if wasBlocked && readHeld && wantsInput {
                readHeld = false
                loop.scheduleRead(self)
            }
        }

        override func closeTransport() {
            if endsWithUnreadInput { lingerClose() } else { closeNow() }
        }

        /// Ends the connection after its last answer: shuts our sending side (the peer sees end of stream after
        /// the answers) and drops what the peer still sends until it closes too, at most ``lingerNanoseconds`` or
        /// ``lingerByteLimit`` bytes. Closing at once with unread input would make the kernel reset the connection.
        private func lingerClose() {
            guard !socketClosed, !lingering else { return }
            closed = true
            lingering = true
            lingerUntil = MonotonicClock.coarseNow() &+ Self.lingerNanoseconds
            if Glibc.shutdown(fd, Int32(SHUT_WR)) != 0 { return closeNow() }
            readable = true
            discardInput()
        }

        /// Reads and drops input while lingering; closes at the peer's end of stream, an error or the byte limit.
        private func discardInput() {
            guard !socketClosed else { return }
            while readable {
                loop.readBuffer.clear()
                let fd = self.fd
                let count = loop.readBuffer.withUnsafeMutableWritableBytes { cepoll_recv(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    lingerBytes += Int(count)
                    if lingerBytes > Self.lingerByteLimit { return closeNow() }
                    continue
                }
                if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    readable = false
                    return
                }
                if count < 0 && errno == EINTR { continue }
                return closeNow()  // end of stream or an error
            }
        }

        override func resumeReading() {
            loop.scheduleRead(self)
        }

        override var onLoop: Bool { loop.inLoop }

        override func post(_ outcome: Outcome, context: UInt64) {
            loop.post(.reply(self, outcome, context))
        }

        /// Closes the socket at once and leaves the loop.
        func closeNow() {
            guard !socketClosed else { return }
            socketClosed = true
            closed = true
            readable = false
            loop.unregister(self)
            close(fd)
        }

        /// Closes the connection if it stayed idle for a whole idle period.
        func sweep(now: UInt64) {
            if lingering {
                if now >= lingerUntil { closeNow() }
                return
            }
            guard now >= nextIdleCheck else { return }
            nextIdleCheck = now &+ idlePeriod
            checkIdle()
        }
    }
#endif
