import EventSourcing
import Foundation
import GRDB
import Testing

@testable import EventStoreSQLite

/// Schema version 2 (the stream index filled in batches) and the migration from version 1.
@Suite("SQLite schema")
struct SQLiteSchemaTests {
    @Test("a version-1 file opens, is migrated to version 2 in place, and keeps its events, versions and positions")
    func migratesVersionOne() async throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        // A version-1 store as the previous code wrote it: its tables, identity and three events.
        let stored = [event("a1"), event("a2"), event("b1")]
        let rows: [(String, UInt64, Int, EventData)] = [
            ("a", 1, 2, stored[0]), ("a", 2, 0, stored[1]), ("b", 1, 1, stored[2]),
        ]
        try await DatabaseQueue(path: directory.storeFile).write { db in
            try db.execute(sql: SQLiteSchema.migrations[0])
            for (offset, (id, version, appendLength, data)) in rows.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO events (position, stream_type, stream_id, version, event_id, append_length, type, \
                        schema_version, occurred_at, payload) VALUES (?, 'Test', ?, ?, ?, ?, ?, 1, ?, ?)
                        """,
                    arguments: [
                        offset + 1, id, Int64(version), Data(data.id.bytes), appendLength, data.type,
                        data.occurredAt.nanosecondsSinceEpoch, Data(data.payload),
                    ])
            }
            try db.execute(sql: "PRAGMA application_id = \(SQLiteSchema.applicationID)")
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        let store = try SQLiteEventStore(directory: directory.path)
        #expect(try store.writerPragma("user_version") == "2")
        let a = try await store.read(stream: stream("a"))
        #expect(a.map(\.data) == [stored[0], stored[1]])
        #expect(a.map(\.position) == [1, 2])
        #expect(try await store.read(stream: stream("b")).map(\.version) == [1])
        // The old events stay retries and OCC sees their versions.
        let retried = try await store.append(to: stream("a"), expected: .noStream, events: [stored[0], stored[1]])
        #expect(retried.firstPosition == 1 && retried.lastVersion == 2)
        let next = try await store.append(to: stream("a"), expected: .exact(2), events: [event("a3")])
        #expect(next.lastVersion == 3 && next.lastPosition == 4)
        #expect(try await store.read(stream: stream("a"), from: 2).map(\.version) == [2, 3])
        store.close()
    }

    @Test("stream reads across the index's position: indexed part, tail, both, after reopening")
    func readsAcrossTheIndexBoundary() async throws {
        let directory = TemporaryDirectory()
        let batch = Int(GroupCommitWriter.streamIndexBatch)
        var expected: [String: [EventData]] = ["a": [], "b": []]
        do {
            let store = try SQLiteEventStore(directory: directory.path)
            // A stream whose only event gets indexed with the first batch.
            _ = try await store.append(to: stream("c"), expected: .noStream, events: [event("c1")])
            // Two streams interleaved, past one index batch (the index then holds the first part).
            var round = 0
            while expected["a"]!.count + expected["b"]!.count < batch + 300 {
                for id in ["a", "b"] {
                    let events = (0..<50).map { event("\(id)-\(round)-\($0)") }
                    _ = try await store.append(
                        to: stream(id), expected: .exact(UInt64(expected[id]!.count)), events: events)
                    expected[id]! += events
                }
                round += 1
            }
            try await check(store, expected)
            store.close()
        }
        let reopened = try SQLiteEventStore(directory: directory.path)
        try await check(reopened, expected)
        // OCC after reopening finds the versions in both parts.
        let result = try await reopened.append(
            to: stream("a"), expected: .exact(UInt64(expected["a"]!.count)), events: [event("last")])
        #expect(result.lastVersion == UInt64(expected["a"]!.count + 1))
        let indexedOnly = try await reopened.append(to: stream("c"), expected: .exact(1), events: [event("c2")])
        #expect(indexedOnly.lastVersion == 2)
        do {
            _ = try await reopened.append(to: stream("b"), expected: .exact(1), events: [event("stale")])
            Issue.record("a stale expected version was accepted")
        } catch {
            #expect(error.code == .conflict && error.actualVersion == UInt64(expected["b"]!.count))
        }
        reopened.close()
        // The index holds exactly the events up to its position, which is past one batch and short of the head.
        let (indexed, rows, head) = try await DatabaseQueue(path: directory.storeFile).read { db in
            (
                try Int.fetchOne(db, sql: "SELECT position FROM stream_index_state") ?? 0,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM stream_index") ?? 0,
                try Int.fetchOne(db, sql: "SELECT max(position) FROM events") ?? 0
            )
        }
        #expect(indexed >= batch && indexed < head)
        #expect(rows == indexed)
    }

    @Test(
        "a duplicate stream version (a bookkeeping bug) does not wedge the store: fills fail, are counted and named, appends commit, reopening works"
    )
    func duplicateStreamVersionDoesNotWedge() async throws {
        let directory = TemporaryDirectory()
        do {
            let store = try SQLiteEventStore(directory: directory.path)
            _ = try await store.append(to: stream("a"), expected: .noStream, events: [event("a1"), event("a2")])
            store.close()
        }
        // What a wrong cached version would commit: a second row for a's version 2 (a new event ID and position).
        try await DatabaseQueue(path: directory.storeFile).write { db in
            try db.execute(
                sql: """
                    INSERT INTO events SELECT (SELECT max(position) + 1 FROM events), stream_type, stream_id, version, \
                    randomblob(16), append_length, type, schema_version, occurred_at, correlation_id, causation_id, \
                    idempotency_key, payload FROM events WHERE stream_id = 'a' AND version = 2
                    """)
            let duplicate = try #require(try GroupCommitWriter.duplicateStreamVersion(db, after: 0))
            #expect(duplicate.stream == stream("a") && duplicate.version == 2)
            #expect(Set(duplicate.positions.split(separator: ",")) == ["2", "3"], "\(duplicate.positions)")
        }
        let metrics = EventStoreMetrics()
        var expected: [EventData] = []
        let batch = Int(GroupCommitWriter.streamIndexBatch)
        do {
            let store = try SQLiteEventStore(directory: directory.path, metrics: metrics)
            // Past two index batches: every fill attempt meets the duplicate; every append must still commit.
            while expected.count < 2 * batch + 100 {
                let events = (0..<50).map { event("b\(expected.count + $0)") }
                let result = try await store.append(
                    to: stream("b"), expected: .exact(UInt64(expected.count)), events: events)
                expected += events
                #expect(result.lastVersion == UInt64(expected.count))
            }
            #expect(metrics.streamIndexFillFailures.load(ordering: .relaxed) >= 1)
            #expect(metrics.appendFailures.load(ordering: .relaxed) == 0)
            #expect(try await store.read(stream: stream("b")).map(\.data) == expected)
            store.close()
        }
        // Reopened: version checks and reads still right, appends still commit.
        let reopened = try SQLiteEventStore(directory: directory.path)
        let next = try await reopened.append(
            to: stream("b"), expected: .exact(UInt64(expected.count)), events: [event("last")])
        #expect(next.lastVersion == UInt64(expected.count + 1))
        #expect(try await reopened.read(stream: stream("b")).count == expected.count + 1)
        reopened.close()
        let indexed = try await DatabaseQueue(path: directory.storeFile).read { db in
            try Int.fetchOne(db, sql: "SELECT position FROM stream_index_state") ?? -1
        }
        #expect(indexed == 0, "no fill can succeed while the duplicate is there")
    }

    private func check(_ store: SQLiteEventStore, _ expected: [String: [EventData]]) async throws {
        for (id, events) in expected {
            #expect(try await store.read(stream: stream(id)).map(\.data) == events)
            for from in [1, 700, events.count - 40, events.count] {
                for maxCount in [1, 37, 1000, Int.max] {
                    let read = try await store.read(stream: stream(id), from: UInt64(from), maxCount: maxCount)
                    let slice = Array(events[(from - 1)...].prefix(maxCount))
                    #expect(read.map(\.data) == slice)
                    #expect(read.map(\.version) == Array(UInt64(from)..<UInt64(from + slice.count)))
                }
            }
        }
    }
}
