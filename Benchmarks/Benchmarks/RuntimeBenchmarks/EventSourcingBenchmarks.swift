import Benchmark
import ClstrRuntime
import EventSourcing

/// A benchmark event that encodes itself without Foundation (decimal text).
struct Incremented: DomainEvent, Codable {
    static let eventType = "bench.Incremented"
    var amount: Int

    func encodePayload() throws -> [UInt8] { Array(String(amount).utf8) }

    static func decodePayload(_ payload: [UInt8]) throws -> Incremented {
        var value = 0
        for byte in payload { value = value &* 10 &+ Int(byte &- UInt8(ascii: "0")) }
        return Incremented(amount: value)
    }
}

/// A counter aggregate whose snapshot is JSON (Foundation, once per load).
struct BenchCounter: Aggregate, Codable {
    static let aggregateType = "BenchCounter"
    static let eventCodec: EventCodec<Incremented> = {
        var codec = EventCodec<Incremented> { $0 }
        codec.register(Incremented.self) { $0 }
        return codec
    }()
    var total = 0
    var count = 0

    func decide(_ command: Int) throws(EventStoreError) -> [Incremented] { [Incremented(amount: command)] }

    mutating func evolve(_ event: Incremented) {
        total &+= event.amount
        count += 1
    }
}

/// A completion made once, capturing nothing: passing it allocates nothing.
let discardAppend: AppendCompletion = { result in blackHole(result) }

func registerEventSourcingBenchmarks() {
    // One thread, one event per append, to a fresh store per batch of 1000 (created outside the measured
    // region, its log reserved): mallocs counted are the store's own, beyond the prebuilt events.
    Benchmark(
        "ES in-memory append, 1 event (1 thread)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo)
    ) { benchmark in
        let store = InMemoryEventStore(capacity: benchmark.scaledIterations.count)
        let streams = (0..<8).map { StreamName(aggregateType: "Bench", aggregateID: "s\($0)") }
        let batches = benchmark.scaledIterations.map { index in
            [EventData(type: Incremented.eventType, payload: [UInt8(truncatingIfNeeded: index)])]
        }
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            store.append(to: streams[index & 7], expected: .any, events: batches[index], completion: discardAppend)
        }
        benchmark.stopMeasurement()
        blackHole(store)
    }

    // Load of a 10,000-event aggregate: from a snapshot at its last version vs a full replay.
    let loadStore = InMemoryEventStore(capacity: 10_000)
    let snapshots = InMemorySnapshotStore()
    let setup = AggregateRepository<BenchCounter>(store: loadStore)
    var root = AggregateRoot<BenchCounter>(id: "big")
    for amount in 1...10_000 {
        let data = try! BenchCounter.eventCodec.encode(Incremented(amount: amount))
        loadStore.append(to: root.stream, expected: .any, events: [data]) { _ in }
        root.state.evolve(Incremented(amount: amount))
    }
    root.version = 10_000
    blackHole(setup)
    snapshots.saveSnapshot(
        Snapshot(stream: root.stream, version: 10_000, payload: try! root.state.encodeSnapshot()!)
    ) { _ in }
    let fromSnapshot = AggregateRepository<BenchCounter>(store: loadStore, snapshots: snapshots)
    let replaying = AggregateRepository<BenchCounter>(store: loadStore)

    Benchmark("ES load 10k-event aggregate from snapshot", configuration: .init(scalingFactor: .one)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            fromSnapshot.load(id: "big") { result in
                precondition((try? result.get().state.count) == 10_000)
                blackHole(result)
            }
        }
    }

    Benchmark("ES load 10k-event aggregate by full replay", configuration: .init(scalingFactor: .one)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            replaying.load(id: "big") { result in
                precondition((try? result.get().state.count) == 10_000)
                blackHole(result)
            }
        }
    }

    // A command through the event-sourced actor on the caller's thread (inline executor): decide, encode, append
    // to the in-memory store, evolve, reply. The store is fresh per batch of 1000 (outside the measured region).
    Benchmark(
        "ES actor command, in-memory store (inline)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo)
    ) { benchmark in
        let store = InMemoryEventStore(capacity: benchmark.scaledIterations.count)
        let repository = AggregateRepository<BenchCounter>(store: store)
        let actor = ActorRef(
            state: EventSourcedEntity<BenchCounter>(id: "hot"), behavior: EventSourcedActor.behavior(repository),
            executor: InlineExecutor())
        let slot = ReplySlot()
        actor.request(Execute<BenchCounter>(1), replyTo: slot)
        blackHole(slot.wait())
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            actor.request(Execute<BenchCounter>(1), replyTo: slot)
            blackHole(slot.wait())
        }
        benchmark.stopMeasurement()
    }
}
