import EventSourcing
import Synchronization
import Testing
import TestKit

@testable import RuntimeNATS

@Suite("JetStreamEventStore", .serialized, .timeLimit(.minutes(2)))
struct JetStreamEventStoreTests {
    static func event(_ text: String) -> EventData {
        EventData(type: "Noted", payload: Array(text.utf8))
    }

    @Test("commit records round-trip; a malformed record is refused")
    func commitRecord() throws {
        var first = Self.event("a")
        first.metadata = EventMetadata(correlationID: "c", causationID: nil, idempotencyKey: "k")
        first.schemaVersion = 3
        let events = [first, Self.event(""), Self.event(String(repeating: "x", count: 300))]
        let bytes = CommitRecord.encode(firstVersion: 7, events: events)
        let (header, decoded) = try CommitRecord.decode(bytes)
        #expect(header == CommitRecord.Header(firstVersion: 7, count: 3))
        #expect(decoded == events)
        #expect(throws: CommitRecord.Malformed.self) { try CommitRecord.decode(Array(bytes.dropLast())) }
        #expect(throws: CommitRecord.Malformed.self) { try CommitRecord.decode([2] + bytes.dropFirst()) }
    }

    @Test("positions: strictly increasing within and across commits; a commit's last event ends at 0xFFFF")
    func positions() {
        let a = (0..<3).map { JetStreamEventStore.position(sequence: 5, index: $0, count: 3) }
        let b = JetStreamEventStore.position(sequence: 6, index: 0, count: 1)
        #expect(a == a.sorted() && Set(a).count == 3 && a[2] < b)
        #expect(a[2] == JetStreamEventStore.headPosition(sequence: 5))
        #expect(b == JetStreamEventStore.headPosition(sequence: 6))
    }

    @Test("a stream written by another store instance is read back and extended with OCC")
    func twoInstances() async throws {
        try await withBlockingAllowed {
            let fixture = try JetStreamFixture()
            defer { fixture.close() }
            let second = try JetStreamEventStore(
                connection: fixture.connection, configuration: .init(prefix: "es"))
            defer { second.close() }
            let stream = StreamName(aggregateType: "Account", aggregateID: "a-1")
            let events = (0..<10).map { Self.event("e\($0)") }
            for (index, event) in events.enumerated() {
                _ = try await fixture.events.append(to: stream, expected: .exact(UInt64(index)), events: [event])
            }
            // The second instance has no memory of the stream: it reads the last commit to learn its sequence.
            let result = try await second.append(to: stream, expected: .exact(10), events: [Self.event("e10")])
            #expect(result.firstVersion == 11)
            // The first instance's memory is now stale: the server refuses, it reads and reports the conflict.
            await #expect(throws: EventStoreError.self) {
                try await fixture.events.append(to: stream, expected: .exact(10), events: [Self.event("late")])
            }
            let read = try await second.read(stream: stream)
            #expect(read.map(\.version) == Array(1...11))
            #expect(read.prefix(10).map(\.data) == events)
            // Reads from the middle go through direct gets and then the ordered consumer.
            #expect(try await second.read(stream: stream, from: 6, maxCount: 3).map(\.version) == [6, 7, 8])
        }
    }

    @Test("a message that is not a commit record gives a codec error naming the stream")
    func foreignMessage() async throws {
        try await withBlockingAllowed {
            let fixture = try JetStreamFixture()
            defer { fixture.close() }
            let stream = StreamName(aggregateType: "Account", aggregateID: "garbage")
            let bytes = Array("not a commit".utf8)
            let stored: Bool = await withCheckedContinuation { continuation in
                let sent = bytes.withUnsafeBytes { payload -> Bool in
                    do throws(NATSError) {
                        try fixture.events.context.publishAsync(
                            subject: "es.events.Account.garbage", payload: payload, messageID: nil,
                            expectation: .none, timeout: .seconds(2)
                        ) { outcome in
                            if case .stored = outcome {
                                continuation.resume(returning: true)
                            } else {
                                continuation.resume(returning: false)
                            }
                        }
                        return true
                    } catch {
                        return false
                    }
                }
                if !sent { continuation.resume(returning: false) }
            }
            #expect(stored)
            do throws(EventStoreError) {
                _ = try await fixture.events.read(stream: stream)
                Issue.record("read a foreign message")
            } catch {
                #expect(error.code == .codec)
                #expect(error.stream == stream)
                #expect(error.eventType == "commit record")
            }
            // An append on top of it is refused with the same error, never written blindly.
            await #expect(throws: EventStoreError.self) {
                try await fixture.events.append(to: stream, expected: .any, events: [Self.event("x")])
            }
        }
    }

    @Test("with markers, an event ID used again anywhere is refused; markers stay out of reads and the head")
    func repeatedEventIDs() async throws {
        try await withBlockingAllowed {
            let fixture = try JetStreamFixture(markers: true)
            defer { fixture.close() }
            let store = fixture.events
            let a = StreamName(aggregateType: "Account", aggregateID: "a")
            let b = StreamName(aggregateType: "Account", aggregateID: "b")
            let first = [Self.event("1"), Self.event("2"), Self.event("3")]
            let stored = try await store.append(to: a, expected: .noStream, events: first)
            // A single-event append of a stored non-first ID, and a multi-event append starting with one.
            for events in [[first[2]], [first[1], Self.event("x")]] {
                do throws(EventStoreError) {
                    _ = try await store.append(to: b, expected: .any, events: events)
                    Issue.record("appended a stored event ID")
                } catch {
                    #expect(error.code == .duplicateEventID)
                }
            }
            // A retry of the whole append still answers with the original result.
            #expect(try await store.append(to: a, expected: .noStream, events: first) == stored)
            #expect(try await store.read(stream: b).isEmpty)
            let log = try await store.readAll(from: 1, maxCount: 100)
            #expect(log.map(\.data) == first)
            #expect(try await store.headPosition() == stored.lastPosition)
        }
    }

    @Test("without markers, a retry and a repeated first ID are still caught; a consumer's lag counts events")
    func withoutMarkersAndLag() async throws {
        try await withBlockingAllowed {
            let fixture = try JetStreamFixture()
            defer { fixture.close() }
            let store = fixture.events
            let a = StreamName(aggregateType: "Account", aggregateID: "a")
            let b = StreamName(aggregateType: "Account", aggregateID: "b")
            let first = [Self.event("1"), Self.event("2"), Self.event("3")]
            let stored = try await store.append(to: a, expected: .noStream, events: first)
            #expect(try await store.append(to: a, expected: .noStream, events: first) == stored)
            for events in [[first[0]], [first[0], Self.event("x")]] {
                do throws(EventStoreError) {
                    _ = try await store.append(to: b, expected: .any, events: events)
                    Issue.record("appended a stored first event ID")
                } catch {
                    #expect(error.code == .duplicateEventID)
                }
            }
            // No marker messages: one message per append.
            let singles = [Self.event("4"), Self.event("5")]
            var last = stored
            for event in singles { last = try await store.append(to: a, expected: .any, events: [event]) }
            let pair = try await store.append(to: b, expected: .noStream, events: [Self.event("6"), Self.event("7")])
            #expect(pair.lastPosition >> 16 == stored.lastPosition >> 16 + 3)
            // Lag in events: exact within a commit, one per message after it.
            #expect(store.eventCount(after: stored.firstPosition, upTo: stored.lastPosition) == 2)
            #expect(store.eventCount(after: stored.lastPosition, upTo: last.lastPosition) == 2)
            #expect(store.eventCount(after: 0, upTo: stored.lastPosition) == 1)
            #expect(store.eventCount(after: pair.lastPosition, upTo: stored.lastPosition) == 0)
            let metrics = ConsumerMetrics(name: "lagging")
            let consumer = Consumer(
                name: "lagging", store: store, checkpoints: fixture.checkpoints, metrics: metrics
            ) { _ in }
            metrics.position.store(stored.lastPosition, ordering: .relaxed)
            metrics.head.store(pair.lastPosition, ordering: .relaxed)
            #expect(metrics.lag == 3)
            #expect(metrics.positionLag == pair.lastPosition - stored.lastPosition)
            _ = consumer
        }
    }

    @Test("a tail read of a long stream (bisected start) equals the same slice of a full read")
    func longStreamTail() async throws {
        try await withBlockingAllowed {
            let fixture = try JetStreamFixture()
            defer { fixture.close() }
            let store = fixture.events
            let stream = StreamName(aggregateType: "Long", aggregateID: "1")
            let other = StreamName(aggregateType: "Long", aggregateID: "2")
            var version: UInt64 = 0
            for index in 0..<700 {
                // Interleaved with another stream, and 1–3 events per commit, so sequences and versions differ.
                let count = 1 + index % 3
                let result = try await store.append(
                    to: stream, expected: .exact(version), events: (0..<count).map { Self.event("e\(index)-\($0)") })
                version = result.lastVersion
                _ = try await store.append(to: other, expected: .any, events: [Self.event("o\(index)")])
            }
            let all = try await store.read(stream: stream)
            #expect(all.map(\.version) == Array(1...version))
            for from in [1, 2, 500, 700, 1_000, version - 5, version] {
                let tail = try await store.read(stream: stream, from: from, maxCount: 10)
                #expect(tail == Array(all[Int(from - 1)..<min(all.count, Int(from - 1) + 10)]), "from \(from)")
            }
        }
    }
}
