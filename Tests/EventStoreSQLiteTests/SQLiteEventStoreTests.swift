import ClstrRuntime
import EventSourcing
import Foundation
import GRDB
import Testing

@testable import EventStoreSQLite

@Suite("SQLite event store")
struct SQLiteEventStoreTests {
    @Test("synchronous=FULL sticks on the writer after GRDB's DatabasePool set NORMAL; normal on request; WAL")
    func pragmas() async throws {
        let directory = TemporaryDirectory()
        do {
            let store = try SQLiteEventStore(directory: directory.path)
            #expect(try store.writerPragma("synchronous") == "2")  // FULL
            #expect(try store.writerPragma("journal_mode") == "wal")
            #expect(try store.writerPragma("cache_size") == "-65536")
            #expect(try store.writerPragma("wal_autocheckpoint") == "4000")
            _ = try await store.append(to: stream("a"), expected: .noStream, events: [event("x")])
            #expect(try store.writerPragma("synchronous") == "2")
            store.close()
        }
        let normal = try SQLiteEventStore(
            directory: directory.path, configuration: SQLiteEventStoreConfiguration(synchronous: .normal))
        #expect(try normal.writerPragma("synchronous") == "1")  // NORMAL
        #expect(try normal.writerPragma("page_size") == "4096")
        normal.close()
        let small = TemporaryDirectory()
        let smallPages = try SQLiteEventStore(
            directory: small.path, configuration: SQLiteEventStoreConfiguration(pageSize: 1024))
        #expect(try smallPages.writerPragma("page_size") == "1024")
        #expect(try smallPages.writerPragma("journal_mode") == "wal")
        smallPages.close()
    }

    @Test("appends, reads back a stream and the global log, survives reopening")
    func appendAndRead() async throws {
        let directory = TemporaryDirectory()
        let a = stream("a")
        let b = stream("b")
        let metadata = EventMetadata(correlationID: "corr", causationID: "cause", idempotencyKey: "key")
        let first = EventData(
            type: "Opened", schemaVersion: 3, occurredAt: EventTimestamp(nanosecondsSinceEpoch: 42), metadata: metadata,
            payload: [1, 2, 3])
        do {
            let store = try SQLiteEventStore(directory: directory.path)
            let r1 = try await store.append(to: a, expected: .noStream, events: [first, event("2"), event("3")])
            #expect(r1 == AppendResult(firstVersion: 1, lastVersion: 3, firstPosition: 1, lastPosition: 3))
            let r2 = try await store.append(to: b, expected: .any, events: [event("b1")])
            #expect(r2 == AppendResult(firstVersion: 1, lastVersion: 1, firstPosition: 4, lastPosition: 4))
            let r3 = try await store.append(to: a, expected: .exact(3), events: [EventData(type: "Empty", payload: [])])
            #expect(r3.firstVersion == 4 && r3.firstPosition == 5)
            #expect(try await store.headPosition() == 5)
            store.close()
        }
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let events = try await store.read(stream: a)
        #expect(events.map(\.version) == [1, 2, 3, 4])
        #expect(events.map(\.position) == [1, 2, 3, 5])
        #expect(events[0].data == first)
        #expect(events[0].stream == a)
        #expect(events[3].payload == [])
        #expect(try await store.read(stream: a, from: 3, maxCount: 1).map(\.version) == [3])
        #expect(try await store.read(stream: stream("none")).isEmpty)
        let all = try await store.readAll(from: 2, maxCount: 3)
        #expect(all.map(\.position) == [2, 3, 4])
        #expect(all.map(\.stream) == [a, a, b])
        #expect(try await store.headPosition() == 5)
        // Positions continue after reopening.
        let r4 = try await store.append(to: b, expected: .exact(1), events: [event("b2")])
        #expect(r4.firstPosition == 6)
    }

    @Test("expected versions, conflicts with the actual version, idempotent retries, duplicate IDs")
    func expectedVersionsAndIdempotency() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let s = stream("s")
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: s, expected: .exists, events: [event("x")])
        }
        let batch = [event("1"), event("2")]
        let original = try await store.append(to: s, expected: .noStream, events: batch)
        // A retry returns the original result whatever `expected` says.
        #expect(try await store.append(to: s, expected: .noStream, events: batch) == original)
        #expect(try await store.append(to: s, expected: .exact(7), events: batch) == original)
        do {
            _ = try await store.append(to: s, expected: .exact(1), events: [event("3")])
            Issue.record("expected a conflict")
        } catch {
            #expect(error.code == .conflict)
            #expect(error.actualVersion == 2)
        }
        // Partial overlap, other stream, repeated ID inside one append: duplicateEventID, nothing stored.
        for (target, events) in [
            (s, [batch[0]]), (stream("other"), batch), (s, [event("n"), batch[1]]),
        ] {
            do {
                _ = try await store.append(to: target, expected: .any, events: events)
                Issue.record("expected duplicateEventID")
            } catch {
                #expect(error.code == .duplicateEventID)
            }
        }
        let repeated = EventID.random()
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: s, expected: .any, events: [event("a", id: repeated), event("b", id: repeated)])
        }
        #expect(try await store.read(stream: s).count == 2)
        #expect(try await store.read(stream: stream("other")).isEmpty)
        #expect(try await store.headPosition() == 2)
        let next = try await store.append(to: s, expected: .exists, events: [event("3")])
        #expect(next.firstPosition == 3 && next.firstVersion == 3)
    }

    @Test("group commit: one transaction takes the queued appends; a conflicting or duplicate one fails alone")
    func groupCommitFailsAlone() async throws {
        let directory = TemporaryDirectory()
        let metrics = EventStoreMetrics()
        let store = try SQLiteEventStore(directory: directory.path, metrics: metrics)
        defer { store.close() }
        let taken = try await store.append(to: stream("taken"), expected: .noStream, events: [event("t")])
        let takenID = try await store.read(stream: stream("taken"))[0].id

        // Hold GRDB's writer connection so that the appends below queue up behind it.
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holder = DedicatedThread.start {
            store.pool.writeWithoutTransaction { _ in
                entered.signal()
                release.wait()
            }
        }
        await offPool { entered.wait() }
        let completions = Completions<AppendResult>()
        let count = 40
        for index in 0..<count {
            let expected: ExpectedVersion
            var events = [event("e\(index)"), event("f\(index)")]
            switch index {
            case 7: expected = .exact(5)  // conflict: the stream has no events
            case 13:
                expected = .any
                events = [event("dup"), event("dup2", id: takenID)]  // duplicate of a stored ID
            case 21: expected = .exists  // conflict
            default: expected = .noStream
            }
            store.append(
                to: stream("g\(index)"), expected: expected, events: events, completion: completions.callback(index))
        }
        release.signal()
        holder.join()
        let results = await completions.wait(for: count)
        for index in 0..<count {
            let result = try #require(results[index])
            switch index {
            case 7, 21:
                #expect(throws: EventStoreError.self) { try result.get() }
                if case .failure(let error) = result {
                    #expect(error.code == .conflict)
                    #expect(error.actualVersion == 0)
                }
            case 13:
                if case .failure(let error) = result {
                    #expect(error.code == .duplicateEventID)
                } else {
                    Issue.record("append 13 should fail with duplicateEventID")
                }
            default:
                let appended = try result.get()
                #expect(appended.firstVersion == 1 && appended.lastVersion == 2)
                #expect(appended.lastPosition == appended.firstPosition + 1)
            }
        }
        // The 40 appends went in at most two transactions (the writer may have taken the first one alone).
        let batches = metrics.groupCommitBatchSize.snapshot().count
        #expect(batches <= 3)  // the `taken` append's transaction + at most two
        #expect(metrics.fsyncs.load(ordering: .relaxed) == batches)
        #expect(metrics.conflicts.load(ordering: .relaxed) == 2)
        // Nothing of the failed appends is stored; positions are dense after `taken`.
        let all = try await store.readAll(from: 1, maxCount: 1000)
        #expect(all.count == 1 + (count - 3) * 2)
        #expect(all.map(\.position) == Array(1...UInt64(all.count)))
        #expect(!all.contains { $0.stream == stream("g7") || $0.stream == stream("g13") || $0.stream == stream("g21") })
        #expect(taken.firstPosition == 1)
    }

    @Test("a SQLite error on one append in a batch fails it alone: the transaction is rerun without it")
    func sqliteErrorFailsAlone() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        // A real SQLite failure for one stream: a trigger that aborts its inserts.
        try await store.pool.write { db in
            try db.execute(
                sql: """
                    CREATE TEMP TRIGGER fail_bad BEFORE INSERT ON events WHEN NEW.stream_id = 'bad'
                    BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                    """)
        }
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holder = DedicatedThread.start {
            store.pool.writeWithoutTransaction { _ in
                entered.signal()
                release.wait()
            }
        }
        _ = await offPool { entered.wait() }
        let completions = Completions<AppendResult>()
        let names = ["a", "b", "bad", "c", "d"]
        for (index, name) in names.enumerated() {
            store.append(
                to: stream(name), expected: .noStream, events: [event("1"), event("2")],
                completion: completions.callback(index))
        }
        release.signal()
        holder.join()
        let results = await completions.wait(for: names.count)
        for (index, name) in names.enumerated() {
            let result = try #require(results[index])
            if name == "bad" {
                if case .failure(let error) = result {
                    #expect(error.code == .backendUnavailable)
                } else {
                    Issue.record("the failing append succeeded")
                }
            } else {
                #expect(try result.get().lastVersion == 2)
            }
        }
        let all = try await store.readAll(from: 1, maxCount: 100)
        #expect(all.count == 8)
        #expect(all.map(\.position) == Array(1...8))
        #expect(!all.contains { $0.stream == stream("bad") })
        // The writer goes on normally.
        #expect(try await store.append(to: stream("a"), expected: .exact(2), events: [event("3")]).firstPosition == 9)
    }

    @Test("many concurrent appenders: OCC lets exactly one win each version; streams stay contiguous")
    func concurrentAppenders() async throws {
        let directory = TemporaryDirectory()
        let metrics = EventStoreMetrics()
        let store = try SQLiteEventStore(directory: directory.path, metrics: metrics)
        defer { store.close() }
        let racing = stream("race")
        let winners = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<50 {
                group.addTask {
                    (try? await store.append(to: racing, expected: .noStream, events: [event("r\(index)")])) != nil
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        // 100 appenders × 20 appends on 10 streams with `.any`, plus versions checked afterwards.
        await withTaskGroup(of: Void.self) { group in
            for appender in 0..<100 {
                group.addTask {
                    for round in 0..<20 {
                        _ = try? await store.append(
                            to: stream("s\(appender % 10)"), expected: .any,
                            events: [event("\(appender)/\(round)"), event("x")])
                    }
                }
            }
        }
        #expect(try await store.headPosition() == 1 + 100 * 20 * 2)
        for index in 0..<10 {
            let events = try await store.read(stream: stream("s\(index)"))
            #expect(events.map(\.version) == Array(1...UInt64(400)))
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.position < $1.position })
        }
        let batches = metrics.groupCommitBatchSize.snapshot().count
        #expect(batches < 2000 + 50)  // group commit took several appends per transaction
        #expect(metrics.appends.load(ordering: .relaxed) == 2001)
    }

    @Test("observers are called after commits with the head; cancelled observers are not")
    func observers() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let (heads, continuation) = AsyncStream.makeStream(of: UInt64.self)
        let observation = store.observeAppends { continuation.yield($0) }
        _ = try await store.append(to: stream("o"), expected: .any, events: [event("1"), event("2")])
        var iterator = heads.makeAsyncIterator()
        #expect(await iterator.next() == 2)
        observation.cancel()
        continuation.finish()
    }

    @Test("snapshots: stale-write guard, load, delete; checkpoints and parked events")
    func snapshotsAndCheckpoints() async throws {
        let directory = TemporaryDirectory()
        let s = stream("snap")
        do {
            let store = try SQLiteEventStore(directory: directory.path)
            #expect(try await store.load(stream: s) == nil)
            #expect(try await store.save(Snapshot(stream: s, version: 5, position: 9, payload: [5])) == .saved)
            #expect(try await store.save(Snapshot(stream: s, version: 5, payload: [6])) == .stale)
            #expect(try await store.save(Snapshot(stream: s, version: 3, payload: [3])) == .stale)
            #expect(
                try await store.save(Snapshot(stream: s, version: 8, schemaVersion: 2, payload: [8])) == .saved)
            #expect(try await checkpoint(store, "proj") == nil)
            try await saveCheckpoint(store, "proj", 41)
            try await saveCheckpoint(store, "proj", 42)
            let parked = ParkedEvent(
                consumer: "proj", position: 7, stream: s, version: 2, eventType: "T", attempts: 5, lastError: "boom",
                parkedAt: EventTimestamp(nanosecondsSinceEpoch: 1))
            try await park(store, parked)
            store.close()
        }
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let loaded = try #require(try await store.load(stream: s))
        #expect(loaded.version == 8 && loaded.schemaVersion == 2 && loaded.payload == [8])
        #expect(try await checkpoint(store, "proj") == 42)
        let parked = try await parkedEvents(store, "proj")
        #expect(parked.map(\.position) == [7] && parked.first?.lastError == "boom")
        try await store.delete(stream: s)
        #expect(try await store.load(stream: s) == nil)
    }

    @Test("a store file that is not a database, another application's database, a newer schema: refused")
    func refusesForeignFiles() async throws {
        let directory = TemporaryDirectory()
        try Array("this is not a database, just some text that is long enough ".utf8).withUnsafeBytes {
            try Data($0).write(to: URL(fileURLWithPath: directory.storeFile))
        }
        #expect { try SQLiteEventStore(directory: directory.path) } throws: { error in
            (error as? EventStoreError)?.code == .incompatibleStorage
                && "\(error)".contains("not a SQLite database")
        }

        let foreign = TemporaryDirectory()
        try await DatabaseQueue(path: foreign.storeFile).write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        #expect { try SQLiteEventStore(directory: foreign.path) } throws: { error in
            (error as? EventStoreError)?.code == .incompatibleStorage && "\(error)".contains("another application")
        }

        let newer = TemporaryDirectory()
        try SQLiteEventStore(directory: newer.path).close()
        try await DatabaseQueue(path: newer.storeFile).write { db in try db.execute(sql: "PRAGMA user_version = 99") }
        #expect { try SQLiteEventStore(directory: newer.path) } throws: { error in
            (error as? EventStoreError)?.code == .incompatibleStorage && "\(error)".contains("schema version 99")
        }
    }

    @Test("a second store on an open file is refused; closing releases it; calls after close fail with closed")
    func exclusiveAndClosed() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        #expect { try SQLiteEventStore(directory: directory.path) } throws: { error in
            (error as? EventStoreError)?.code == .backendUnavailable
        }
        store.close()
        store.close()
        do {
            _ = try await store.append(to: stream("x"), expected: .any, events: [event("x")])
            Issue.record("append after close")
        } catch {
            #expect(error.code == .closed)
        }
        let reopened = try SQLiteEventStore(directory: directory.path)
        reopened.close()
    }

    struct Known: DomainEvent, Codable {
        static let eventType = "Known"
        var value: Int
    }

    @Test(
        "an unknown event type or an undecodable payload read back gives the codec error naming stream, version, type")
    func codecErrors() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        var codec = EventCodec<Known> { $0 }
        codec.register(Known.self) { $0 }
        let s = stream("c")
        _ = try await store.append(
            to: s, expected: .noStream,
            events: [
                try codec.encode(Known(value: 1)), EventData(type: "Vanished", payload: [1]),
                EventData(type: "Known", payload: Array("{not json".utf8)),
            ])
        let records = try await store.read(stream: s)
        #expect(try codec.decode(records[0]).value == 1)
        for (record, type) in [(records[1], "Vanished"), (records[2], "Known")] {
            do {
                _ = try codec.decode(record)
                Issue.record("decoded \(type)")
            } catch {
                #expect(error.code == .codec)
                #expect(error.stream == s && error.version == record.version && error.eventType == type)
            }
        }
    }

    @Test("the GRDB statement path stores the same as the C API path")
    func grdbWriterPath() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteEventStore(
            directory: directory.path, configuration: SQLiteEventStoreConfiguration(writerStatements: .grdb))
        defer { store.close() }
        let data = [event("1"), EventData(type: "M", metadata: EventMetadata(correlationID: "c"), payload: [])]
        let result = try await store.append(to: stream("g"), expected: .noStream, events: data)
        #expect(result.lastVersion == 2)
        #expect(try await store.read(stream: stream("g")).map(\.data) == data)
        #expect(try await store.append(to: stream("g"), expected: .exact(0), events: data) == result)
    }

    @Test("time-ordered event IDs sort by creation across milliseconds and carry the UUID v7 bits")
    func timeOrderedIDs() async throws {
        let first = EventID.timeOrdered()
        _ = await offPool { usleep(2_000) }
        let second = EventID.timeOrdered()
        #expect(first < second)
        #expect(first.high & 0xF000 == 0x7000 && first.low >> 62 == 0b10)
        #expect(first != EventID.timeOrdered())
    }
}
