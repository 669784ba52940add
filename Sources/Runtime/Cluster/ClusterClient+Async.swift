import Synchronization

extension ClusterClient {
    /// Sends `message` to the actor of `key` and waits for its typed reply.
    ///
    /// The `async` convenience over the callback form; it allocates (a continuation, a receiver and a timer task),
    /// so it is not for the hot path. It never hangs: besides the transport's own deadline enforcement, a timer
    /// answers with `deadlineExceeded` when the timeout passes.
    /// - Parameters:
    ///   - message: the request.
    ///   - key: the routing key.
    ///   - timeout: how long to wait; ``defaultTimeout`` when `nil`.
    /// - Returns: the reply.
    /// - Throws: ``RequestError``: `noResponder`, `deadlineExceeded`, `transportClosed`, `disconnected`,
    ///   `badRequest`, `codec`/`replyTypeMismatch`, or the remote handler's code and message.
    public func request<M: ClusterMessage>(
        _ message: M, key: String, timeout: Duration? = nil
    ) async throws(RequestError) -> M.Reply {
        let outcome = await awaitOutcome(timeout: timeout) { waiter in
            self.request(message, key: key, replyTo: waiter, context: 0, timeout: timeout)
        }
        return try outcome.decode(as: M.Reply.self).get()
    }

    /// Sends `message` to whichever node serves `shard` and waits for its typed reply.
    /// - Parameters:
    ///   - message: the request.
    ///   - shard: a shard in `0..<shardMap.numShards`.
    ///   - timeout: how long to wait; ``defaultTimeout`` when `nil`.
    /// - Returns: the reply.
    /// - Throws: ``RequestError`` (see ``request(_:key:timeout:)``).
    public func request<M: ClusterMessage>(
        _ message: M, shard: Int, timeout: Duration? = nil
    ) async throws(RequestError) -> M.Reply {
        let outcome = await awaitOutcome(timeout: timeout) { waiter in
            self.request(message, shard: shard, replyTo: waiter, context: 0, timeout: timeout)
        }
        return try outcome.decode(as: M.Reply.self).get()
    }

    /// Sends `message` to the actor of `key` and waits until it was handled, ignoring the reply value.
    ///
    /// As in the reference, a notification is a request: the caller learns whether it was handled, and the
    /// handler's error if it failed.
    /// - Parameters:
    ///   - message: the message.
    ///   - key: the routing key.
    ///   - timeout: how long to wait; ``defaultTimeout`` when `nil`.
    /// - Throws: ``RequestError`` (see ``request(_:key:timeout:)``).
    public func notify<M: ClusterMessage>(
        _ message: M, key: String, timeout: Duration? = nil
    ) async throws(RequestError) {
        let outcome = await awaitOutcome(timeout: timeout) { waiter in
            self.request(message, key: key, replyTo: waiter, context: 0, timeout: timeout)
        }
        if case .failure(let error) = outcome { throw error }
    }

    /// Asks the node serving `shard` for its ID and shards (the built-in node-info request).
    /// - Parameters:
    ///   - shard: a shard in `0..<shardMap.numShards`.
    ///   - timeout: how long to wait; ``defaultTimeout`` when `nil`.
    /// - Returns: the serving node's ID and shards.
    /// - Throws: ``RequestError`` (see ``request(_:key:timeout:)``).
    public func nodeInfo(shard: Int, timeout: Duration? = nil) async throws(RequestError) -> NodeInfo {
        try await request(NodeInfoRequest(), shard: shard, timeout: timeout)
    }

    /// Runs `send` with a one-shot receiver and waits for its outcome or the timeout, whichever comes first.
    private func awaitOutcome(
        timeout: Duration?, _ send: @escaping @Sendable (OutcomeWaiter) -> Void
    ) async -> Outcome {
        let limit = timeout ?? defaultTimeout
        return await withCheckedContinuation { continuation in
            let waiter = OutcomeWaiter(continuation)
            let timer = Task {
                try? await Task.sleep(for: limit)
                waiter.resume(.failure(RequestError(.deadlineExceeded, "no reply within \(limit)")))
            }
            waiter.setTimer(timer)
            send(waiter)
        }
    }
}

/// A one-shot receiver that resumes its continuation exactly once: with the outcome or the timer's error.
final class OutcomeWaiter: ReplyHandler {
    private let continuation: Locked<CheckedContinuation<Outcome, Never>?>
    private let timer = Locked<Task<Void, Never>?>(nil)

    init(_ continuation: CheckedContinuation<Outcome, Never>) {
        self.continuation = Locked(continuation)
    }

    func setTimer(_ task: Task<Void, Never>) {
        timer.withLock { $0 = task }
    }

    func deliver(_ reply: Outcome, context: UInt64) {
        resume(reply)
        timer.withLock { $0?.cancel() }
    }

    func resume(_ outcome: Outcome) {
        let taken = continuation.withLock { value -> CheckedContinuation<Outcome, Never>? in
            defer { value = nil }
            return value
        }
        taken?.resume(returning: outcome)
    }
}
