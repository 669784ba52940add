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
}
