import EventSourcing
import EventSourcingTestKit
import Testing

@Suite struct InMemoryEventStoreTests {
    @Test func metricsCountAppendsConflictsAndReplays() async throws {
        let metrics = EventStoreMetrics()
        let store = InMemoryEventStore(metrics: metrics)
        let stream = StreamName(aggregateType: "T", aggregateID: "1")
        let events = [EventData(type: "E", payload: [1]), EventData(type: "E", payload: [2])]
        _ = try await store.append(to: stream, expected: .noStream, events: events)
        _ = try await store.append(to: stream, expected: .noStream, events: events)
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: stream, expected: .noStream, events: [EventData(type: "E", payload: [])])
        }
        let observed1 = metrics.appends.load(ordering: .acquiring)
        #expect(observed1 == 1)
        let observed2 = metrics.events.load(ordering: .acquiring)
        #expect(observed2 == 2)
        let observed3 = metrics.idempotentReplays.load(ordering: .acquiring)
        #expect(observed3 == 1)
        let observed4 = metrics.conflicts.load(ordering: .acquiring)
        #expect(observed4 == 1)
        #expect(metrics.appendLatency.snapshot().count == 1)
    }

    /// The store remembers the last stream's slot; streams inserted between appends (which may move slots), one-
    /// and many-event appends, conflicts and retries in any order keep every stream's versions and positions.
    @Test func interleavedStreamsKeepTheirVersions() async throws {
        let store = InMemoryEventStore()
        let names = (0..<40).map { StreamName(aggregateType: "T", aggregateID: "s\($0)") }
        var versions = [UInt64](repeating: 0, count: names.count)
        var positions: [StreamName: [UInt64]] = [:]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<600 {
            // Mostly the same stream again, sometimes another one (new streams keep appearing early on).
            let index = step % 7 == 0 ? Int.random(in: 0..<min(names.count, 1 + step / 10), using: &generator) : 0
            let count = step % 5 == 0 ? 3 : 1
            let events = (0..<count).map { _ in EventData(type: "E", payload: [UInt8(truncatingIfNeeded: step)]) }
            let result = try await store.append(to: names[index], expected: .exact(versions[index]), events: events)
            #expect(result.firstVersion == versions[index] + 1)
            versions[index] += UInt64(count)
            #expect(result.lastVersion == versions[index])
            positions[names[index], default: []] += Array(result.firstPosition...result.lastPosition)
            // A retry of the same append stores nothing; a stale expected version conflicts.
            #expect(try await store.append(to: names[index], expected: .any, events: events) == result)
            await #expect(throws: EventStoreError.self) {
                try await store.append(
                    to: names[index], expected: .exact(versions[index] - 1), events: [EventData(type: "E", payload: [])]
                )
            }
        }
        for (index, name) in names.enumerated() {
            let read = try await store.read(stream: name, from: 1, maxCount: .max)
            #expect(read.count == Int(versions[index]))
            #expect(read.map(\.version) == Array(stride(from: 1, through: versions[index], by: 1)))
            #expect(read.map(\.position) == (positions[name] ?? []))
        }
    }

    /// The log is kept in chunks of 4,096 events: reads across chunk boundaries return every event once, in
    /// order, with its own position, version and payload.
    @Test func readsAcrossLogChunks() async throws {
        let store = InMemoryEventStore()
        let names = (0..<3).map { StreamName(aggregateType: "T", aggregateID: "c\($0)") }
        let total = 9_000
        for position in 1...total {
            let payload = withUnsafeBytes(of: UInt32(position).littleEndian) { Array($0) }
            _ = try await store.append(
                to: names[position % 3], expected: .any, events: [EventData(type: "E", payload: payload)])
        }
        for (from, count) in [(1, 9_000), (4_090, 20), (4_096, 4_097), (8_100, 2_000), (9_000, 5)] {
            let read = try await store.readAll(from: UInt64(from), maxCount: count)
            let expected = Array(from..<min(total + 1, from + count))
            #expect(read.map { Int($0.position) } == expected)
            #expect(
                read.map { $0.payload.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) } }
                    == expected)
        }
        for (index, name) in names.enumerated() {
            let read = try await store.read(stream: name, from: 1_360, maxCount: 1_400)
            #expect(read.map(\.version) == Array(1_360...2_759).map(UInt64.init))
            #expect(read.allSatisfy { Int($0.position) % 3 == index })
        }
    }

    @Test func aClosedStoreRefuses() async throws {
        let store = InMemoryEventStore()
        store.close()
        await #expect {
            try await store.append(
                to: StreamName(aggregateType: "T", aggregateID: "1"), expected: .any,
                events: [EventData(type: "E", payload: [])])
        } throws: { ($0 as? EventStoreError)?.code == .closed }
    }
}
