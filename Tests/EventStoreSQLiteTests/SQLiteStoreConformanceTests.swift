import EventSourcing
import EventSourcingTestKit
import EventStoreSQLite
import Testing

/// The conformance suite (the same test bodies as the in-memory and JetStream stores) against a SQLite store in a
/// fresh temporary directory per case; the one store object serves as event, snapshot and checkpoint store.
@Suite struct SQLiteStoreConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await testCase.run {
            let directory = TemporaryDirectory()
            let store = try SQLiteEventStore(directory: directory.path)
            return ConformanceStores(
                events: store, snapshots: store, checkpoints: store,
                teardown: {
                    store.close()
                    _ = directory  // removed when released, after the store closed
                })
        }
    }
}
