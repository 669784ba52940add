import EventSourcing
import EventSourcingTestKit
import Testing

/// The conformance suite against the in-memory stores.
@Suite struct InMemoryStoreConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await testCase.run {
            let events = InMemoryEventStore()
            return ConformanceStores(
                events: events, snapshots: InMemorySnapshotStore(), checkpoints: InMemoryCheckpointStore(),
                teardown: { events.close() })
        }
    }
}
