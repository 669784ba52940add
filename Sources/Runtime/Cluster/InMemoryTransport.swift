import Synchronization

/// The embedded default transport: requests reach the node serving their shard inside this process, typed, by
/// reference, without encoding or copying.
///
/// - A request for a shard nobody serves fails at once with `noResponder`; a request without a deadline with
///   `badRequest`; one whose deadline has passed with `deadlineExceeded` (with the deadline watch, "passed" is
///   judged by the watch's clock, which lags by up to one sweep interval, so that sending reads no clock); any
///   request after ``close()`` with `transportClosed`.
/// - The handler runs on the caller's thread (with an actor handler that means: the request is enqueued in the
///   actor's mailbox, and the actor runs on its executor); its reply goes straight to the requester's
///   ``ReplyHandler`` on the thread that produced it: no thread hop beyond what the actor's execution needs.
/// - With ``InMemoryTransportOptions/watchesDeadlines`` (the default), a request whose handler has not replied by
///   its deadline is answered with `deadlineExceeded` by a sweep, and the late reply is dropped.
/// - Shard lookups read an immutable routing snapshot: no lock per request.
public final class InMemoryTransport: ClusterTransport {
    /// Which handler serves each shard.
    struct Routes: Sendable {
        /// Indexed by shard; `nil` where no node serves. Kept apart from the bookkeeping below so that the
        /// request path copies out one reference.
        var handlers: [(any ShardRequestHandler)?] = []
        /// Indexed by shard: the serving node and its subscription (for error messages and cancelling).
        var owners: [(nodeID: String, subscription: Int)?] = []
    }

    private let routes = SnapshotCell(Routes())
    private let closed = Atomic<Bool>(false)
    private let nextSubscription = Atomic<Int>(1)
    private let watch: DeadlineWatch?

    /// Creates a transport.
    /// - Parameter options: deadline enforcement and its table size.
    public init(options: InMemoryTransportOptions) {
        watch =
            options.watchesDeadlines
            ? DeadlineWatch(capacity: options.pendingCapacity, interval: options.deadlineSweepInterval) : nil
    }

    deinit {
        watch?.stop()
    }

    /// Creates a transport with the default options.
    public convenience init() {
        self.init(options: InMemoryTransportOptions())
    }

    public func request(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        // Relaxed: a request racing with close() may go either way; both outcomes answer it.
        if closed.load(ordering: .relaxed) {
            return replyTo.deliver(.failure(RequestError(.transportClosed, "transport closed")), context: context)
        }
        if request.deadline == 0 {
            return replyTo.deliver(.failure(RequestError(.badRequest, "request without a deadline")), context: context)
        }
        let handlers = routes.load().handlers
        guard request.shard >= 0, request.shard < handlers.count, let handler = handlers[request.shard] else {
            return replyTo.deliver(
                .failure(RequestError(.noResponder, "no node serves shard \(request.shard)")), context: context)
        }
        if let watch {
            // The sweep's clock lags by up to one interval and costs no clock read: a request whose deadline
            // passed longer ago fails here; a more recent one fails at its actor's turn or at the next sweep.
            if watch.coarseNow >= request.deadline {
                return replyTo.deliver(.failure(Self.expiredAtSend()), context: context)
            }
            let (slot, token) = watch.watch(replyTo: replyTo, context: context, deadline: request.deadline)
            handler.handle(request, replyTo: slot, context: token)
        } else {
            if MonotonicClock.now() >= request.deadline {
                return replyTo.deliver(.failure(Self.expiredAtSend()), context: context)
            }
            handler.handle(request, replyTo: replyTo, context: context)
        }
    }

    private static func expiredAtSend() -> RequestError {
        RequestError(.deadlineExceeded, "deadline passed before the request was sent")
    }

    public func serve(
        shards: [Int], nodeID: String, handler: any ShardRequestHandler
    ) throws(RequestError) -> any TransportSubscription {
        if let bad = shards.first(where: { $0 < 0 }) {
            throw RequestError(.badRequest, "invalid shard \(bad)")
        }
        let id = nextSubscription.wrappingAdd(1, ordering: .relaxed).oldValue
        try routes.update { current throws(RequestError) -> (Routes, Void) in
            // Checked under the writers' lock, so that close() and serve() do not interleave.
            if closed.load(ordering: .sequentiallyConsistent) {
                throw RequestError(.transportClosed, "transport closed")
            }
            var next = current
            let needed = (shards.max() ?? -1) + 1
            if next.handlers.count < needed {
                next.handlers.append(contentsOf: repeatElement(nil, count: needed - next.handlers.count))
                next.owners.append(contentsOf: repeatElement(nil, count: needed - next.owners.count))
            }
            for shard in shards {
                if let existing = next.owners[shard] {
                    throw RequestError(.badRequest, "shard \(shard) is already served by \(existing.nodeID)")
                }
                next.handlers[shard] = handler
                next.owners[shard] = (nodeID, id)
            }
            return (next, ())
        }
        return Subscription(transport: self, id: id)
    }

    /// Removes the shards of subscription `id`.
    fileprivate func unsubscribe(_ id: Int) {
        routes.update { current -> (Routes, Void) in
            var next = current
            for shard in next.owners.indices where next.owners[shard]?.subscription == id {
                next.handlers[shard] = nil
                next.owners[shard] = nil
            }
            return (next, ())
        }
    }

    /// Closes the transport: later requests fail with `transportClosed`, later `serve` calls throw it; requests
    /// already handed to a node are still answered (by their handler, or by the deadline sweep). Idempotent.
    public func close() {
        routes.update { _ -> (Routes, Void) in
            closed.store(true, ordering: .sequentiallyConsistent)
            return (Routes(), ())
        }
        watch?.retire()
    }

    /// Counters of the deadline watch (zero without one).
    public var statistics: (expired: Int, lateReplies: Int, overflowAllocations: Int) {
        guard let pool = watch?.pool else { return (0, 0, 0) }
        // Relaxed: statistics.
        return (
            pool.expired.load(ordering: .relaxed), pool.lateReplies.load(ordering: .relaxed),
            pool.overflowAllocations.load(ordering: .relaxed)
        )
    }
}

extension InMemoryTransport {
    /// A node's subscription: cancelling removes its shards from the routes. Idempotent.
    final class Subscription: TransportSubscription {
        private let transport: InMemoryTransport
        private let id: Int
        private let cancelled = Atomic<Bool>(false)

        init(transport: InMemoryTransport, id: Int) {
            self.transport = transport
            self.id = id
        }

        func cancel() {
            // Relaxed: only the exchange's atomicity matters (exactly one caller unsubscribes).
            if !cancelled.exchange(true, ordering: .relaxed) {
                transport.unsubscribe(id)
            }
        }
    }
}
