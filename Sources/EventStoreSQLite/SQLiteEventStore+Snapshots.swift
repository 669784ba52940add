import EventSourcing
import Foundation
import GRDB

/// Snapshots live in the store file's `snapshots` table, one row per stream. Saves go through the group-commit
/// writer (the stale-write guard is one `INSERT … ON CONFLICT DO UPDATE … WHERE excluded.version > version`);
/// loads run on a reader connection.
extension SQLiteEventStore {
    public func saveSnapshot(
        _ snapshot: Snapshot, completion: @escaping @Sendable (Result<SnapshotSaveOutcome, EventStoreError>) -> Void
    ) {
        guard snapshot.stream.isValid, snapshot.version >= 1 else {
            metrics?.snapshotFailures.wrappingAdd(1, ordering: .relaxed)
            return completion(
                .failure(
                    EventStoreError(.invalidArgument, "invalid snapshot stream or version", stream: snapshot.stream)))
        }
        let request = WriteRequest.saveSnapshot(snapshot, completion)
        if !writer.requests.post(request) { request.fail(Self.closedError(snapshot.stream), metrics: metrics) }
    }

    public func loadSnapshot(
        stream: StreamName, completion: @escaping @Sendable (Result<Snapshot?, EventStoreError>) -> Void
    ) {
        guard stream.isValid else {
            return completion(.failure(EventStoreError(.invalidArgument, "invalid stream name", stream: stream)))
        }
        if isClosed { return completion(.failure(Self.closedError(stream))) }
        pool.asyncRead { [metrics] result in
            completion(
                Result { () throws(EventStoreError) -> Snapshot? in
                    let db = try Self.reader(result)
                    do {
                        guard
                            let row = try Row.fetchOne(
                                db,
                                sql: """
                                    SELECT version, position, schema_version, created_at, payload FROM snapshots \
                                    WHERE stream_type = ? AND stream_id = ?
                                    """,
                                arguments: [stream.aggregateType, stream.aggregateID])
                        else { return nil }
                        metrics?.snapshotLoads.wrappingAdd(1, ordering: .relaxed)
                        let payload: Data = row[4]
                        return Snapshot(
                            stream: stream, version: UInt64(bitPattern: row[0]), position: UInt64(bitPattern: row[1]),
                            schemaVersion: UInt32(truncatingIfNeeded: row[2] as Int64),
                            createdAt: EventTimestamp(nanosecondsSinceEpoch: row[3]), payload: [UInt8](payload))
                    } catch {
                        throw GroupCommitWriter.backendError(error, "snapshot load")
                    }
                })
        }
    }

    public func deleteSnapshot(
        stream: StreamName, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void
    ) {
        guard stream.isValid else {
            return completion(.failure(EventStoreError(.invalidArgument, "invalid stream name", stream: stream)))
        }
        let request = WriteRequest.deleteSnapshot(stream, completion)
        if !writer.requests.post(request) { request.fail(Self.closedError(stream), metrics: metrics) }
    }
}
