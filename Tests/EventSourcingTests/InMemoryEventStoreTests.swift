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
