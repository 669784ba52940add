import ClstrRuntime
import EventSourcing
import EventSourcingTestKit
import Synchronization
import Testing

/// An in-memory store whose append completions the test releases by hand: it makes "an append in flight"
/// observable. Everything else is the real in-memory store.
final class GatedEventStore: EventStore {
    let inner: InMemoryEventStore
    let held = Mutex<[@Sendable () -> Void]>([])
    let gating = Atomic<Bool>(false)
    let arrivals: AsyncStream<Void>
    let arrived: AsyncStream<Void>.Continuation

    init(_ inner: InMemoryEventStore) {
        self.inner = inner
        (arrivals, arrived) = AsyncStream<Void>.makeStream()
    }

    func append(
        to stream: StreamName, expected: ExpectedVersion, events: [EventData], completion: @escaping AppendCompletion
    ) {
        guard gating.load(ordering: .acquiring) else {
            return inner.append(to: stream, expected: expected, events: events, completion: completion)
        }
        // Store now, answer when released.
        inner.append(to: stream, expected: expected, events: events) { result in
            self.held.withLock { $0.append { completion(result) } }
            self.arrived.yield()
        }
    }

    /// Completes the oldest held append.
    func releaseOne() {
        let next = held.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        next?()
    }

    func read(stream: StreamName, from version: UInt64, maxCount: Int, completion: @escaping ReadCompletion) {
        inner.read(stream: stream, from: version, maxCount: maxCount, completion: completion)
    }
    func readAll(from position: UInt64, maxCount: Int, completion: @escaping ReadCompletion) {
        inner.readAll(from: position, maxCount: maxCount, completion: completion)
    }
    func readHeadPosition(completion: @escaping @Sendable (Result<UInt64, EventStoreError>) -> Void) {
        inner.readHeadPosition(completion: completion)
    }
    func observeAppends(_ observer: @escaping @Sendable (UInt64) -> Void) -> AppendObservation {
        inner.observeAppends(observer)
    }
    func close() { inner.close() }
}

/// A snapshot store whose saves always fail (a backend that is down), loads find nothing.
final class FailingSnapshotStore: SnapshotStore {
    func saveSnapshot(
        _ snapshot: Snapshot, completion: @escaping @Sendable (Result<SnapshotSaveOutcome, EventStoreError>) -> Void
    ) {
        completion(.failure(EventStoreError(.backendUnavailable, "down")))
    }
    func loadSnapshot(
        stream: StreamName, completion: @escaping @Sendable (Result<Snapshot?, EventStoreError>) -> Void
    ) {
        completion(.success(nil))
    }
    func deleteSnapshot(stream: StreamName, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void) {
        completion(.success(()))
    }
}

@Suite(.timeLimit(.minutes(1))) struct EventSourcedActorTests {
    typealias Registry = ActorRegistry<String, EventSourcedEntity<BankAccount>>

    func registry(_ repository: AggregateRepository<BankAccount>, pool: WorkerPool) -> Registry {
        Registry(executor: pool, factory: EventSourcedActor.factory(repository))
    }

    func send(_ registry: Registry, _ id: String, _ command: BankCommand) async throws -> Execute<BankAccount>.Reply {
        try await registry.actor(for: id).request(Execute<BankAccount>(command))
    }

    @Test func commandsAreAppendedAppliedAndAnswered() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let store = InMemoryEventStore()
        let actors = registry(AggregateRepository(store: store), pool: pool)
        let opened = try await send(actors, "alice", .open(owner: "alice")).get()
        #expect(opened.version == 1)
        #expect(opened.events == [.opened(Opened(owner: "alice"))])
        #expect(try await send(actors, "alice", .deposit(30)).get().version == 2)
        guard case .failure(.rejected(let error)) = try await send(actors, "alice", .withdraw(50)) else {
            Issue.record("withdrawal beyond the balance accepted")
            return
        }
        #expect(error == .insufficientFunds(balance: 30))
        let state = try await actors.actor(for: "alice").request(ReadState<BankAccount>()).get()
        #expect(state.state.balance == 30)
        #expect(state.version == 2)
        #expect(try await store.read(stream: BankAccount.stream("alice")).count == 2)
    }

    @Test func theReplyWaitsForTheAppendAndLaterMessagesWait() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let store = GatedEventStore(InMemoryEventStore())
        let actors = registry(AggregateRepository(store: store), pool: pool)
        _ = try await send(actors, "bob", .open(owner: "bob")).get()
        store.gating.store(true, ordering: .releasing)
        let actor = actors.actor(for: "bob")
        let first = ReplySlot()
        let second = ReplySlot()
        actor.request(Execute<BankAccount>(.deposit(5)), replyTo: first)
        var arrivals = store.arrivals.makeAsyncIterator()
        _ = await arrivals.next()
        actor.request(Execute<BankAccount>(.deposit(7)), replyTo: second)
        // The first append is stored but not yet acknowledged: no reply, and the second command waits.
        #expect(!first.hasReply)
        #expect(actor.mailboxDepth == 1)
        #expect(try await store.read(stream: BankAccount.stream("bob")).count == 2)
        store.releaseOne()
        let firstReply = await Task.detached { first.wait() }.value
        #expect(try firstReply.reply.get(as: Execute<BankAccount>.Reply.self).get().get().version == 2)
        _ = await arrivals.next()
        #expect(!second.hasReply)
        store.releaseOne()
        let secondReply = await Task.detached { second.wait() }.value
        #expect(try secondReply.reply.get(as: Execute<BankAccount>.Reply.self).get().get().version == 3)
        store.gating.store(false, ordering: .releasing)
        #expect(try await actor.request(ReadState<BankAccount>()).get().state.balance == 12)
    }

    @Test func aSecondWriterCausesAConflictThenAReload() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let store = InMemoryEventStore()
        let metrics = EventStoreMetrics()
        let repository = AggregateRepository<BankAccount>(store: store, metrics: metrics)
        let actors = registry(repository, pool: pool)
        _ = try await send(actors, "carol", .open(owner: "carol")).get()
        // Another node's writer appends behind the actor's back.
        let other = try BankAccount.eventCodec.encode(.deposited(Deposited(amount: 100)))
        _ = try await store.append(to: BankAccount.stream("carol"), expected: .exact(1), events: [other])
        // The actor's stale state (balance 0) decides a deposit; its append expects version 1 and conflicts.
        guard case .failure(.store(let error)) = try await send(actors, "carol", .deposit(5)) else {
            Issue.record("expected a conflict")
            return
        }
        #expect(error.code == .conflict)
        #expect(error.actualVersion == 2)
        // The actor reloaded: the other writer's deposit is now part of its state.
        #expect(try await send(actors, "carol", .withdraw(60)).get().version == 3)
        #expect(try await actors.actor(for: "carol").request(ReadState<BankAccount>()).get().state.balance == 40)
        let observed5 = metrics.aggregateLoads.load(ordering: .acquiring)
        #expect(observed5 == 2)
    }

    @Test func passivationDropsTheStateAndTheNextMessageReloads() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let store = InMemoryEventStore()
        let metrics = EventStoreMetrics()
        let actors = registry(AggregateRepository(store: store, metrics: metrics), pool: pool)
        _ = try await send(actors, "dave", .open(owner: "dave")).get()
        _ = try await send(actors, "dave", .deposit(10)).get()
        #expect(actors.passivateIdle(olderThan: .zero, now: .max) == 1)
        #expect(actors.count == 0)
        #expect(try await send(actors, "dave", .deposit(1)).get().version == 3)
        #expect(try await actors.actor(for: "dave").request(ReadState<BankAccount>()).get().state.balance == 11)
        let observed6 = metrics.aggregateLoads.load(ordering: .acquiring)
        #expect(observed6 == 2)
    }

    @Test func snapshotsEveryNEventsAndLoadsFromThem() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let store = InMemoryEventStore()
        let snapshots = InMemorySnapshotStore()
        var options = AggregateOptions()
        options.snapshotEvery = 5
        let metrics = EventStoreMetrics()
        let repository = AggregateRepository<BankAccount>(
            store: store, snapshots: snapshots, options: options, metrics: metrics)
        let actors = registry(repository, pool: pool)
        _ = try await send(actors, "erin", .open(owner: "erin")).get()
        for _ in 0..<11 { _ = try await send(actors, "erin", .deposit(2)).get() }
        // Version 12: snapshots at 5 and 10 (the in-memory store saves before the command's reply).
        #expect(try await snapshots.load(stream: BankAccount.stream("erin"))?.version == 10)
        let loaded = try await repository.load(id: "erin")
        #expect(loaded.snapshotVersion == 10)
        #expect(loaded.version == 12)
        #expect(loaded.state.balance == 22)
    }

    @Test func aFailedSnapshotNeverFailsTheCommand() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        var options = AggregateOptions()
        options.snapshotEvery = 2
        let metrics = EventStoreMetrics()
        let repository = AggregateRepository<BankAccount>(
            store: InMemoryEventStore(), snapshots: FailingSnapshotStore(), options: options, metrics: metrics)
        let actors = registry(repository, pool: pool)
        _ = try await send(actors, "fay", .open(owner: "fay")).get()
        #expect(try await send(actors, "fay", .deposit(1)).get().version == 2)
        #expect(try await send(actors, "fay", .deposit(1)).get().version == 3)
        #expect(try await send(actors, "fay", .deposit(1)).get().version == 4)
        let observed7 = metrics.snapshotFailures.load(ordering: .acquiring)
        #expect(observed7 == 2)
    }

    @Test func concurrentCommandsAreEachAnsweredOnce() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let store = InMemoryEventStore()
        let actors = registry(AggregateRepository(store: store), pool: pool)
        _ = try await send(actors, "gus", .open(owner: "gus")).get()
        let versions = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for _ in 0..<400 {
                group.addTask { try await send(actors, "gus", .deposit(1)).get().version }
            }
            var all: [UInt64] = []
            for try await version in group { all.append(version) }
            return all
        }
        #expect(versions.sorted() == Array(2...401))
        #expect(try await store.read(stream: BankAccount.stream("gus")).count == 401)
    }
}
