/// The payload of a cluster request: a typed value inside one process, or its encoding between processes.
public enum ClusterPayload: Sendable {
    /// A typed message, passed by reference without encoding (in-memory transport).
    case value(any Sendable)
    /// An encoded message (``WireCodable``), as it arrives from another process.
    case bytes([UInt8])
}

/// A request on its way to the node that owns its shard.
public struct ClusterRequest: Sendable {
    /// The shard the key maps to.
    public var shard: Int
    /// The routing key (the actor's key on the node); may be empty for shard-level requests.
    public var key: String
    /// The message's wire name (``ClusterMessage/messageType``).
    public var messageType: String
    /// The message.
    public var payload: ClusterPayload
    /// Monotonic nanoseconds (``MonotonicClock``) in this process; transports convert it to a remaining time
    /// on the wire. 0 means none (clients always set one).
    public var deadline: UInt64
    /// Application headers; names starting with `x-clstr-` are reserved and rejected.
    public var headers: [String: String]
    /// Wall-clock milliseconds when the request was created (for TTL across processes and for diagnostics).
    public var createdAtMilliseconds: Int64

    public init(
        shard: Int, key: String, messageType: String, payload: ClusterPayload, deadline: UInt64,
        headers: [String: String] = [:], createdAtMilliseconds: Int64 = 0
    ) {
        self.shard = shard
        self.key = key
        self.messageType = messageType
        self.payload = payload
        self.deadline = deadline
        self.headers = headers
        self.createdAtMilliseconds = createdAtMilliseconds
    }
}

/// What a node does with the requests a transport delivers for its shards.
///
/// The handler answers through `replyTo` exactly once, from any thread, without blocking.
public protocol ShardRequestHandler: Sendable {
    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64)
}

/// A live subscription of a node to its shards; `cancel()` is idempotent.
public protocol TransportSubscription: Sendable {
    func cancel()
}

/// Carries cluster requests from clients to the nodes that serve shards, and replies back.
///
/// Implementations: ``InMemoryTransport`` (inside one process, no encoding) and the NATS transport
/// (`RuntimeNATS`, subjects `<prefix>.shard.<id>`). A transport never leaves a request unanswered, and its error
/// says whether the request can have had an effect:
/// - **certainly not applied** (safe to retry): no subscriber → `noResponder` at once; outage before sending →
///   `disconnected`; closed before sending → `transportClosed`; the actor stopped before handling → `stopped`;
///   a full mailbox → `mailboxFull`;
/// - **outcome unknown** (it may have been applied): deadline passed → `deadlineExceeded`; sent, then the
///   connection was lost or the transport closed → `outcomeUnknown`.
public protocol ClusterTransport: Sendable {
    /// Sends `request` to the node serving `request.shard`; the outcome goes to `replyTo` with `context`.
    func request(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64)

    /// Starts delivering requests for `shards` to `handler`.
    /// - Parameters:
    ///   - shards: the shards the node owns.
    ///   - nodeID: the node's ID (for logs and metrics).
    ///   - handler: receives each request.
    /// - Returns: the subscription; cancel it to stop serving.
    /// - Throws: ``RequestError`` when the transport is closed or the subscription fails.
    func serve(
        shards: [Int], nodeID: String, handler: any ShardRequestHandler
    ) throws(RequestError) -> any TransportSubscription

    /// Closes the transport: later requests fail with `transportClosed`; in-flight ones are answered.
    func close()
}
