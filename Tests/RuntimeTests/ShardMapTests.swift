import Foundation
import TestKit
import Testing

@testable import ClstrRuntime

@Suite("ShardMap")
struct ShardMapTests {
    @Test("the memo compares bytes: canonically equivalent keys (NFC and NFD \"é\") keep their own hashes")
    func memoComparesBytes() {
        let map = ShardMap(nodeIDs: ["a", "b", "c"], numShards: 64, seed: "counter-cluster")
        func slot(_ key: String) -> Int {
            var text = key
            return text.withUTF8 { KeyHashCache.slot(of: $0) }
        }
        // Pairs whose two forms share a memo slot and a different shard: a `String ==` memo would answer the
        // second form with the first one's hash.
        var pairs: [(String, String)] = []
        for index in 0..<100_000 where pairs.count < 20 {
            let composed = "user-\(index)-caf\u{E9}"
            let decomposed = "user-\(index)-cafe\u{301}"
            if slot(composed) == slot(decomposed)
                && ShardMap.shard(forKey: composed, numShards: 64, seed: "counter-cluster")
                    != ShardMap.shard(forKey: decomposed, numShards: 64, seed: "counter-cluster")
            {
                pairs.append((composed, decomposed))
            }
        }
        #expect(pairs.count == 20)
        for (composed, decomposed) in pairs {
            #expect(composed == decomposed)  // Swift's String equality is canonical equivalence
            for key in [composed, decomposed, composed, decomposed] {
                let expected = ShardMap.shard(forKey: key, numShards: 64, seed: "counter-cluster")
                #expect(map.shard(forKey: key) == expected, "\(Array(key.utf8))")
            }
        }
    }

    @Test("keys longer than the memo takes are hashed every time, and agree")
    func longKeys() {
        let map = ShardMap(nodeIDs: ["a", "b"], numShards: 100, seed: "s")
        for length in [127, 128, 129, 300, 5_000] {
            let key = String(repeating: "k", count: length)
            #expect(map.shard(forKey: key) == ShardMap.shard(forKey: key, numShards: 100, seed: "s"))
            #expect(map.shard(forKey: key) == ShardMap.shard(forKey: key, numShards: 100, seed: "s"))
        }
    }

    @Test("the per-thread hash memo never mixes seeds and always agrees with the uncached hash")
    func memoAgreesWithHash() {
        let maps = ["counter-cluster", "other-seed", ""].map {
            ShardMap(nodeIDs: ["a", "b", "c"], numShards: 977, seed: $0)
        }
        // 5,000 keys (more than the memo holds) twice over, interleaving the maps: hits, misses and evictions.
        for round in 0..<2 {
            for index in 0..<5_000 {
                let key = "key-\(index)"
                for map in maps {
                    let expected = ShardMap.shard(forKey: key, numShards: 977, seed: map.seed)
                    #expect(map.shard(forKey: key) == expected, "round \(round), \(key), seed \(map.seed)")
                }
            }
        }
    }

    @Test("every row of shard-keys.tsv reproduces (key → shard)")
    func keyVectors() throws {
        let rows = try RoutingVectors.rows("shard-keys.tsv")
        #expect(rows.count >= 500)
        var maps: [String: ShardMap] = [:]
        for row in rows {
            try #require(row.count == 4, "malformed row \(row)")
            let (seed, numShards, key, expected) = (row[0], Int(row[1])!, row[2], Int(row[3])!)
            #expect(
                ShardMap.shard(forKey: key, numShards: numShards, seed: seed) == expected,
                "seed \"\(seed)\" shards \(numShards) key \"\(key)\"")
            let map = maps["\(seed)/\(numShards)", default: ShardMap(nodeIDs: ["n"], numShards: numShards, seed: seed)]
            maps["\(seed)/\(numShards)"] = map
            #expect(map.shard(forKey: key) == expected, "instance: seed \"\(seed)\" shards \(numShards) key \"\(key)\"")
        }
    }

    @Test("every row of shard-owners.tsv reproduces (shard → node)")
    func ownerVectors() throws {
        let rows = try RoutingVectors.rows("shard-owners.tsv")
        #expect(rows.count >= 480)
        var maps: [String: ShardMap] = [:]
        for row in rows {
            try #require(row.count == 5, "malformed row \(row)")
            let (seed, numShards, nodes, shard, expected) = (row[0], Int(row[1])!, row[2], Int(row[3])!, row[4])
            let id = "\(seed)/\(numShards)/\(nodes)"
            let map =
                maps[id]
                ?? ShardMap(nodeIDs: nodes.split(separator: ",").map(String.init), numShards: numShards, seed: seed)
            maps[id] = map
            #expect(map.owner(ofShard: shard) == expected, "seed \"\(seed)\" nodes \(nodes) shard \(shard)")
            #expect(map.nodeIDs[map.ownerIndex(ofShard: shard)] == expected)
        }
    }

    @Test("spec figure: 7 nodes, 64 shards, seed counter-cluster → node-0 owns 10, node-1 owns 14")
    func counterFigures() {
        let map = ShardMap(nodeIDs: (0..<7).map { "node-\($0)" }, numShards: 64, seed: "counter-cluster")
        #expect(map.shards(ownedBy: "node-0").count == 10)
        #expect(map.shards(ownedBy: "node-1").count == 14)
    }

    @Test("spec figure: 3 nodes, seed demo-cluster → 20/20/24; alice → node-1, bob → node-2, charlie → node-0")
    func demoFigures() {
        let map = ShardMap(nodeIDs: ["node-0", "node-1", "node-2"], numShards: 64, seed: "demo-cluster")
        #expect(map.nodeIDs.map { map.shards(ownedBy: $0).count }.sorted() == [20, 20, 24])
        #expect(map.owner(forKey: "alice") == "node-1")
        #expect(map.owner(forKey: "bob") == "node-2")
        #expect(map.owner(forKey: "charlie") == "node-0")
    }

    @Test("every shard has exactly one owner, and every node computes the same table")
    func ownership() {
        let nodes = (0..<7).map { "node-\($0)" }
        let map = ShardMap(nodeIDs: nodes, numShards: 256, seed: "counter-cluster")
        var owned = [Int](repeating: 0, count: 256)
        for node in nodes {
            let shards = map.shards(ownedBy: node)
            #expect(shards == shards.sorted())
            for shard in shards { owned[shard] += 1 }
        }
        #expect(owned.allSatisfy { $0 == 1 })
        // The node list in any order gives the same table (each node builds its own map from its own list).
        let shuffled = ShardMap(nodeIDs: nodes.reversed(), numShards: 256, seed: "counter-cluster")
        #expect(shuffled.nodeIDs == nodes)
        #expect((0..<256).allSatisfy { shuffled.owner(ofShard: $0) == map.owner(ofShard: $0) })
        #expect(map.shards(ownedBy: "node-7").isEmpty)
    }

    @Test("zero shards → shard 0; the static and instance forms agree, also for keys too long for the stack")
    func edges() {
        #expect(ShardMap.shard(forKey: "alice", numShards: 0, seed: "s") == 0)
        #expect(ShardMap(nodeIDs: [], numShards: 0, seed: "s").shard(forKey: "alice") == 0)
        let map = ShardMap(nodeIDs: ["a", "b"], numShards: 1_000, seed: "counter-cluster")
        for length in [0, 1, 15, 16, 17, 127, 128, 129, 1_023, 1_024, 5_000, 100_000] {
            let key = String(repeating: "k", count: length)
            let joined = Array("counter-cluster".utf8) + [0] + Array(key.utf8)
            let expected = Int(joined.withUnsafeBytes { Blake2b8.digest($0) } % 1_000)
            #expect(map.shard(forKey: key) == expected, "key of \(length) bytes")
            #expect(ShardMap.shard(forKey: key, numShards: 1_000, seed: "counter-cluster") == expected)
        }
        // A non-ASCII key hashes its UTF-8 bytes; a bridged-looking substring copy gives the same shard.
        let key = "grüße-😀"
        #expect(map.shard(forKey: key) == map.shard(forKey: String(Substring(key))))
    }
}
