import Benchmark
import ClstrRuntime
import Synchronization

/// The counter's increment, as a cluster message.
struct BenchIncrement: ClusterMessage {
    typealias Reply = Int
    static var messageType: String { "bench.increment" }
    var amount: Int
    init(amount: Int) { self.amount = amount }
    func encode(to writer: inout WireWriter) { writer.write(amount) }
    init(from reader: inout WireReader) throws(RequestError) { amount = try reader.readInt() }
}

/// A long-lived reply receiver: what a connection or a client loop would be.
final class CountingReceiver: ReplyHandler {
    let replies = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    func deliver(_ reply: Outcome, context: UInt64) {
        // Relaxed: counted on the benchmark's own thread and read there.
        if case .failure = reply { failures.wrappingAdd(1, ordering: .relaxed) }
        replies.wrappingAdd(1, ordering: .relaxed)
    }
}

/// The counter sample's cluster in one process: 7 nodes, 64 shards, seed counter-cluster, one in-memory transport,
/// a per-key actor handler per node, all turns inline on the caller's thread.
final class ClusterFixture: Sendable {
    let transport: InMemoryTransport
    let nodes: [ClusterNode]
    let registries: [ActorRegistry<String, Int>]
    let client: ClusterClient
    let receiver = CountingReceiver()

    init(watchesDeadlines: Bool) throws {
        var options = InMemoryTransportOptions()
        options.watchesDeadlines = watchesDeadlines
        let transport = InMemoryTransport(options: options)
        let map = ShardMap(nodeIDs: (0..<7).map { "node-\($0)" }, numShards: 64, seed: "counter-cluster")
        let executor = InlineExecutor()
        let registries = map.nodeIDs.map { _ in
            ActorRegistry<String, Int>(executor: executor) { _ in
                var behavior = ActorBehavior<Int>()
                behavior.on(BenchIncrement.self) { value, message in
                    value += message.amount
                    return value
                }
                return (0, behavior)
            }
        }
        self.transport = transport
        self.registries = registries
        self.nodes = zip(map.nodeIDs, registries).map { nodeID, registry in
            ClusterNode(
                nodeID: nodeID, shardMap: map, transport: transport, handler: KeyedActorHandler(registry: registry))
        }
        self.client = ClusterClient(transport: transport, shardMap: map)
        for node in nodes { try node.start() }
    }

    func shutdown() {
        for node in nodes { node.stop() }
        transport.close()
        for registry in registries { registry.shutdown() }
    }
}

/// Holds the fixture between a benchmark's setup, its runs and its teardown.
final class FixtureHolder: @unchecked Sendable {
    // @unchecked Sendable: package-benchmark runs setup, the measured closure and teardown one after another,
    // never concurrently, so `fixture` is never accessed by two threads at once.
    var fixture: ClusterFixture?
}

/// A native (heap) 16-byte key, as one parsed from a request would be.
func nativeKey(_ literal: String) -> String {
    String(decoding: Array(literal.utf8), as: UTF8.self)
}

func registerClusterBenchmarks() {
    Benchmark(
        "Cluster: key → node (16-byte keys, 7 nodes, 64 shards, memo misses)",
        configuration: .init(scalingFactor: .kilo)
    ) { benchmark in
        let map = ShardMap(nodeIDs: (0..<7).map { "node-\($0)" }, numShards: 64, seed: "counter-cluster")
        // 4,096 distinct keys through the 256-entry per-thread memo, round-robin: (almost) every lookup hashes.
        let keys = (0..<4_096).map { nativeKey("user-\(String($0 + 10_000_000_000, radix: 10))") }
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            blackHole(map.owner(forKey: keys[index & 4_095]))
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "Cluster: key → node (one 16-byte key again, memo hit)",
        configuration: .init(scalingFactor: .kilo)
    ) { benchmark in
        let map = ShardMap(nodeIDs: (0..<7).map { "node-\($0)" }, numShards: 64, seed: "counter-cluster")
        let key = nativeKey("user-0123456789a")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(map.owner(forKey: key))
        }
        benchmark.stopMeasurement()
    }

    for watchesDeadlines in [true, false] {
        let holder = FixtureHolder()
        let name =
            watchesDeadlines
            ? "Cluster: in-memory request → reply (client → transport → node → actor, inline)"
            : "Cluster: in-memory request → reply, no deadline watch"
        Benchmark(
            name,
            configuration: .init(scalingFactor: .kilo),
            closure: { benchmark in
                guard let fixture = holder.fixture else { return }
                let key = nativeKey("user-0123456789a")
                benchmark.startMeasurement()
                for index in benchmark.scaledIterations {
                    fixture.client.request(
                        BenchIncrement(amount: 1), key: key, replyTo: fixture.receiver, context: UInt64(index))
                }
                benchmark.stopMeasurement()
                precondition(fixture.receiver.failures.load(ordering: .relaxed) == 0, "a request failed")
            },
            setup: {
                let fixture = try ClusterFixture(watchesDeadlines: watchesDeadlines)
                // The key's actor exists before measuring (steady state).
                fixture.client.request(
                    BenchIncrement(amount: 1), key: nativeKey("user-0123456789a"), replyTo: fixture.receiver,
                    context: 0)
                holder.fixture = fixture
            },
            teardown: {
                holder.fixture?.shutdown()
                holder.fixture = nil
            }
        )
    }
}
