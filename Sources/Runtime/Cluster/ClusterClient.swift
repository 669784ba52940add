/// Routes requests by key (or shard) through a transport to the node that owns the shard; every request has a
/// deadline.
///
/// The callback form is the hot path: it hashes the key (no allocation), builds the envelope on the stack, and
/// hands it to the transport; the outcome goes to the caller's long-lived ``ReplyHandler``. Decode it with
/// `outcome.decode(as: M.Reply.self)`, which accepts the typed value (in-process) and encoded bytes (from another
/// process). Errors are ``RequestError`` values with a code: `noResponder` (nobody serves the shard),
/// `deadlineExceeded` and `outcomeUnknown` (the request may have been applied), `transportClosed`,
/// `disconnected` (not sent), `badRequest`, or the remote handler's own code and message (see
/// ``ClusterTransport`` for which codes promise that nothing was applied).
///
/// The client leaves the envelope's `createdAtMilliseconds` at 0 (a wall-clock read costs ~15 ns on the request
/// path and nothing in one process uses it); a transport that crosses processes stamps it when it encodes.
public final class ClusterClient: Sendable {
    /// The routing the client shares with the nodes.
    public let shardMap: ShardMap
    /// The transport requests travel on.
    public let transport: any ClusterTransport
    /// The timeout of requests that do not name one.
    public let defaultTimeout: Duration
    @usableFromInline let defaultTimeoutNanoseconds: UInt64

    /// Creates a client.
    /// - Parameters:
    ///   - transport: where requests go.
    ///   - shardMap: the cluster's routing (the same as the nodes').
    ///   - defaultTimeout: the deadline of requests that do not set a timeout.
    public init(transport: any ClusterTransport, shardMap: ShardMap, defaultTimeout: Duration = .seconds(5)) {
        self.transport = transport
        self.shardMap = shardMap
        self.defaultTimeout = defaultTimeout
        self.defaultTimeoutNanoseconds = Self.nanoseconds(defaultTimeout)
    }

    /// Sends `message` to the actor of `key`; the outcome goes to `replyTo` with `context`.
    /// - Parameters:
    ///   - message: the request.
    ///   - key: the routing key (also the actor's key on the node).
    ///   - replyTo: receives the outcome exactly once, possibly before this call returns.
    ///   - context: passed back with the outcome.
    ///   - timeout: the request's deadline from now; ``defaultTimeout`` when `nil`.
    ///   - headers: application headers (the `x-clstr-` prefix is reserved: such a request fails with `badRequest`).
    @inlinable
    public func request<M: ClusterMessage>(
        _ message: M, key: String, replyTo: any ReplyHandler, context: UInt64, timeout: Duration? = nil,
        headers: [String: String] = [:]
    ) {
        send(
            message, shard: shardMap.shard(forKey: key), key: key, replyTo: replyTo, context: context,
            timeout: timeout, headers: headers)
    }

    /// Sends `message` to whichever node serves `shard` (a shard-level request: the key is empty).
    /// - Parameters:
    ///   - message: the request.
    ///   - shard: a shard in `0..<shardMap.numShards` (otherwise the outcome is `badRequest`).
    ///   - replyTo: receives the outcome exactly once.
    ///   - context: passed back with the outcome.
    ///   - timeout: the request's deadline from now; ``defaultTimeout`` when `nil`.
    @inlinable
    public func request<M: ClusterMessage>(
        _ message: M, shard: Int, replyTo: any ReplyHandler, context: UInt64, timeout: Duration? = nil
    ) {
        send(message, shard: shard, key: "", replyTo: replyTo, context: context, timeout: timeout, headers: [:])
    }

    @inlinable
    func send<M: ClusterMessage>(
        _ message: M, shard: Int, key: String, replyTo: any ReplyHandler, context: UInt64, timeout: Duration?,
        headers: [String: String]
    ) {
        var nanoseconds = defaultTimeoutNanoseconds
        if let timeout { nanoseconds = Self.nanoseconds(timeout) }
        let request = ClusterRequest(
            shard: shard, key: key, messageType: M.messageType, payload: .value(message),
            deadline: MonotonicClock.now() &+ nanoseconds, headers: headers)
        if let error = request.validationError(numShards: shardMap.numShards) {
            return replyTo.deliver(.failure(error), context: context)
        }
        transport.request(request, replyTo: replyTo, context: context)
    }

    /// `duration` in nanoseconds (at least 1, so that a deadline is always set; negative durations count as 1).
    @usableFromInline
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        max(1, MonotonicClock.nanoseconds(duration))
    }
}
