#if os(Linux)
    import ClstrRuntime
    import Glibc
    import Logging
    import Synchronization

    /// An HTTP/1.1 server on raw epoll that serves one ``HTTPService`` on the loops of an ``EpollLoopGroup``: the
    /// same protocol handling as ``HTTPServer`` (``HTTPSession``) without SwiftNIO's channel pipeline, which costs
    /// 1.8 µs user + 0.5 µs system CPU per request more (the README's figures: 3.7 + 4.0 µs against 1.9 + 3.5 µs
    /// for the counter's increment under `wrk -t1 -c200`, one serving thread each).
    ///
    /// One listening socket (no `SO_REUSEPORT`: a port in use is an error, never silently shared with another
    /// process) is watched by every loop with `EPOLLEXCLUSIVE`, so a new connection wakes one loop, which accepts
    /// it and serves it from then on.
    public final class EpollHTTPServer: HTTPServing {
        /// The configuration.
        public let configuration: HTTPServerConfiguration
        /// The service.
        public let service: any HTTPService
        /// Request and connection metrics (one shard per loop).
        public let metrics: HTTPMetrics
        private let group: EpollLoopGroup
        private let logger: Logger
        private let state = Locked<State>(State())
        /// Set once every open connection has been asked to drain (tests wait for it).
        let drainRequested = Atomic<Bool>(false)

        private struct State {
            var port = 0
            var listener: Int32 = -1
            var started = false
            var stopping = false
        }

        /// Creates a server (it listens after ``start()``).
        /// - Parameters:
        ///   - configuration: address, port, limits.
        ///   - service: the application.
        ///   - loops: the loops that accept and serve connections.
        ///   - logger: for lifecycle messages.
        public init(
            configuration: HTTPServerConfiguration, service: any HTTPService, loops: EpollLoopGroup, logger: Logger
        ) {
            self.configuration = configuration
            self.service = service
            self.group = loops
            self.logger = logger
            self.metrics = HTTPMetrics(routeNames: service.routeNames, shards: loops.loops.count)
        }

        public var port: Int { state.withLock { $0.port } }

        @discardableResult
        public func start() async throws -> Int {
            let fd = try Self.listen(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
            let port = configuration.port == 0 ? Self.boundPort(fd) : configuration.port
            state.withLock {
                $0.port = port
                $0.listener = fd
                $0.started = true
            }
            for loop in group.loops {
                loop.execute { loop.addListener(fd, server: self) }
            }
            return port
        }

        public func shutdown() async {
            let listener = state.withLock { state -> Int32? in
                defer { state.stopping = true }
                return state.started && !state.stopping ? state.listener : nil
            }
            guard let listener else { return }
            if group.isShutDown {
                // No loop runs any more: nothing watches the socket, and no connection is left.
                close(listener)
                return
            }
            let released = Atomic<Int>(0)
            let loopCount = group.loops.count
            for loop in group.loops {
                loop.execute {
                    loop.removeListeners(of: self)
                    // The last loop to let go closes the socket: closed earlier, its number could be reused by a
                    // connection that a slower loop's EPOLL_CTL_DEL would then hit.
                    if released.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue == loopCount {
                        close(listener)
                    }
                    for connection in loop.connections(of: self) { connection.drainAndClose() }
                }
            }
            let releaseDeadline = ContinuousClock.now + .seconds(5)
            while released.load(ordering: .sequentiallyConsistent) < loopCount && ContinuousClock.now < releaseDeadline
            {
                try? await Task.sleep(for: .milliseconds(1))
            }
            drainRequested.store(true, ordering: .sequentiallyConsistent)
            let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
            while ContinuousClock.now < deadline {
                // Relaxed: polled; the loops' closes are what it counts.
                if metrics.openConnections.load(ordering: .relaxed) == 0 { return }
                try? await Task.sleep(for: .milliseconds(10))
            }
            let left = metrics.openConnections.load(ordering: .relaxed)
            if left > 0 {
                logger.info("closing connections after the grace period", metadata: ["connections": "\(left)"])
            }
            for loop in group.loops {
                loop.execute {
                    for connection in loop.connections(of: self) { connection.closeNow() }
                }
            }
            let closeDeadline = ContinuousClock.now + .seconds(1)
            while ContinuousClock.now < closeDeadline && metrics.openConnections.load(ordering: .relaxed) > 0 {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }

        // MARK: Loop callbacks

        /// The loop a connection accepted on `loop` goes to: the one with the fewest connections, `loop` itself on
        /// a tie, and `loop` itself once the server shuts down (its drain reaches what the loop serves).
        func loopForNewConnection(acceptedOn loop: EpollServerLoop) -> EpollServerLoop {
            if isShuttingDown { return loop }
            // Relaxed: a hint; a race between two accepting loops costs at most one connection of imbalance.
            var best = loop
            var fewest = loop.connectionCount.load(ordering: .relaxed)
            // A stopping loop takes none: what is posted to it after its last drain would never be served.
            for candidate in group.loops where candidate !== loop && !candidate.isStopping {
                let count = candidate.connectionCount.load(ordering: .relaxed)
                if count < fewest {
                    best = candidate
                    fewest = count
                }
            }
            return best
        }

        /// Whether ``shutdown()`` began.
        var isShuttingDown: Bool { state.withLock { $0.stopping } }

        /// A connection is served (the loop counted it in `openConnections` when it accepted it, under the cap).
        func connectionOpened() {
            // Relaxed: a counter for scrapes.
            metrics.acceptedConnections.wrappingAdd(1, ordering: .relaxed)
        }

        func connectionClosed() {
            // Relaxed: see connectionOpened.
            metrics.openConnections.wrappingSubtract(1, ordering: .relaxed)
        }

        // MARK: Sockets

        /// A non-blocking listening socket on `host:port` with `SO_REUSEADDR` (and not `SO_REUSEPORT`).
        static func listen(host: String, port: Int, backlog: Int32) throws -> Int32 {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
            var result: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &result)
            guard rc == 0, let info = result else {
                throw EpollServerError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
            }
            defer { freeaddrinfo(result) }
            let fd = socket(
                info.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue),
                0)
            guard fd >= 0 else { throw EpollServerError("socket: \(String(cString: strerror(errno)))") }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                throw EpollServerError("bind \(host):\(port): \(message)")
            }
            guard Glibc.listen(fd, backlog) == 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                throw EpollServerError("listen \(host):\(port): \(message)")
            }
            return fd
        }

        static func boundPort(_ fd: Int32) -> Int {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            let family = storage.ss_family
            return withUnsafePointer(to: storage) { pointer -> Int in
                if family == sa_family_t(AF_INET6) {
                    return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        Int(UInt16(bigEndian: $0.pointee.sin6_port))
                    }
                }
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin_port))
                }
            }
        }
    }

    /// A socket-level failure of the epoll engine (binding, listening).
    public struct EpollServerError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
#endif
