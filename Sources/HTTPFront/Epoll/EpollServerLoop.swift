#if os(Linux)
    import CEpoll
    import ClstrRuntime
    import Glibc
    import NIOCore
    import Synchronization

    /// One thread of the epoll engine: accepts on its servers' listening sockets, reads, parses and writes its connections, and runs
    /// what other threads post to it (actor turns, replies, calls) from a lock-free inbox woken by an `eventfd`.
    ///
    /// Connections are edge-triggered: a readable connection is read until a short read (one `read` per request
    /// batch in the usual case) and answered with one `write` per batch. Everything but ``post(_:)``, ``inLoop``
    /// and ``stop()`` runs on the loop's thread.
    public final class EpollServerLoop: @unchecked Sendable {
        // @unchecked Sendable: the inbox, the wake flag, the thread identity, the stop flag and the connection count
        // (read by other loops to balance) are atomic or lock-free; every other member is confined to the loop's
        // thread (see the class comment).

        /// What other threads hand to a loop.
        enum Task: Sendable {
            /// Run an actor turn.
            case turn(any ActorJob)
            /// Complete a deferred HTTP answer.
            case reply(EpollConnection, Outcome, UInt64)
            /// Run a closure.
            case call(@Sendable () -> Void)
        }

        /// The loop's position in its group (also its metrics shard).
        public let index: Int
        let name: String
        let epfd: Int32
        private let wakeFD: Int32
        // 4,096 slots: enough for the replies and turns of a busy loop between two drains; more spill over
        // rather than wait (nothing posted here depends on order across a spill). 16,384 slots cost ~1 MB of
        // heap per loop.
        let inbox = WakeInbox<Task>(capacity: 4_096)
        private let stopping = Atomic<Bool>(false)
        /// Whether ``stop()`` was called.
        var isStopping: Bool {
            // Relaxed: a hint for the balancing. A hand-over that races the stop and lands after the loop's last
            // drain of its inbox is never served: its descriptor stays open until the process exits (the group
            // stops only at exit).
            stopping.load(ordering: .relaxed)
        }

        /// Connections this loop serves or was handed and is about to serve (read by other loops to balance).
        let connectionCount = Atomic<Int>(0)
        private let threadID = Atomic<UInt>(0)
        private var thread = pthread_t()

        // Loop-confined state (accesses never overlap: exclusivity checks off, as in HTTPSession).
        @exclusivity(unchecked) private var connections = EpollSlotTable<EpollConnection>()
        @exclusivity(unchecked) private var listeners: [Listener] = []
        @exclusivity(unchecked) private var pendingReads: [EpollConnection] = []
        @exclusivity(unchecked) private var readyReads: [EpollConnection] = []
        /// The receive buffer every connection of the loop reads into (what a batch leaves over is copied out).
        @exclusivity(unchecked) var readBuffer: ByteBuffer
        /// How often connections are swept (idle, read and linger deadlines): the shortest
        /// ``HTTPLimits/sweepPeriod`` of the loop's servers, 1 s at most.
        @exclusivity(unchecked) private var sweepPeriod: UInt64 = 1_000_000_000

        struct Listener {
            let fd: Int32
            let server: EpollHTTPServer
            /// Accepting is paused until this time (coarse monotonic ns) after running out of descriptors or
            /// memory; 0 when watching.
            var pausedUntil: UInt64 = 0
        }

        static let wakeTag: UInt64 = 0
        static let listenerKind: UInt64 = 1 << 62
        static let connectionKind: UInt64 = 2 << 62
        static let kindMask: UInt64 = 3 << 62
        /// The most turns, and the longest time, coalesced work is held over while more work is ready.
        static let maxHeldTurns = 8
        static let maxHoldNanoseconds: UInt64 = 200_000
        static let readBufferSize = 64 * 1_024

        init(index: Int, name: String) {
            self.index = index
            self.name = name
            epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
            precondition(epfd >= 0, "epoll_create1 failed: errno \(errno)")
            wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
            precondition(wakeFD >= 0, "eventfd failed: errno \(errno)")
            readBuffer = ByteBufferAllocator().buffer(capacity: Self.readBufferSize)
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: Self.wakeTag))
            precondition(epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &event) == 0, "epoll_ctl(eventfd) failed")
        }

        deinit {
            close(epfd)
            close(wakeFD)
        }

        /// Whether the caller runs on this loop's thread.
        public var inLoop: Bool {
            // Relaxed: the loop's own thread stored the value before running anything; other threads never
            // match it whatever they read.
            UInt(bitPattern: Int(bitPattern: pthread_self())) == threadID.load(ordering: .relaxed)
        }

        // MARK: Cross-thread

        /// Queues `task` for the loop and wakes it if needed (from any thread; never blocks on the loop).
        func post(_ task: Task) {
            if inbox.post(task) {
                var one: UInt64 = 1
                _ = write(wakeFD, &one, 8)
            }
        }

        /// Runs `body` on the loop (from any thread).
        public func execute(_ body: @escaping @Sendable () -> Void) {
            post(.call(body))
        }

        func start() {
            let box = Unmanaged.passRetained(self)
            var handle = pthread_t()
            let rc = pthread_create(&handle, nil, epollLoopMain, box.toOpaque())
            precondition(rc == 0, "pthread_create failed: \(rc)")
            thread = handle
        }

        /// Stops the loop (it closes its listeners and connections) and waits for its thread to end.
        func stop() {
            stopping.store(true, ordering: .sequentiallyConsistent)
            post(.call {})
            if !inLoop {
                pthread_join(thread, nil)
            }
        }

        // MARK: The loop

        fileprivate func run() {
            threadID.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .sequentiallyConsistent)
            let capacity = 512
            let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
            defer { events.deallocate() }
            var nextSweep = MonotonicClock.now() &+ sweepPeriod
            // Transports coalesce what a turn sends to one destination and flush it when the turn ends.
            let turns = TurnBoundary.beginLoop()
            // Turns whose coalesced work was held over, and when the first of them ended.
            var heldTurns = 0
            var heldSince: UInt64 = 0
            while !stopping.load(ordering: .relaxed) {
                let holding = turns.hasDeferredWork
                let timeout: Int32 =
                    pendingReads.isEmpty && !holding ? Int32(max(1, sweepPeriod / 1_000_000)) : 0
                let count = epoll_wait(epfd, events, Int32(capacity), timeout)
                if count < 0 && errno != EINTR { break }
                if holding && count <= 0 && pendingReads.isEmpty {
                    // Nothing else is ready: send what the held turns coalesced, then sleep.
                    heldTurns = 0
                    turns.endTurn()
                    continue
                }
                for i in 0..<max(0, Int(count)) {
                    let tag = events[i].data.u64
                    switch tag & Self.kindMask {
                    case Self.connectionKind:
                        // A stale tag (its connection closed earlier in this batch, its slot maybe reused) is nil.
                        connections.element(for: tag)?.handle(events: events[i].events)
                    case Self.listenerKind:
                        let position = Int(tag & ~Self.kindMask)
                        if position < listeners.count { accept(at: position) }
                    default:
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                    }
                }
                drainInbox()
                if !pendingReads.isEmpty {
                    // Two arrays swapped, not a copy and `removeAll`: that would reallocate the shared storage
                    // on every iteration with pending reads.
                    swap(&pendingReads, &readyReads)
                    for connection in readyReads where !connection.state.isClosed { connection.readAvailable() }
                    readyReads.removeAll(keepingCapacity: true)
                }
                let now = MonotonicClock.coarseNow()
                if now >= nextSweep {
                    nextSweep = now &+ sweepPeriod
                    sweepIdle(now: now)
                    resumePausedListeners(now: now)
                }
                // Coalesced work (a transport's batched requests) is held over while more is ready, as a loop
                // flushes before it sleeps (Redis' beforeSleep, Netty's flush consolidation): under load a turn
                // sees only the connections that became readable since the last one, and the next turns add to the
                // same batches. Held for at most 8 turns and 200 µs: with an idle loop (the next epoll_wait finds
                // nothing) it leaves at once, and nothing waits for a later wake-up.
                if turns.hasDeferredWork {
                    let now = MonotonicClock.now()
                    if heldTurns == 0 { heldSince = now }
                    heldTurns += 1
                    if heldTurns < Self.maxHeldTurns && now &- heldSince < Self.maxHoldNanoseconds { continue }
                }
                heldTurns = 0
                turns.endTurn()
            }
            drainInbox()
            turns.endTurn()
            for connection in connections.all { connection.closeNow() }
            for listener in listeners where listener.fd >= 0 { _ = epoll_ctl(epfd, EPOLL_CTL_DEL, listener.fd, nil) }
            listeners.removeAll()
        }

        private func drainInbox() {
            inbox.drain { run($0) }
        }

        private func run(_ task: Task) {
            switch task {
            case .turn(let job): job.runTurn()
            case .reply(let session, let outcome, let context): session.complete(sequence: context, outcome: outcome)
            case .call(let body): body()
            }
        }

        // MARK: Listeners and connections (on the loop)

        /// Starts accepting on `fd` (the server's bound, listening, non-blocking socket, shared by every loop) for
        /// `server`. `EPOLLEXCLUSIVE`: a new connection wakes one waiting loop, not all of them.
        func addListener(_ fd: Int32, server: EpollHTTPServer) {
            sweepPeriod = min(
                sweepPeriod, max(1_000_000, MonotonicClock.nanoseconds(server.configuration.limits.sweepPeriod)))
            listeners.append(Listener(fd: fd, server: server))
            var event = epoll_event(
                events: EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue,
                data: epoll_data_t(u64: Self.listenerKind | UInt64(listeners.count - 1)))
            _ = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event)
        }

        /// Stops accepting for `server` (the server closes its socket once every loop has let go of it).
        func removeListeners(of server: EpollHTTPServer) {
            for listener in listeners where listener.server === server && listener.fd >= 0 && listener.pausedUntil == 0
            {
                _ = epoll_ctl(epfd, EPOLL_CTL_DEL, listener.fd, nil)
            }
            // Positions are tags: keep the other listeners where they are by blanking, not compacting, unless empty.
            listeners = listeners.map { $0.server === server ? Listener(fd: -1, server: $0.server) : $0 }
            if listeners.allSatisfy({ $0.fd < 0 }) { listeners.removeAll() }
        }

        /// The open connections of `server` on this loop.
        func connections(of server: EpollHTTPServer) -> [EpollConnection] {
            connections.all.filter { $0.transport.server === server }
        }

        private func accept(at position: Int) {
            let listener = listeners[position]
            guard listener.fd >= 0, listener.pausedUntil == 0 else { return }
            // Level-triggered: what is left after this batch wakes the loop again.
            for _ in 0..<64 {
                let fd = cepoll_accept(listener.fd, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                if fd < 0 {
                    let error = errno
                    if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM {
                        // Out of descriptors or memory: the pending connection stays queued and the level-triggered
                        // listener would wake the loop at once, forever. Stop watching it for a second.
                        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, listener.fd, nil)
                        listeners[position].pausedUntil = MonotonicClock.coarseNow() &+ 1_000_000_000
                        // Relaxed: a counter for scrapes.
                        listener.server.metrics.acceptFailures.wrappingAdd(1, ordering: .relaxed)
                    }
                    return
                }
                // The cap: an atomic add, so that loops accepting at once cannot overshoot it. Relaxed: the count
                // orders nothing but itself (every add and subtract is a read-modify-write of the one counter).
                let server = listener.server
                let open = server.metrics.openConnections.wrappingAdd(1, ordering: .relaxed).newValue
                if open > server.configuration.maxConnections {
                    server.metrics.openConnections.wrappingSubtract(1, ordering: .relaxed)
                    // Relaxed: a counter for scrapes.
                    server.metrics.refusedConnections.wrappingAdd(1, ordering: .relaxed)
                    Self.refuse(fd)
                    continue
                }
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                // The loop with the fewest connections serves it: the loop that wins the wake-up accepts a whole
                // burst (200 clients connecting at once split 132/68 between two loops), and every client of the
                // busier loop then waits longer.
                let target = server.loopForNewConnection(acceptedOn: self)
                // Relaxed: a balancing hint; each loop's count is only ever changed by read-modify-writes.
                target.connectionCount.wrappingAdd(1, ordering: .relaxed)
                if target === self {
                    register(fd: fd, server: server)
                } else {
                    target.post(
                        .call {
                            // Handed over while the server began to shut down: its drain of this loop may have run
                            // already, so this connection is drained here.
                            if let connection = target.register(fd: fd, server: server), server.isShuttingDown {
                                connection.drainAndClose()
                            }
                        })
                }
            }
        }

        /// Answers a connection over the cap with 503 (one non-blocking send, whatever it takes) and closes it.
        private static func refuse(_ fd: Int32) {
            HTTPConnectionRefusal.bytes.withUnsafeBytes { _ = cepoll_send(fd, $0.baseAddress, $0.count) }
            close(fd)
        }

        /// Serves a new connection (its place under the cap is already counted in `openConnections`, and in this
        /// loop's ``connectionCount``); on the loop.
        @discardableResult
        fileprivate func register(fd: Int32, server: EpollHTTPServer) -> EpollConnection? {
            let (connection, slot, tag) = connections.insert(kind: Self.connectionKind) { slot in
                EpollConnection(fd: fd, slot: slot, loop: self, server: server)
            }
            var event = epoll_event(
                events: EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue,
                data: epoll_data_t(u64: tag))
            guard epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0 else {
                connections.remove(connection, slot: slot)
                close(fd)
                // Relaxed: see accept.
                connectionCount.wrappingSubtract(1, ordering: .relaxed)
                // Relaxed: see accept.
                server.metrics.openConnections.wrappingSubtract(1, ordering: .relaxed)
                return nil
            }
            server.connectionOpened()
            return connection
        }

        /// Forgets a connection the loop closed.
        func unregister(_ connection: EpollConnection) {
            _ = epoll_ctl(epfd, EPOLL_CTL_DEL, connection.transport.fd, nil)
            connections.remove(connection, slot: connection.transport.slot)
            // Relaxed: see accept.
            connectionCount.wrappingSubtract(1, ordering: .relaxed)
            connection.transport.server.connectionClosed()
        }

        /// Reads `connection` again after this batch of events (reading was held back and may resume).
        func scheduleRead(_ connection: EpollConnection) {
            pendingReads.append(connection)
        }

        /// Watches again the listeners whose pause has passed.
        private func resumePausedListeners(now: UInt64) {
            for position in listeners.indices where listeners[position].pausedUntil != 0 {
                guard now >= listeners[position].pausedUntil, listeners[position].fd >= 0 else { continue }
                listeners[position].pausedUntil = 0
                var event = epoll_event(
                    events: EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue,
                    data: epoll_data_t(u64: Self.listenerKind | UInt64(position)))
                _ = epoll_ctl(epfd, EPOLL_CTL_ADD, listeners[position].fd, &event)
            }
        }

        private func sweepIdle(now: UInt64) {
            for connection in connections.all { connection.sweep(now: now) }
        }
    }

    private func epollLoopMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        let loop = Unmanaged<EpollServerLoop>.fromOpaque(argument!).takeRetainedValue()
        let name = String(loop.name.utf8.prefix(15)) ?? "http"
        cepoll_set_thread_name(name)
        loop.run()
        return nil
    }
#endif
