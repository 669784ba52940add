#if os(Linux)
    import CEpoll
    import Glibc
    import NIOCore

    /// One thread's share of the run on raw epoll: non-blocking sockets, one `send` and one `recv` per request.
    ///
    /// The same logic as the SwiftNIO engine (``LoopWorker`` + ``ClientConnectionHandler``) without the channel
    /// pipeline, which measured ~1 µs of CPU per request on this machine. Everything here runs on the loop's own
    /// thread; the only shared state is ``RunControl``.
    final class EpollLoop {
        private let control: RunControl
        private let config: EngineConfiguration
        private let progress: ProgressCounters?
        private let epfd: Int32
        private let timerfd: Int32
        /// Loop-confined; accesses never overlap (see ``LoopWorker/stats``).
        @exclusivity(unchecked) private(set) var stats: RunStatistics
        @exclusivity(unchecked) private var connections: [EpollConnection?]
        @exclusivity(unchecked) private var nextAllowedNs: [UInt64]
        @exclusivity(unchecked) private var restarts: [(slot: Int, carry: Int?)] = []
        @exclusivity(unchecked) private var timers = TimerHeap()
        private var armedTimerNs: UInt64 = .max
        private var alive: Int
        private var generation: UInt32 = 0
        private var seed: UInt64
        private let readBuffer: UnsafeMutableRawBufferPointer
        private let request: UnsafeMutableRawBufferPointer?
        private var csv = CSVRows()
        private let paced: Bool
        private static let timerTag = UInt64.max

        init(control: RunControl, config: EngineConfiguration, slots: Int, seed: UInt64, progress: ProgressCounters?) {
            self.control = control
            self.config = config
            self.progress = progress
            self.stats = RunStatistics(corrected: config.corrected)
            self.connections = Array(repeating: nil, count: slots)
            self.nextAllowedNs = Array(repeating: 0, count: slots)
            self.alive = slots
            self.seed = seed
            self.paced = control.intervalNs > 0 || control.perWorkerPeriodNs > 0
            epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
            timerfd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
            readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
            if let bytes = config.template.staticBytes {
                let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.readableBytes, alignment: 16)
                bytes.withUnsafeReadableBytes { copy.copyMemory(from: $0) }
                request = copy
            } else {
                request = nil
            }
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: EpollLoop.timerTag))
            _ = epoll_ctl(epfd, EPOLL_CTL_ADD, timerfd, &event)
        }

        deinit {
            close(epfd)
            close(timerfd)
            readBuffer.deallocate()
            request?.deallocate()
        }

        /// Runs until every slot has ended.
        /// - Returns: what this loop measured.
        func run() -> RunStatistics {
            for slot in connections.indices { restarts.append((slot, nil)) }
            processRestarts()
            let capacity = 256
            let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
            defer { events.deallocate() }
            var nextSweep = monotonicNanoseconds() + 100_000_000
            var ticks = 0
            while alive > 0 {
                let before = monotonicNanoseconds()
                let waitMs = nextSweep > before ? Int32(min(100, (nextSweep - before) / 1_000_000 + 1)) : 0
                let count = epoll_wait(epfd, events, Int32(capacity), waitMs)
                if count < 0 && errno != EINTR { break }
                for i in 0..<max(0, Int(count)) {
                    let tag = events[i].data.u64
                    if tag == EpollLoop.timerTag {
                        var expirations: UInt64 = 0
                        _ = read(timerfd, &expirations, 8)
                        armedTimerNs = .max
                        fireTimers()
                        continue
                    }
                    let slot = Int(tag >> 32)
                    guard let connection = connections[slot], connection.generation == UInt32(truncatingIfNeeded: tag)
                    else { continue }
                    handle(connection, events: events[i].events)
                }
                processRestarts()
                let now = monotonicNanoseconds()
                if now >= nextSweep {
                    ticks += 1
                    sweep(now: now, withPercentile: ticks % 5 == 0)
                    processRestarts()
                    nextSweep = now + 100_000_000
                }
            }
            if let sink = config.csvSink { csv.flush(to: sink) }
            publishProgress(withPercentile: true)
            return stats
        }

        // MARK: Slots and connections

        private func processRestarts() {
            while let (slot, carry) = restarts.popLast() {
                startSlot(slot, carry: carry)
            }
        }

        private func startSlot(_ slot: Int, carry: Int?) {
            let now = monotonicNanoseconds()
            guard let sequence = carry ?? control.claim(now: now) else {
                alive -= 1
                return
            }
            let family: Int32
            switch config.address {
            case .v6: family = AF_INET6
            default: family = AF_INET
            }
            let fd = socket(
                family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                stats.recordError(
                    config.errorPrefix + "dial tcp \(config.dialTarget): socket: " + ErrorText.errnoText(errno))
                alive -= 1
                return
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            generation &+= 1
            seed &+= 0x9E37_79B9_7F4A_7C15
            let connection = EpollConnection(
                slot: slot, generation: generation, fd: fd, sequence: sequence, connectStartNs: now, seed: seed)
            if config.template.hasPlaceholders {
                connection.scratch = ByteBufferAllocator().buffer(capacity: config.template.maximumSize)
            }
            let rc = config.address.withSockAddr { connect(fd, $0, socklen_t($1)) }
            if rc != 0 && errno != EINPROGRESS {
                let code = errno
                close(fd)
                connectFailed(slot: slot, message: "connect: " + ErrorText.errnoText(code))
                return
            }
            connections[slot] = connection
            var event = epoll_event(
                events: EPOLLIN.rawValue | EPOLLOUT.rawValue,
                data: epoll_data_t(u64: UInt64(slot) << 32 | UInt64(generation)))
            _ = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event)
        }

        private func connectFailed(slot: Int, message: String) {
            stats.recordError(config.errorPrefix + "dial tcp \(config.dialTarget): " + message)
            restarts.append((slot, nil))
        }

        /// Closes the connection; the slot continues on a new one (with `carry` if a request is still owed).
        private func closeAndRestart(_ connection: EpollConnection, carry: Int?) {
            close(connection.fd)
            connections[connection.slot] = nil
            restarts.append((connection.slot, carry))
        }

        /// Closes the connection; the slot has no more work.
        private func endSlot(_ connection: EpollConnection) {
            close(connection.fd)
            connections[connection.slot] = nil
            alive -= 1
        }

        // MARK: Events

        private func handle(_ connection: EpollConnection, events: UInt32) {
            if connection.phase == .connecting {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                let failedWithoutCode =
                    events & EPOLLOUT.rawValue == 0 && events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
                if error != 0 || failedWithoutCode {
                    close(connection.fd)
                    connections[connection.slot] = nil
                    connectFailed(
                        slot: connection.slot,
                        message: "connect: " + ErrorText.errnoText(error != 0 ? error : ECONNREFUSED))
                    return
                }
                guard events & EPOLLOUT.rawValue != 0 else { return }
                let now = monotonicNanoseconds()
                connection.pendingDialNs = now - connection.connectStartNs
                var event = epoll_event(
                    events: EPOLLIN.rawValue,
                    data: epoll_data_t(u64: UInt64(connection.slot) << 32 | UInt64(connection.generation)))
                _ = epoll_ctl(epfd, EPOLL_CTL_MOD, connection.fd, &event)
                connection.phase = .idle
                dispatch(connection, now: now)
                return
            }
            if events & EPOLLOUT.rawValue != 0 && connection.writePending {
                writeRest(connection)
                if connections[connection.slot] !== connection { return }
            }
            if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                readable(connection)
            }
        }

        private func readable(_ connection: EpollConnection) {
            let n = recv(connection.fd, readBuffer.baseAddress, readBuffer.count, 0)
            if n > 0 {
                guard connection.phase == .inFlight else { return }
                let now = monotonicNanoseconds()
                if !connection.parser.started { connection.firstByteNs = now }
                switch connection.parser.feed(UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: n)) {
                case .needMore:
                    return
                case .complete:
                    complete(connection, now: now, open: true)
                case .malformed(let message):
                    fail(connection, message)
                }
            } else if n == 0 {
                peerClosed(connection)
            } else {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return }
                fail(connection, "read tcp \(config.dialTarget): " + ErrorText.errnoText(code))
            }
        }

        // MARK: Requests

        private func dispatch(_ connection: EpollConnection, now: UInt64) {
            guard paced else {
                send(connection, now: now)
                return
            }
            var sendAt: UInt64 = 0
            if control.intervalNs > 0 {
                connection.plannedNs = control.plannedNs(connection.sequence)
                sendAt = connection.plannedNs
                // Behind schedule: already more than 1 ms overdue when the connection became free.
                if now > connection.plannedNs + 1_000_000 { stats.behindSchedule += 1 }
            }
            if control.perWorkerPeriodNs > 0 {
                sendAt = max(sendAt, nextAllowedNs[connection.slot])
                nextAllowedNs[connection.slot] = max(now, sendAt) + control.perWorkerPeriodNs
            }
            if sendAt > now + 20_000 {
                connection.phase = .scheduled
                connection.pendingDialNs = 0
                timers.push(deadline: sendAt, slot: connection.slot, generation: connection.generation)
                armTimer(now: now)
                return
            }
            send(connection, now: now)
        }

        private func send(_ connection: EpollConnection, now: UInt64) {
            connection.phase = .inFlight
            connection.sendNs = now
            connection.parser.reset(isHead: config.isHead)
            connection.writeOffset = 0
            connection.writePending = false
            if connection.scratch != nil {
                config.template.render(
                    sequence: connection.sequence, random: &connection.random, into: &connection.scratch!)
            }
            writeRest(connection)
        }

        /// Writes what is left of the current request; waits for EPOLLOUT when the socket is full.
        private func writeRest(_ connection: EpollConnection) {
            let result: Int
            let total: Int
            if let request {
                total = request.count
                result = Glibc.send(
                    connection.fd, request.baseAddress! + connection.writeOffset, total - connection.writeOffset,
                    Int32(MSG_NOSIGNAL))
            } else {
                total = connection.scratch!.readableBytes
                let offset = connection.writeOffset
                result = connection.scratch!.withUnsafeReadableBytes {
                    Glibc.send(connection.fd, $0.baseAddress! + offset, total - offset, Int32(MSG_NOSIGNAL))
                }
            }
            if result >= 0 {
                connection.writeOffset += result
                let done = connection.writeOffset == total
                if done != !connection.writePending {
                    connection.writePending = !done
                    var event = epoll_event(
                        events: EPOLLIN.rawValue | (done ? 0 : EPOLLOUT.rawValue),
                        data: epoll_data_t(u64: UInt64(connection.slot) << 32 | UInt64(connection.generation)))
                    _ = epoll_ctl(epfd, EPOLL_CTL_MOD, connection.fd, &event)
                }
                return
            }
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR {
                if !connection.writePending {
                    connection.writePending = true
                    var event = epoll_event(
                        events: EPOLLIN.rawValue | EPOLLOUT.rawValue,
                        data: epoll_data_t(u64: UInt64(connection.slot) << 32 | UInt64(connection.generation)))
                    _ = epoll_ctl(epfd, EPOLL_CTL_MOD, connection.fd, &event)
                }
                return
            }
            fail(connection, "write tcp \(config.dialTarget): " + ErrorText.errnoText(code))
        }

        private func complete(_ connection: EpollConnection, now end: UInt64, open: Bool) {
            let start = connection.sendNs - connection.pendingDialNs
            let total = end - start
            let status = connection.parser.status
            let wait = connection.firstByteNs - connection.sendNs
            stats.recordResponse(
                status: status, bodyBytes: connection.parser.bodyBytes, totalNs: total,
                dialNs: connection.pendingDialNs,
                waitNs: wait, readNs: end - connection.firstByteNs)
            if config.corrected {
                stats.corrected!.recordNanoseconds(end - min(connection.plannedNs, connection.sendNs))
            }
            if let sink = config.csvSink {
                csv.append(
                    totalNs: total, dialNs: connection.pendingDialNs, waitNs: wait,
                    readNs: end - connection.firstByteNs,
                    status: status, offsetNs: start - control.startNs)
                if csv.isFull { csv.flush(to: sink) }
            }
            connection.pendingDialNs = 0
            connection.phase = .idle
            connection.completedOnConnection += 1
            guard open else { return }
            if !connection.parser.keepAlive || config.disableKeepAlive {
                closeAndRestart(connection, carry: nil)
                return
            }
            guard let next = control.claim(now: end) else {
                endSlot(connection)
                return
            }
            connection.sequence = next
            dispatch(connection, now: end)
        }

        /// Whether the failed request should be resent on a new connection (see ``ClientConnectionHandler``).
        private func retryable(_ connection: EpollConnection) -> Bool {
            connection.phase == .inFlight && connection.completedOnConnection > 0 && !connection.parser.started
                && config.idempotent
        }

        private func fail(_ connection: EpollConnection, _ message: String) {
            var carry: Int?
            if retryable(connection) {
                carry = connection.sequence
            } else if connection.phase == .inFlight {
                stats.recordError(config.errorPrefix + message)
            } else if connection.phase == .scheduled {
                carry = connection.sequence
            }
            closeAndRestart(connection, carry: carry)
        }

        private func peerClosed(_ connection: EpollConnection) {
            var carry: Int?
            switch connection.phase {
            case .inFlight:
                if connection.parser.finishOnClose() == .complete {
                    complete(connection, now: monotonicNanoseconds(), open: false)
                } else if retryable(connection) {
                    carry = connection.sequence
                } else {
                    stats.recordError(config.errorPrefix + (connection.parser.started ? "unexpected EOF" : "EOF"))
                }
            case .scheduled:
                carry = connection.sequence
            case .connecting, .idle:
                break
            }
            closeAndRestart(connection, carry: carry)
        }

        // MARK: Timers, timeouts, progress

        private func armTimer(now: UInt64) {
            guard let first = timers.first, first.deadline < armedTimerNs else { return }
            armedTimerNs = first.deadline
            let delta = first.deadline > now ? first.deadline - now : 1
            var spec = itimerspec()
            spec.it_value.tv_sec = Int(delta / 1_000_000_000)
            spec.it_value.tv_nsec = Int(delta % 1_000_000_000)
            _ = timerfd_settime(timerfd, 0, &spec, nil)
        }

        private func fireTimers() {
            var now = monotonicNanoseconds()
            while let first = timers.first, first.deadline <= now + 20_000 {
                timers.pop()
                guard let connection = connections[first.slot], connection.generation == first.generation,
                    connection.phase == .scheduled
                else { continue }
                if control.isStopped {
                    endSlot(connection)
                    continue
                }
                send(connection, now: now)
                now = monotonicNanoseconds()
            }
            armTimer(now: now)
        }

        private func sweep(now: UInt64, withPercentile: Bool) {
            let timeout = config.timeoutNs
            // Relaxed: a stand-alone flag; it publishes no other memory, and a late sighting only delays the stop
            // by one sweep.
            let interrupted = interruptRequested.load(ordering: .relaxed)
            for case let connection? in connections {
                if timeout > 0 && connection.phase == .inFlight && now - connection.sendNs > timeout {
                    fail(
                        connection,
                        connection.parser.started
                            ? "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
                            : "context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
                } else if timeout > 0 && connection.phase == .connecting && now - connection.connectStartNs > timeout {
                    close(connection.fd)
                    connections[connection.slot] = nil
                    connectFailed(slot: connection.slot, message: "i/o timeout")
                } else if interrupted && connection.phase == .scheduled {
                    endSlot(connection)
                }
            }
            publishProgress(withPercentile: withPercentile)
        }

        private func publishProgress(withPercentile: Bool) {
            guard let progress else { return }
            progress.update(
                requests: stats.requests, errors: stats.errors,
                p99Micros: withPercentile && stats.latency.totalCount > 0 ? stats.latency.valueAtPercentile(99) : nil)
        }
    }

#endif
