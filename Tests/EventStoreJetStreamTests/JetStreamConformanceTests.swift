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
                    teardown: { fixture.close() })
            }
            try await testCase.run(factory)
        }
    }
}
