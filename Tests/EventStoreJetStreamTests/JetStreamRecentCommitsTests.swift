import EventSourcing
import Foundation
import Testing
import TestKit

@testable import RuntimeNATS

/// A log read takes this process's recent commits from memory (kept from their acknowledgements); after a
/// reconnect they may no longer be what the server holds, and the read goes back to the server.
@Suite("JetStreamEventStore: log reads from the recent-commit cache", .serialized, .timeLimit(.minutes(2)))
struct JetStreamRecentCommitsTests {
    private func event(_ text: String) -> EventData {
        EventData(type: "Noted", payload: Array(text.utf8))
    }

    /// A store with an append observer (what turns the cache on), on a fresh nats-server.
    private func withObservedStore(
        _ body: (JetStreamFixture, JetStreamEventStore) async throws -> Void
    ) async throws {
        try await withBlockingAllowed {
            let fixture = try JetStreamFixture()
            defer { fixture.close() }
            let observation = fixture.events.observeAppends { _ in }
            defer { observation.cancel() }
            try await body(fixture, fixture.events)
        }
    }

    @Test("own commits are read back from the cache, in order, with their positions")
    func readsOwnCommits() async throws {
        try await withObservedStore { _, store in
            var appended: [AppendResult] = []
            for index in 0..<5 {
                appended.append(
                    try await store.append(
                        to: StreamName(aggregateType: "Note", aggregateID: "n\(index % 2)"), expected: .any,
                        events: [event("e\(index)a"), event("e\(index)b")]))
            }
            let log = try await store.readAll(from: 0, maxCount: 100)
            #expect(store.recentCommits.hits == 5, "every commit from memory")
            #expect(
                log.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<5).flatMap { ["e\($0)a", "e\($0)b"] })
            #expect(log.map(\.position) == appended.flatMap { [$0.firstPosition, $0.lastPosition] })
            // From the middle of a commit, and bounded.
            let tail = try await store.readAll(from: appended[1].firstPosition + 1, maxCount: 3)
            #expect(store.recentCommits.hits == 7, "the tail's two commits from memory too")
            #expect(tail.map { String(decoding: $0.payload, as: UTF8.self) } == ["e1b", "e2a", "e2b"])
        }
    }

    @Test("after a reconnect to a server that lost its data, a read returns what the server holds, not the cache")
    func reconnectEmptiesTheCache() async throws {
        try await withObservedStore { fixture, store in
            let before = try await store.append(
                to: StreamName(aggregateType: "Note", aggregateID: "old"), expected: .noStream, events: [event("old")])
            #expect(try await store.readAll(from: 0, maxCount: 10).map(\.position) == [before.lastPosition])

            // The server comes back empty; another store on the connection makes the stream again and appends at
            // the same stream sequence.
            fixture.server.stop(signal: SIGKILL)
            fixture.server.removeStore()
            try fixture.server.start()
            #expect(ChildProcess.waitUntil(timeout: 10) { fixture.connection.isConnected })
            let other = try JetStreamEventStore(
                connection: fixture.connection, configuration: JetStreamEventStore.Configuration(prefix: "es"))
            defer { other.close() }
            let after = try await other.append(
                to: StreamName(aggregateType: "Note", aggregateID: "new"), expected: .noStream, events: [event("new")])
            #expect(after.lastPosition == before.lastPosition, "the same stream sequence again")

            let log = try await store.readAll(from: 0, maxCount: 10)
            #expect(log.map { String(decoding: $0.payload, as: UTF8.self) } == ["new"])
            #expect(log.map(\.stream.aggregateID) == ["new"])
        }
    }
}
