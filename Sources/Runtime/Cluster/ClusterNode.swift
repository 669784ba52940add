import Synchronization

/// Serves the shards a node owns: subscribes them on the transport, answers the built-in node-info request, and
/// hands every other request to its handler.
///
/// A node computes its shards from the ``ShardMap`` it shares with the rest of the cluster (the reference's static
/// membership). It checks each arriving request against the envelope rules (shard owned here, deadline set, no
/// reserved header) before anything else sees it.
public final class ClusterNode: Sendable {
    /// The node's ID (one of the map's node IDs).
    public let nodeID: String
    /// The cluster's routing.
    public let shardMap: ShardMap
    private let transport: any ClusterTransport
    private let dispatcher: NodeDispatcher
    private let subscription: Locked<(any TransportSubscription)?> = Locked(nil)

    /// Creates a node; it serves nothing until ``start()``.
    /// - Parameters:
    ///   - nodeID: the node's ID; it owns the shards the map assigns to this ID.
    ///   - shardMap: the cluster's routing (the same on every node and client).
    ///   - transport: where requests come from.
    ///   - handler: receives every request except the built-in node-info request.
    public init(nodeID: String, shardMap: ShardMap, transport: any ClusterTransport, handler: any ShardRequestHandler) {
        self.nodeID = nodeID
        self.shardMap = shardMap
        self.transport = transport
        let shards = shardMap.shards(ownedBy: nodeID)
        self.dispatcher = NodeDispatcher(
            info: NodeInfo(nodeID: nodeID, shards: shards),
            ownerIndex: shardMap.nodeIDs.firstIndex(of: nodeID) ?? -1,
            shardMap: shardMap,
            handler: handler)
    }

    /// The shards this node owns, ascending.
    public var shards: [Int] { dispatcher.info.shards }

    /// Whether the node is serving.
    public var isRunning: Bool { subscription.withLock { $0 != nil } }

    /// Subscribes the node's shards on the transport. Does nothing when already running.
    /// - Throws: ``RequestError``: `badRequest` when the node ID is not in the shard map, or what the transport
    ///   throws (`transportClosed`, a shard already served elsewhere, a subscription failure).
    public func start() throws(RequestError) {
        guard dispatcher.ownerIndex >= 0 else {
            throw RequestError(.badRequest, "node \(nodeID) is not in the shard map's node list")
        }
        try subscription.withLock { current throws(RequestError) in
            if current != nil { return }
            current = try transport.serve(shards: dispatcher.info.shards, nodeID: nodeID, handler: dispatcher)
        }
    }

    /// Stops serving: cancels the subscription (requests already delivered are still answered). Idempotent; the
    /// node can be started again.
    public func stop() {
        let taken = subscription.withLock { current -> (any TransportSubscription)? in
            defer { current = nil }
            return current
        }
        taken?.cancel()
    }
}

/// The handler a node subscribes with: envelope checks, the built-in node-info request, then the user's handler.
final class NodeDispatcher: ShardRequestHandler {
    let info: NodeInfo
    let ownerIndex: Int
    let shardMap: ShardMap
    let handler: any ShardRequestHandler

    init(info: NodeInfo, ownerIndex: Int, shardMap: ShardMap, handler: any ShardRequestHandler) {
        self.info = info
        self.ownerIndex = ownerIndex
        self.shardMap = shardMap
        self.handler = handler
    }

    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        if let error = request.validationError(numShards: shardMap.numShards) {
            return replyTo.deliver(.failure(error), context: context)
        }
        if shardMap.ownerIndex(ofShard: request.shard) != ownerIndex {
            return replyTo.deliver(
                .failure(RequestError(.badRequest, "shard \(request.shard) is not served by \(info.nodeID)")),
                context: context)
        }
        if request.messageType == NodeInfoRequest.messageType {
            return replyTo.deliver(.success(info), context: context)
        }
        handler.handle(request, replyTo: replyTo, context: context)
    }
}
