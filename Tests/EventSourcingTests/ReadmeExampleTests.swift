import ClstrRuntime
import EventSourcing
import Testing

/// The README's example, kept compiling and passing.
@Suite(.timeLimit(.minutes(1))) struct ReadmeExampleTests {
    struct Deposited: DomainEvent, Codable {
        static let eventType = "account.Deposited"  // stable: never the Swift type's name
        var amount: Int
    }

    struct Account: Aggregate, Codable {
        static let aggregateType = "Account"
        static let eventCodec: EventCodec<Deposited> = {
            var codec = EventCodec<Deposited> { $0 }
            codec.register(Deposited.self) { $0 }
            return codec
        }()
        var balance = 0
        func decide(_ amount: Int) throws(EventStoreError) -> [Deposited] { [Deposited(amount: amount)] }
        mutating func evolve(_ event: Deposited) { balance += event.amount }
    }

    @Test func example() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let store = InMemoryEventStore()
        let repository = AggregateRepository<Account>(store: store, snapshots: InMemorySnapshotStore())
        let accounts = ActorRegistry<String, EventSourcedEntity<Account>>(
            executor: pool, factory: EventSourcedActor.factory(repository))
        let reply = try await accounts.actor(for: "alice").request(Execute<Account>(25))
        #expect(try reply.get().version == 1)

        let seen = AsyncStream<StreamName>.makeStream()
        let consumer = Consumer(name: "balances", store: store, checkpoints: InMemoryCheckpointStore()) { event in
            seen.continuation.yield(event.stream)
        }
        consumer.start()
        var iterator = seen.stream.makeAsyncIterator()
        #expect(await iterator.next() == Account.stream("alice"))
        await consumer.shutdown()
    }
}
