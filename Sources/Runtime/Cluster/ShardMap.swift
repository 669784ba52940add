/// Where keys live: key → shard by hashing, shard → node by rendezvous hashing, exactly as the reference
/// (clstr-go) computes both, so the same keys land on the same shards and nodes.
///
/// - Key → shard: BLAKE2b with an 8-byte digest over `seed ‖ 0x00 ‖ key` (just `key` when the seed is empty), read
///   as a big-endian `UInt64`, modulo the shard count (0 shards → shard 0).
/// - Shard → node: rendezvous (highest random weight) over the sorted node IDs; the score of a node for shard `s` is
///   BLAKE2b-8 over `seed ‖ 0x00 ‖ "shard:<s>" ‖ 0x00 ‖ nodeID` (the seed part omitted when empty), big-endian; the
///   highest score wins, ties go to the first in sorted order.
///
/// The owner table is computed once, when the map is created (O(shards × nodes) hashes), so routing a request costs
/// one hash of the key and two array reads, with no allocation.
public struct ShardMap: Sendable {
    /// The number of shards keys are spread over.
    public let numShards: Int
    /// The seed mixed into every hash; every client and node of a cluster must use the same one.
    public let seed: String
    /// The node IDs, sorted.
    public let nodeIDs: [String]
    /// `seed ‖ 0x00`, or empty when the seed is empty: the prefix of every key hash.
    @usableFromInline let keyPrefix: [UInt8]
    /// The owner of each shard, as an index into ``nodeIDs``.
    @usableFromInline let owners: [Int]
    /// This map's identity in the per-thread key-hash memo (``KeyHashCache``).
    @usableFromInline let hashTag: UInt64

    /// Computes the owner of every shard.
    /// - Parameters:
    ///   - nodeIDs: the cluster's node IDs, in any order (they are sorted); at least one when `numShards > 0`.
    ///   - numShards: the number of shards, 0 or more.
    ///   - seed: the routing seed.
    public init(nodeIDs: [String], numShards: Int, seed: String) {
        precondition(numShards >= 0, "numShards must not be negative")
        precondition(numShards == 0 || !nodeIDs.isEmpty, "a shard map with shards needs at least one node")
        let sorted = nodeIDs.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let prefix = Self.keyPrefix(seed: seed)
        self.numShards = numShards
        self.seed = seed
        self.nodeIDs = sorted
        self.keyPrefix = prefix
        self.hashTag = KeyHashCache.makeTag()
        self.owners = (0..<numShards).map { shard in
            Self.rendezvousOwner(shard: shard, sortedNodeIDs: sorted, prefix: prefix)
        }
    }

    /// The shard of `key` (the hash is memoized per thread for recently seen keys).
    /// - Parameter key: the routing key (hashed as UTF-8).
    /// - Returns: a shard in `0..<numShards` (0 when there are no shards).
    @inlinable
    public func shard(forKey key: String) -> Int {
        if numShards <= 0 { return 0 }
        let hash = KeyHashCache.hash(prefix: keyPrefix, tag: hashTag, key: key)
        return Int(hash % UInt64(numShards))
    }

    /// The node that owns `shard`.
    /// - Parameter shard: a shard in `0..<numShards`.
    /// - Returns: the owner's node ID.
    @inlinable
    public func owner(ofShard shard: Int) -> String {
        nodeIDs[owners[shard]]
    }

    /// The node that owns `shard`, as an index into ``nodeIDs``.
    /// - Parameter shard: a shard in `0..<numShards`.
    /// - Returns: the owner's index in ``nodeIDs``.
    @inlinable
    public func ownerIndex(ofShard shard: Int) -> Int {
        owners[shard]
    }

    /// The node that owns the shard of `key`: one hash and two array reads.
    /// - Parameter key: the routing key.
    /// - Returns: the owner's node ID.
    @inlinable
    public func owner(forKey key: String) -> String {
        owner(ofShard: shard(forKey: key))
    }

    /// The shards `nodeID` owns.
    /// - Parameter nodeID: a node ID (one not in the map owns nothing).
    /// - Returns: its shards, ascending.
    public func shards(ownedBy nodeID: String) -> [Int] {
        guard let index = nodeIDs.firstIndex(of: nodeID) else { return [] }
        return owners.indices.filter { owners[$0] == index }
    }

    /// The shard of `key` without building a map (for one-off use; the instance method is cheaper per call).
    /// - Parameters:
    ///   - key: the routing key.
    ///   - numShards: the number of shards.
    ///   - seed: the routing seed.
    /// - Returns: a shard in `0..<numShards` (0 when `numShards` is 0 or less).
    public static func shard(forKey key: String, numShards: Int, seed: String) -> Int {
        if numShards <= 0 { return 0 }
        let hash = keyPrefix(seed: seed).withUnsafeBytes { prefix in Blake2b8.digest(prefix: prefix, key: key) }
        return Int(hash % UInt64(numShards))
    }
}

extension ShardMap {
    /// `seed ‖ 0x00`, or nothing for the empty seed.
    static func keyPrefix(seed: String) -> [UInt8] {
        seed.isEmpty ? [] : Array(seed.utf8) + [0]
    }

    /// The rendezvous winner for `shard`: the highest score, the first in sorted order on a tie.
    static func rendezvousOwner(shard: Int, sortedNodeIDs: [String], prefix: [UInt8]) -> Int {
        var input = prefix + Array("shard:\(shard)".utf8)
        input.append(0)
        let base = input.count
        var best = 0
        var bestScore: UInt64 = 0
        for (index, nodeID) in sortedNodeIDs.enumerated() {
            input.removeSubrange(base...)
            input.append(contentsOf: nodeID.utf8)
            let score = input.withUnsafeBytes { Blake2b8.digest($0) }
            // Strictly greater: an equal later score keeps the earlier node.
            if index == 0 || score > bestScore {
                best = index
                bestScore = score
            }
        }
        return best
    }
}
