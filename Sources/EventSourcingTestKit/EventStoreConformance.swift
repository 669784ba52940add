import EventSourcing
import Testing

/// The stores one conformance case runs against: fresh, empty stores made by the backend's factory.
public struct ConformanceStores: Sendable {
    public var events: any EventStore
    public var snapshots: any SnapshotStore
    public var checkpoints: any CheckpointStore
    /// Runs after the case (close the stores, remove files, stop servers).
    public var teardown: @Sendable () async -> Void
    /// Whether the store refuses an event ID stored at a later place of another append (memory, SQLite; JetStream
    /// with its event-ID markers). Every store refuses a repeated first event ID and answers a retry of the same
    /// append with its original result; the cases check the rest only where this is set.
    public var detectsRepeatedLaterEventIDs: Bool

    public init(
        events: any EventStore, snapshots: any SnapshotStore, checkpoints: any CheckpointStore,
        detectsRepeatedLaterEventIDs: Bool = true, teardown: @escaping @Sendable () async -> Void = {}
    ) {
        self.events = events
        self.snapshots = snapshots
        self.checkpoints = checkpoints
        self.detectsRepeatedLaterEventIDs = detectsRepeatedLaterEventIDs
        self.teardown = teardown
    }
}

/// Makes fresh, empty stores for one case.
public typealias ConformanceFactory = @Sendable () async throws -> ConformanceStores

/// One test body of the conformance suite.
///
/// Run every case against a backend with a parameterized test:
/// ```swift
/// @Test(arguments: EventStoreConformance.cases)
/// func conformance(_ testCase: ConformanceCase) async throws {
///     try await testCase.run { ConformanceStores(events: try SQLiteEventStore(path: ...), ...) }
/// }
/// ```
/// `#expect` and `#require` inside the bodies report against the calling test.
public struct ConformanceCase: Sendable, CustomStringConvertible {
    public let name: String
    let body: @Sendable (ConformanceStores) async throws -> Void

    init(_ name: String, _ body: @escaping @Sendable (ConformanceStores) async throws -> Void) {
        self.name = name
        self.body = body
    }

    public var description: String { name }

    /// Makes stores with `factory`, runs the body, then the stores' teardown (also when the body throws).
    public func run(_ factory: ConformanceFactory) async throws {
        let stores = try await factory()
        do {
            try await body(stores)
        } catch {
            await stores.teardown()
            throw error
        }
        await stores.teardown()
    }
}

/// The conformance suite every ``EventStore``, ``SnapshotStore`` and ``CheckpointStore`` passes (the same test
/// bodies for memory, SQLite and JetStream; after Akka Persistence's TCK).
public enum EventStoreConformance {
    /// Every case, in a stable order.
    public static var cases: [ConformanceCase] {
        [
            ConformanceCase("append and read back", appendAndReadBack),
            ConformanceCase("every expected-version case", expectedVersionCases),
            ConformanceCase("atomic multi-event append", atomicMultiEventAppend),
            ConformanceCase("idempotent retry", idempotentRetry),
            ConformanceCase("racing appenders", racingAppenders),
            ConformanceCase("global ordering", globalOrdering),
            ConformanceCase("invalid arguments", invalidArguments),
            ConformanceCase("append observers are woken", observersAreWoken),
            ConformanceCase("undecodable events give codec errors", undecodableEvents),
            ConformanceCase("snapshot stale-write guard", snapshotStaleWriteGuard),
            ConformanceCase("checkpoints and parked events", checkpointsAndParking),
        ] + aggregateCases
    }

    // MARK: Helpers

    /// A fresh stream name (unique per call, so cases never collide even on a shared backend).
    public static func freshStream(_ type: String = "Test") -> StreamName {
        StreamName(aggregateType: type, aggregateID: EventID.random().hex)
    }

    /// An event with a recognisable payload.
    public static func event(_ text: String, type: String = "Tested") -> EventData {
        EventData(
            type: type, metadata: EventMetadata(correlationID: "c-\(text)", causationID: "k-\(text)"),
            payload: Array(text.utf8))
    }

    @discardableResult
    static func expectError(
        _ code: EventStoreError.Code, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async -> EventStoreError? {
        do {
            try await body()
            Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
            return nil
        } catch let error as EventStoreError {
            #expect(error.code == code, "expected \(code), got \(error)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("expected EventStoreError \(code), got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Reads the whole global log in batches of `batch`.
    public static func readWholeLog(_ store: any EventStore, batch: Int = 7) async throws -> [RecordedEvent] {
        var all: [RecordedEvent] = []
        var next: UInt64 = 1
        while true {
            let events = try await store.readAll(from: next, maxCount: batch)
            #expect(events.count <= batch)
            all += events
            guard let last = events.last, events.count == batch else { return all }
            next = last.position + 1
        }
    }

    // MARK: Cases

    static func appendAndReadBack(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let stream = freshStream()
        #expect(try await store.read(stream: stream).isEmpty)
        #expect(try await store.headPosition() == 0)
        let events = [event("a"), event("b", type: "Other"), event("c")]
        let result = try await store.append(to: stream, expected: .noStream, events: events)
        #expect(result.firstVersion == 1)
        #expect(result.lastVersion == 3)
        #expect(result.firstPosition >= 1)
        #expect(result.lastPosition > result.firstPosition)
        let read = try await store.read(stream: stream)
        #expect(read.map(\.data) == events)
        #expect(read.map(\.version) == [1, 2, 3])
        #expect(read.allSatisfy { $0.stream == stream })
        #expect(read.first?.position == result.firstPosition)
        #expect(read.last?.position == result.lastPosition)
        #expect(try await store.read(stream: stream, from: 2, maxCount: 1).map(\.data) == [events[1]])
        #expect(try await store.read(stream: stream, from: 4).isEmpty)
        #expect(try await store.headPosition() == result.lastPosition)
        #expect(try await store.readAll(from: 1, maxCount: 10).map(\.data) == events)
    }

    static func expectedVersionCases(_ stores: ConformanceStores) async throws {
        let store = stores.events
        // On a stream without events.
        let empty = freshStream()
        var error = await expectError(.conflict) {
            _ = try await store.append(to: empty, expected: .exists, events: [event("x")])
        }
        #expect(error?.actualVersion == 0)
        #expect(error?.stream == empty)
        error = await expectError(.conflict) {
            _ = try await store.append(to: empty, expected: .exact(1), events: [event("x")])
        }
        #expect(error?.actualVersion == 0)
        #expect(try await store.read(stream: empty).isEmpty)
        #expect(try await store.append(to: freshStream(), expected: .any, events: [event("a")]).lastVersion == 1)
        #expect(try await store.append(to: freshStream(), expected: .exact(0), events: [event("a")]).lastVersion == 1)

        // On a stream with two events.
        let stream = freshStream()
        _ = try await store.append(to: stream, expected: .noStream, events: [event("1"), event("2")])
        error = await expectError(.conflict) {
            _ = try await store.append(to: stream, expected: .noStream, events: [event("x")])
        }
        #expect(error?.actualVersion == 2)
        error = await expectError(.conflict) {
            _ = try await store.append(to: stream, expected: .exact(1), events: [event("x")])
        }
        #expect(error?.actualVersion == 2)
        error = await expectError(.conflict) {
            _ = try await store.append(to: stream, expected: .exact(3), events: [event("x")])
        }
        #expect(error?.actualVersion == 2)
        #expect(try await store.append(to: stream, expected: .exact(2), events: [event("3")]).lastVersion == 3)
        #expect(try await store.append(to: stream, expected: .exists, events: [event("4")]).lastVersion == 4)
        #expect(try await store.append(to: stream, expected: .any, events: [event("5")]).lastVersion == 5)
        #expect(try await store.read(stream: stream).map(\.version) == [1, 2, 3, 4, 5])
    }

    static func atomicMultiEventAppend(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let stream = freshStream()
        let first = [event("1"), event("2"), event("3")]
        _ = try await store.append(to: stream, expected: .noStream, events: first)
        // A conflicting multi-event append stores none of its events.
        let conflicting = [event("x"), event("y"), event("z")]
        let error = await expectError(.conflict) {
            _ = try await store.append(to: stream, expected: .exact(1), events: conflicting)
        }
        #expect(error?.actualVersion == 3)
        // An append whose later event repeats a stored ID stores none of its events (where the store detects it).
        let other = freshStream()
        if stores.detectsRepeatedLaterEventIDs {
            await expectError(.duplicateEventID) {
                _ = try await store.append(to: other, expected: .any, events: [event("p"), first[1]])
            }
        }
        // An append whose first event repeats a stored first ID, with other events after it, stores nothing.
        await expectError(.duplicateEventID) {
            _ = try await store.append(to: other, expected: .any, events: [first[0], event("q")])
        }
        // An append that repeats an ID within itself stores nothing.
        let repeated = event("r")
        await expectError(.duplicateEventID) {
            _ = try await store.append(to: other, expected: .any, events: [repeated, event("s"), repeated])
        }
        #expect(try await store.read(stream: stream).map(\.data) == first)
        #expect(try await store.read(stream: other).isEmpty)
        #expect(try await readWholeLog(store).map(\.data) == first)
        // The conflicting events can still be appended at the right version: nothing of them was kept.
        #expect(try await store.append(to: stream, expected: .exact(3), events: conflicting).lastVersion == 6)
    }

    static func idempotentRetry(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let stream = freshStream()
        let events = [event("1"), event("2")]
        let original = try await store.append(to: stream, expected: .noStream, events: events)
        _ = try await store.append(to: stream, expected: .exact(2), events: [event("3")])
        // The retry's expected version no longer holds; it still returns the original result.
        let retried = try await store.append(to: stream, expected: .noStream, events: events)
        #expect(retried == original)
        let single = event("single")
        let singleResult = try await store.append(to: stream, expected: .any, events: [single])
        #expect(try await store.append(to: stream, expected: .any, events: [single]) == singleResult)
        #expect(try await store.read(stream: stream).count == 4)
        #expect(try await readWholeLog(store).count == 4)
        // Not a retry: the same first ID with other events after it.
        await expectError(.duplicateEventID) {
            _ = try await store.append(to: stream, expected: .any, events: [events[0], event("new")])
        }
        // Not a retry: the same IDs on another stream.
        await expectError(.duplicateEventID) {
            _ = try await store.append(to: freshStream(), expected: .any, events: events)
        }
        #expect(try await readWholeLog(store).count == 4)
    }

    static func racingAppenders(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let stream = freshStream()
        let writers = 8
        let attemptsPerWriter = 20
        let wins = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var won: [UInt64] = []
                    var known: UInt64 = 0
                    for attempt in 0..<attemptsPerWriter {
                        do {
                            let result = try await store.append(
                                to: stream, expected: .exact(known), events: [event("w\(writer)-\(attempt)")])
                            won.append(result.lastVersion)
                            known = result.lastVersion
                        } catch let error as EventStoreError where error.code == .conflict {
                            known = try #require(error.actualVersion)
                        }
                    }
                    return won
                }
            }
            var all: [UInt64] = []
            for try await won in group { all += won }
            return all
        }
        // Exactly one writer won each version.
        #expect(Set(wins).count == wins.count)
        #expect(wins.sorted() == Array(1...UInt64(wins.count)))
        let read = try await store.read(stream: stream)
        #expect(read.map(\.version) == Array(1...UInt64(wins.count)))
    }

    static func globalOrdering(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let streams = (0..<5).map { _ in freshStream() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, stream) in streams.enumerated() {
                group.addTask {
                    for round in 0..<10 {
                        let count = 1 + (round + index) % 3
                        let events = (0..<count).map { event("s\(index)-r\(round)-\($0)") }
                        _ = try await store.append(to: stream, expected: .any, events: events)
                    }
                }
            }
            try await group.waitForAll()
        }
        let log = try await readWholeLog(store)
        var total = 0
        for (index, _) in streams.enumerated() {
            for round in 0..<10 { total += 1 + (round + index) % 3 }
        }
        #expect(log.count == total)
        for (previous, next) in zip(log, log.dropFirst()) {
            #expect(previous.position < next.position)
        }
        for stream in streams {
            let versions = log.filter { $0.stream == stream }.map(\.version)
            #expect(versions == Array(1...UInt64(versions.count)))
            let events = try await store.read(stream: stream, from: 1, maxCount: 3)
            #expect(events.map(\.version) == [1, 2, 3])
        }
        #expect(try await store.headPosition() == log.last?.position)
        // Reading from a position in the middle returns the rest.
        let middle = log[log.count / 2]
        let rest = try await store.readAll(from: middle.position, maxCount: log.count)
        #expect(rest.map(\.id) == log[(log.count / 2)...].map(\.id))
    }

    static func invalidArguments(_ stores: ConformanceStores) async throws {
        let store = stores.events
        await expectError(.invalidArgument) {
            _ = try await store.append(to: freshStream(), expected: .any, events: [])
        }
        await expectError(.invalidArgument) {
            _ = try await store.append(
                to: StreamName(aggregateType: "Bad.Type", aggregateID: "x"), expected: .any, events: [event("a")])
        }
        await expectError(.invalidArgument) {
            _ = try await store.append(
                to: StreamName(aggregateType: "T", aggregateID: ""), expected: .any, events: [event("a")])
        }
        #expect(try await readWholeLog(store).isEmpty)
    }

    static func observersAreWoken(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let heads = AsyncStream<UInt64>.makeStream()
        let observation = store.observeAppends { head in heads.continuation.yield(head) }
        let result = try await store.append(to: freshStream(), expected: .any, events: [event("a"), event("b")])
        var iterator = heads.stream.makeAsyncIterator()
        var seen: UInt64 = 0
        while seen < result.lastPosition, let head = await iterator.next() { seen = head }
        #expect(seen >= result.lastPosition)
        observation.cancel()
    }

    static func undecodableEvents(_ stores: ConformanceStores) async throws {
        let store = stores.events
        let stream = freshStream()
        var codec = EventCodec<ConformanceCounted> { $0 }
        codec.register(ConformanceCounted.self) { $0 }
        let good = try codec.encode(ConformanceCounted(amount: 2))
        var garbage = good
        garbage.id = .random()
        garbage.payload = Array("not json {".utf8)
        let unknown = EventData(type: "NoSuchType", payload: Array("{}".utf8))
        var future = good
        future.id = .random()
        future.schemaVersion = 99
        _ = try await store.append(to: stream, expected: .noStream, events: [good, garbage, unknown, future])
        let read = try await store.read(stream: stream)
        #expect(read.count == 4)
        #expect(try codec.decode(read[0]).amount == 2)
        for (record, type) in zip(
            read[1...], [ConformanceCounted.eventType, "NoSuchType", ConformanceCounted.eventType])
        {
            do {
                _ = try codec.decode(record)
                Issue.record("decoded \(record.type)@\(record.version)")
            } catch {
                #expect(error.code == .codec)
                #expect(error.stream == stream)
                #expect(error.version == record.version)
                #expect(error.eventType == type)
            }
        }
        #expect(read[3].schemaVersion == 99)
    }

    static func snapshotStaleWriteGuard(_ stores: ConformanceStores) async throws {
        let snapshots = stores.snapshots
        let stream = freshStream()
        #expect(try await snapshots.load(stream: stream) == nil)
        let at30 = Snapshot(stream: stream, version: 30, position: 300, schemaVersion: 2, payload: Array("30".utf8))
        #expect(try await snapshots.save(at30) == .saved)
        #expect(try await snapshots.load(stream: stream) == at30)
        // Older and equal versions are refused; the newer one stays.
        #expect(try await snapshots.save(Snapshot(stream: stream, version: 20, payload: [1])) == .stale)
        #expect(try await snapshots.save(Snapshot(stream: stream, version: 30, payload: [2])) == .stale)
        #expect(try await snapshots.load(stream: stream) == at30)
        let at40 = Snapshot(stream: stream, version: 40, position: 400, schemaVersion: 3, payload: Array("40".utf8))
        #expect(try await snapshots.save(at40) == .saved)
        #expect(try await snapshots.load(stream: stream) == at40)
        // Racing writers leave the newest.
        let other = freshStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for version in 1...20 {
                group.addTask {
                    _ = try await snapshots.save(
                        Snapshot(stream: other, version: UInt64(version), payload: [UInt8(version)]))
                }
            }
            try await group.waitForAll()
        }
        #expect(try await snapshots.load(stream: other)?.version == 20)
        try await snapshots.delete(stream: other)
        #expect(try await snapshots.load(stream: other) == nil)
        #expect(try await snapshots.load(stream: stream) == at40)
    }

    static func checkpointsAndParking(_ stores: ConformanceStores) async throws {
        let checkpoints = stores.checkpoints
        let name = "projection-\(EventID.random().hex.prefix(8))"
        #expect(try await checkpoints.checkpoint(consumer: name) == nil)
        try await checkpoints.save(consumer: name, position: 5)
        #expect(try await checkpoints.checkpoint(consumer: name) == 5)
        try await checkpoints.save(consumer: name, position: 7)
        #expect(try await checkpoints.checkpoint(consumer: name) == 7)
        #expect(try await checkpoints.checkpoint(consumer: name + "-other") == nil)
        #expect(try await checkpoints.parked(consumer: name).isEmpty)
        let stream = freshStream()
        let second = ParkedEvent(
            consumer: name, position: 9, stream: stream, version: 2, eventType: "T", attempts: 3, lastError: "boom")
        let first = ParkedEvent(
            consumer: name, position: 4, stream: stream, version: 1, eventType: "T", attempts: 3, lastError: "bang")
        try await checkpoints.park(second)
        try await checkpoints.park(first)
        #expect(try await checkpoints.parked(consumer: name) == [first, second])
        #expect(try await checkpoints.parked(consumer: name + "-other").isEmpty)
    }
}

/// The event of the conformance suite's codec and aggregate cases.
public struct ConformanceCounted: DomainEvent, Codable, Equatable {
    public static let eventType = "ConformanceCounted"
    public var amount: Int
    public init(amount: Int) { self.amount = amount }
}
