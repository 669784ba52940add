import EventSourcing
import Synchronization
import Testing

/// The aggregate of the conformance suite: sums amounts; refuses negative ones.
public struct ConformanceCounter: Aggregate, Codable, Equatable {
    public enum Command: Sendable { case add(Int) }
    public struct Refused: Error, Equatable { public var amount: Int }

    public static let aggregateType = "ConformanceCounter"
    public static let eventCodec: EventCodec<ConformanceCounted> = {
        var codec = EventCodec<ConformanceCounted> { $0 }
        codec.register(ConformanceCounted.self) { $0 }
        return codec
    }()

    public var total = 0
    public var count = 0

    public init() {}

    public func decide(_ command: Command) throws(Refused) -> [ConformanceCounted] {
        switch command {
        case .add(let amount):
            if amount < 0 { throw Refused(amount: amount) }
            return amount == 0 ? [] : [ConformanceCounted(amount: amount)]
        }
    }

    public mutating func evolve(_ event: ConformanceCounted) {
        total += event.amount
        count += 1
    }
}

/// Collects what a consumer's handler saw, and lets a test await a count.
final class Seen: Sendable {
    let events = Mutex<[RecordedEvent]>([])
    let stream: AsyncStream<Int>
    let continuation: AsyncStream<Int>.Continuation

    init() {
        (stream, continuation) = AsyncStream<Int>.makeStream()
    }

    func add(_ event: RecordedEvent) {
        let count = events.withLock { events in
            events.append(event)
            return events.count
        }
        continuation.yield(count)
    }

    /// Returns when at least `count` events were seen.
    func wait(for count: Int) async {
        if events.withLock({ $0.count }) >= count { return }
        for await seen in stream where seen >= count { return }
    }

    var all: [RecordedEvent] { events.withLock { $0 } }
}

extension EventStoreConformance {
    /// Cases over the aggregate and consumer layers.
    static var aggregateCases: [ConformanceCase] {
        [
            ConformanceCase("snapshot + tail equals full replay", snapshotPlusTailEqualsReplay),
            ConformanceCase("consumer resumes from its checkpoint", consumerResumesFromCheckpoint),
            ConformanceCase("a parked event does not block the ones behind it", parkedEventDoesNotBlock),
            ConformanceCase("undecodable events are parked at once", undecodableEventsAreParked),
        ]
    }

    static func fastRetries(maxAttempts: Int = 3) -> ConsumerOptions {
        var options = ConsumerOptions()
        options.maxAttempts = maxAttempts
        options.initialBackoff = .milliseconds(1)
        options.maxBackoff = .milliseconds(5)
        options.batchSize = 4
        return options
    }

    static func snapshotPlusTailEqualsReplay(_ stores: ConformanceStores) async throws {
        let plain = AggregateRepository<ConformanceCounter>(store: stores.events)
        let id = EventID.random().hex
        var root = try await plain.load(id: id)
        #expect(root.version == 0)
        for amount in 1...35 {
            (root, _) = try await plain.execute(.add(amount), on: root)
        }
        #expect(root.version == 35)
        // A snapshot at version 30 (as the actor would have saved it), then a load from it plus the tail.
        let events = try await stores.events.read(stream: root.stream, from: 1, maxCount: 30)
        let atThirty = ConformanceCounter.replay(try events.map { try ConformanceCounter.eventCodec.decode($0) })
        let payload = try #require(try atThirty.encodeSnapshot())
        let snapshot = Snapshot(
            stream: root.stream, version: 30, position: events[29].position,
            schemaVersion: ConformanceCounter.snapshotSchemaVersion, payload: payload)
        #expect(try await stores.snapshots.save(snapshot) == .saved)
        let withSnapshots = AggregateRepository<ConformanceCounter>(
            store: stores.events, snapshots: stores.snapshots)
        let fromSnapshot = try await withSnapshots.load(id: id)
        let replayed = try await plain.load(id: id)
        #expect(fromSnapshot.snapshotVersion == 30)
        #expect(replayed.snapshotVersion == 0)
        #expect(fromSnapshot.state == replayed.state)
        #expect(fromSnapshot.version == 35)
        #expect(fromSnapshot.position == replayed.position)
        #expect(replayed.state.total == (1...35).reduce(0, +))
        // A stale snapshot write is refused and changes nothing.
        let stale = Snapshot(
            stream: root.stream, version: 10, payload: try #require(try ConformanceCounter().encodeSnapshot()))
        #expect(try await stores.snapshots.save(stale) == .stale)
        #expect(try await withSnapshots.load(id: id).state == replayed.state)
        // A snapshot of another schema is ignored: full replay.
        let otherSchema = Snapshot(stream: root.stream, version: 33, schemaVersion: 99, payload: [0xFF])
        #expect(try await stores.snapshots.save(otherSchema) == .saved)
        let ignoring = try await withSnapshots.load(id: id)
        #expect(ignoring.snapshotVersion == 0)
        #expect(ignoring.state == replayed.state)
    }

    static func consumerResumesFromCheckpoint(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let name = "resume-\(EventID.random().hex.prefix(8))"
        for index in 0..<10 {
            _ = try await store.append(to: freshStream(), expected: .noStream, events: [event("first-\(index)")])
        }
        let firstSeen = Seen()
        let first = Consumer(
            name: name, store: store, checkpoints: stores.checkpoints, options: fastRetries()
        ) { firstSeen.add($0) }
        first.start()
        await first.waitUntilCaughtUp()
        await first.shutdown()
        let log = try await readWholeLog(store)
        #expect(firstSeen.all.map(\.id) == log.map(\.id))
        #expect(try await stores.checkpoints.checkpoint(consumer: name) == log.last?.position)
        #expect(first.metrics.lag == 0)

        // Appended while no consumer runs: the next one starts after the checkpoint.
        for index in 0..<5 {
            _ = try await store.append(to: freshStream(), expected: .noStream, events: [event("second-\(index)")])
        }
        let secondSeen = Seen()
        let second = Consumer(
            name: name, store: store, checkpoints: stores.checkpoints, options: fastRetries()
        ) { secondSeen.add($0) }
        second.start()
        await second.waitUntilCaughtUp()
        let afterCheckpoint = try await readWholeLog(store).filter { $0.position > log.last!.position }
        #expect(afterCheckpoint.count == 5)
        await secondSeen.wait(for: 5)
        #expect(secondSeen.all.map(\.id) == afterCheckpoint.map(\.id))
        // Then live: woken by appends.
        let live = try await store.append(
            to: freshStream(), expected: .noStream, events: [event("live-1"), event("live-2")])
        await secondSeen.wait(for: 7)
        #expect(secondSeen.all.last?.position == live.lastPosition)
        await second.shutdown()
        #expect(try await stores.checkpoints.checkpoint(consumer: name) == live.lastPosition)
        #expect(second.position == live.lastPosition)
        #expect(second.metrics.lag == 0)
        let observed9 = second.metrics.handled.load(ordering: .acquiring)
        #expect(observed9 == 7)
    }

    static func parkedEventDoesNotBlock(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let name = "park-\(EventID.random().hex.prefix(8))"
        let stream = freshStream()
        _ = try await store.append(
            to: stream, expected: .noStream, events: [event("ok-1"), event("poison"), event("ok-2"), event("ok-3")])
        struct Poisoned: Error {}
        let seen = Seen()
        let attempts = Mutex(0)
        let consumer = Consumer(
            name: name, store: store, checkpoints: stores.checkpoints, options: fastRetries(maxAttempts: 3)
        ) { event in
            if event.payload == Array("poison".utf8) {
                attempts.withLock { $0 += 1 }
                throw Poisoned()
            }
            seen.add(event)
        }
        consumer.start()
        await consumer.waitUntilCaughtUp()
        await consumer.shutdown()
        #expect(seen.all.map(\.version) == [1, 3, 4])
        #expect(attempts.withLock { $0 } == 3)
        let observed10 = consumer.metrics.parked.load(ordering: .acquiring)
        #expect(observed10 == 1)
        let observed11 = consumer.metrics.retries.load(ordering: .acquiring)
        #expect(observed11 == 2)
        let parked = try await stores.checkpoints.parked(consumer: name)
        #expect(parked.count == 1)
        #expect(parked.first?.stream == stream)
        #expect(parked.first?.version == 2)
        #expect(parked.first?.attempts == 3)
        #expect(try await stores.checkpoints.checkpoint(consumer: name) == seen.all.last?.position)
    }

    static func undecodableEventsAreParked(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let name = "codec-\(EventID.random().hex.prefix(8))"
        let stream = ConformanceCounter.stream(EventID.random().hex)
        let good = try ConformanceCounter.eventCodec.encode(ConformanceCounted(amount: 1))
        _ = try await store.append(
            to: stream, expected: .noStream,
            events: [
                good, EventData(type: "Unknown", payload: [1, 2]),
                EventData(type: ConformanceCounted.eventType, payload: [0]),
            ])
        let seen = Seen()
        let attempts = Mutex(0)
        let consumer = Consumer(
            name: name, store: store, checkpoints: stores.checkpoints, options: fastRetries(maxAttempts: 5)
        ) { record in
            attempts.withLock { $0 += 1 }
            _ = try ConformanceCounter.eventCodec.decode(record)
            seen.add(record)
        }
        consumer.start()
        await consumer.waitUntilCaughtUp()
        await consumer.shutdown()
        #expect(seen.all.map(\.version) == [1])
        #expect(attempts.withLock { $0 } == 3)
        let parked = try await stores.checkpoints.parked(consumer: name)
        #expect(parked.map(\.version) == [2, 3])
        #expect(parked.map(\.eventType) == ["Unknown", ConformanceCounted.eventType])
        #expect(parked.allSatisfy { $0.attempts == 1 && $0.stream == stream })
        // The full load of the aggregate fails with a codec error naming the event.
        do {
            _ = try await AggregateRepository<ConformanceCounter>(store: store).load(id: stream.aggregateID)
            Issue.record("loaded an aggregate with an unknown event")
        } catch {
            #expect(error.code == .codec)
            #expect(error.stream == stream)
            #expect(error.version == 2)
            #expect(error.eventType == "Unknown")
        }
    }
}
