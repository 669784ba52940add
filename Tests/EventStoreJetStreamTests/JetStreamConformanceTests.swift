import EventSourcing
import EventSourcingTestKit
import Testing
import TestKit

@testable import RuntimeNATS

/// The conformance suite against JetStream: each case gets its own `nats-server -js` (temporary store directory,
/// free loopback port) with fresh event, snapshot and checkpoint stores.
@Suite("JetStream stores conformance", .serialized, .timeLimit(.minutes(2)))
struct JetStreamConformanceTests {
    @Test(arguments: EventStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await withBlockingAllowed {
            let factory: ConformanceFactory = {
                let fixture = try JetStreamFixture()
                return ConformanceStores(
                    events: fixture.events, snapshots: fixture.snapshots, checkpoints: fixture.checkpoints,
                    detectsRepeatedLaterEventIDs: false, teardown: { fixture.close() })
            }
            try await testCase.run(factory)
        }
    }

    /// The cases about event IDs again, with the per-event markers on (``JetStreamEventStore/Configuration/
    /// detectsRepeatedEventIDs``): then every repeated ID is refused, as on memory and SQLite.
    @Test(
        arguments: EventStoreConformance.cases.filter {
            ["atomic multi-event append", "idempotent retry", "racing appenders"].contains($0.name)
        })
    func conformanceWithEventIDMarkers(_ testCase: ConformanceCase) async throws {
        try await withBlockingAllowed {
            let factory: ConformanceFactory = {
                let fixture = try JetStreamFixture(markers: true)
                return ConformanceStores(
                    events: fixture.events, snapshots: fixture.snapshots, checkpoints: fixture.checkpoints,
                    detectsRepeatedLaterEventIDs: true, teardown: { fixture.close() })
            }
            try await testCase.run(factory)
        }
    }
}
