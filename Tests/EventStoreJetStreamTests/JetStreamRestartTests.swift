import EventSourcing
import Synchronization
import Testing
import TestKit

@testable import RuntimeNATS

/// nats-server is stopped and started again (same store directory, same port) in the middle of a stream of
/// appends: every acknowledged append is there afterwards, every failed one reported a typed error, no append
/// outlived its timeout, and retries with the same event IDs never stored anything twice.
@Suite("JetStreamEventStore across a nats-server restart", .serialized, .timeLimit(.minutes(3)))
struct JetStreamRestartTests {
    struct Tally: Sendable {
        var acknowledged = 0
        var failures: [EventStoreError.Code: Int] = [:]
        var longest: Duration = .zero
    }

    final class Shared: Sendable {
        let tally = Mutex(Tally())
    }

    @Test("acknowledged appends survive; failures are unavailable / outcome unknown; nothing hangs")
    func restartInTheMiddle() async throws {
        try await withBlockingAllowed {
            let appendTimeout = Duration.milliseconds(800)
            let fixture = try JetStreamFixture(appendTimeout: appendTimeout, readTimeout: .milliseconds(800))
            defer { fixture.close() }
            let store = fixture.events
            let writers = 4
            let appendsPerWriter = 60
            let shared = Shared()

            // Each writer owns a stream and appends 2-event commits with `.exact`; after a failure it retries the
            // same commit (same event IDs, same expectation) until it is acknowledged.
            let work = Task {
                try await withThrowingTaskGroup(of: [EventData].self) { group in
                    for writer in 0..<writers {
                        group.addTask {
                            let stream = StreamName(aggregateType: "Restart", aggregateID: "w\(writer)")
                            var written: [EventData] = []
                            for index in 0..<appendsPerWriter {
                                let events = [
                                    EventData(type: "A", payload: Array("w\(writer)-\(index)-a".utf8)),
                                    EventData(type: "B", payload: Array("w\(writer)-\(index)-b".utf8)),
                                ]
                                let expected = ExpectedVersion.exact(UInt64(written.count))
                                while true {
                                    let start = ContinuousClock.now
                                    do throws(EventStoreError) {
                                        let result = try await store.append(
                                            to: stream, expected: expected, events: events)
                                        let elapsed = ContinuousClock.now - start
                                        #expect(result.firstVersion == UInt64(written.count) + 1)
                                        shared.tally.withLock {
                                            $0.acknowledged += 1
                                            $0.longest = max($0.longest, elapsed)
                                        }
                                        written += events
                                        break
                                    } catch {
                                        let elapsed = ContinuousClock.now - start
                                        shared.tally.withLock {
                                            $0.failures[error.code, default: 0] += 1
                                            $0.longest = max($0.longest, elapsed)
                                        }
                                        #expect(
                                            [.backendUnavailable, .outcomeUnknown, .timeout].contains(error.code),
                                            "\(error)")
                                    }
                                    try await Task.sleep(for: .milliseconds(20))  // retry pacing
                                }
                            }
                            return written
                        }
                    }
                    var all: [[EventData]] = []
                    for try await written in group { all.append(written) }
                    return all
                }
            }

            // Stop the server once a third of the appends are acknowledged, keep it down until every writer has
            // seen failures, then start it again on the same port and store directory.
            while shared.tally.withLock({ $0.acknowledged }) < writers * appendsPerWriter / 3 {
                try await Task.sleep(for: .milliseconds(5))
            }
            fixture.server.stop()
            let stoppedAt = shared.tally.withLock { $0.acknowledged }
            while shared.tally.withLock({ $0.failures.values.reduce(0, +) }) < writers * 2 {
                try await Task.sleep(for: .milliseconds(5))
            }
            try fixture.server.start()

            let written = try await work.value
            let final = shared.tally.withLock { $0 }
            #expect(final.acknowledged == writers * appendsPerWriter)
            #expect(stoppedAt < writers * appendsPerWriter, "the restart happened in the middle")
            #expect(final.failures.values.reduce(0, +) >= writers * 2)
            // Every append ended within its timeout plus the slow path's read (also bounded), never hung.
            #expect(final.longest < appendTimeout * 3 + .seconds(1), "longest append took \(final.longest)")

            // Every acknowledged append is stored exactly once, in order, with contiguous versions.
            for events in written {
                let stream = try #require(
                    events.first.flatMap { String(decoding: $0.payload, as: UTF8.self).split(separator: "-").first }
                        .map { StreamName(aggregateType: "Restart", aggregateID: String($0)) })
                let read = try await store.read(stream: stream)
                #expect(read.map(\.data) == events)
                #expect(read.map(\.version) == Array(1...UInt64(events.count)))
            }
            // And the global log holds exactly these events.
            var log: [RecordedEvent] = []
            while true {
                let batch = try await store.readAll(from: (log.last?.position ?? 0) + 1, maxCount: 100)
                log += batch
                if batch.count < 100 { break }
            }
            #expect(log.count == writers * appendsPerWriter * 2)
            print("restart: \(final)")
        }
    }
}
