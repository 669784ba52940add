#if os(Linux)
    import CEpoll
    import ClstrRuntime
    import Glibc

    /// The threads of the epoll engine: one ``EpollServerLoop`` each, serving connections and running actor turns
    /// (shard-per-core, like ``EventLoopExecutor`` on SwiftNIO).
    ///
    /// A turn with affinity `a` runs on loop `a % loops.count`: at once when the caller already runs there (a
    /// request that lands on the loop owning its shard is served inline), otherwise through the loop's inbox.
    ///
    /// ```swift
    /// let loops = EpollLoopGroup(threads: 2)
    /// let server = EpollHTTPServer(configuration: .init(port: 0), service: service, loops: loops, logger: logger)
    /// try await server.start()
    /// …
    /// await server.shutdown()
    /// loops.shutdown()
    /// ```
    public final class EpollLoopGroup: ActorExecutor, Sendable {
        /// The loops, each on its own thread.
        public let loops: [EpollServerLoop]
        private let stopped = Locked<Bool>(false)

        /// Starts `threads` loops.
        /// - Parameters:
        ///   - threads: at least 1.
        ///   - name: thread-name prefix (shown by `top -H`, at most 15 bytes with the index).
        public init(threads: Int, name: String = "http") {
            precondition(threads >= 1, "an epoll loop group needs at least one thread")
            loops = (0..<threads).map { EpollServerLoop(index: $0, name: "\(name)-\($0)") }
            for loop in loops { loop.start() }
        }

        public func execute(_ job: any ActorJob, affinity: Int) {
            let loop = affinity >= 0 ? loops[affinity % loops.count] : loops[0]
            if loop.inLoop {
                job.runTurn()
            } else {
                loop.post(.turn(job))
            }
        }

        /// Whether the caller may wait for a turn of `affinity`: not on the loop that runs it (shard-per-core: the
        /// loop would wait for itself).
        public func callerMayWait(forAffinity affinity: Int) -> Bool {
            !(affinity >= 0 ? loops[affinity % loops.count] : loops[0]).inLoop
        }

        /// Whether ``shutdown()`` was called (the loops run nothing any more).
        public var isShutDown: Bool { stopped.withLock { $0 } }

        /// Stops every loop (closing what connections are left) and joins the threads. Idempotent.
        public func shutdown() {
            let first = stopped.withLock { stopped -> Bool in
                defer { stopped = true }
                return !stopped
            }
            guard first else { return }
            for loop in loops { loop.stop() }
        }

        deinit {
            shutdown()
        }
    }
#endif
