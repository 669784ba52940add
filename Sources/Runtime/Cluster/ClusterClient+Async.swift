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
    /// - Throws: ``RequestError``: `noResponder`, `deadlineExceeded`, `outcomeUnknown`, `transportClosed`,
    ///   `disconnected`, `badRequest`, `codec`/`replyTypeMismatch`, or the remote handler's code and message.
    public func request<M: ClusterMessage>(
        _ message: M, key: String, timeout: Duration? = nil
    ) async throws(RequestError) -> M.Reply {
        let outcome = await awaitOutcome(timeout: timeout ?? defaultTimeout) { waiter in
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
        let outcome = await awaitOutcome(timeout: timeout ?? defaultTimeout) { waiter in
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
        let outcome = await awaitOutcome(timeout: timeout ?? defaultTimeout) { waiter in
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
}
