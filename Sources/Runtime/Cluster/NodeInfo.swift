/// What a node answers to the built-in node-info request: its ID and the shards it serves.
public struct NodeInfo: WireCodable, Equatable, Sendable {
    /// The node's ID.
    public var nodeID: String
    /// The shards the node owns, ascending.
    public var shards: [Int]

    public init(nodeID: String, shards: [Int]) {
        self.nodeID = nodeID
        self.shards = shards
    }

    /// Layout: node ID (string), shard count (varint), each shard (zig-zag varint).
    public func encode(to writer: inout WireWriter) {
        writer.write(nodeID)
        writer.writeVarint(UInt64(shards.count))
        for shard in shards { writer.write(shard) }
    }

    public init(from reader: inout WireReader) throws(RequestError) {
        nodeID = try reader.readString()
        let count = try reader.readVarint()
        // Each shard takes at least one byte: a larger count is malformed (and must not size an allocation).
        guard count <= UInt64(reader.bytes.count - reader.offset) else {
            throw RequestError(.codec, "node info: \(count) shards in \(reader.bytes.count - reader.offset) bytes")
        }
        var shards: [Int] = []
        shards.reserveCapacity(Int(count))
        for _ in 0..<count { shards.append(try reader.readInt()) }
        self.shards = shards
    }
}

/// The built-in request every ``ClusterNode`` answers before its handler sees anything: "who are you and what do
/// you serve?". Send it to a shard with ``ClusterClient/nodeInfo(shard:timeout:)``.
public struct NodeInfoRequest: ClusterMessage, Equatable {
    public typealias Reply = NodeInfo
    /// The reference's name for the same request.
    public static var messageType: String { "clstr.node.info" }

    public init() {}
    public func encode(to writer: inout WireWriter) {}
    public init(from reader: inout WireReader) throws(RequestError) {}
}
