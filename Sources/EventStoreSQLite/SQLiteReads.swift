import EventSourcing
import GRDB
import GRDBSQLite

/// The read queries, on a reader connection inside GRDB's read transaction, through the C API on GRDB's cached
/// statements (no `Row` or `Data` per event).
enum SQLiteReads {
    static let columns = """
        position, version, event_id, type, schema_version, occurred_at, correlation_id, causation_id, \
        idempotency_key, payload, stream_type, stream_id
        """
    /// A stream's events up to the stream index's position (see ``SQLiteSchema``): the index in key order, each
    /// event by its rowid.
    static let streamIndexedSQL = """
        SELECT e.position, e.version, e.event_id, e.type, e.schema_version, e.occurred_at, e.correlation_id, \
        e.causation_id, e.idempotency_key, e.payload, e.stream_type, e.stream_id \
        FROM stream_index AS i CROSS JOIN events AS e ON e.position = i.position \
        WHERE i.stream_type = ? AND i.stream_id = ? AND i.version >= ? ORDER BY i.version LIMIT ?
        """
    /// The stream's events after the stream index's position (at most one index batch of rows to scan).
    static let streamTailSQL = """
        SELECT \(columns) FROM events WHERE position > (SELECT position FROM stream_index_state) \
        AND stream_type = ? AND stream_id = ? AND version >= ? ORDER BY position LIMIT ?
        """
    static let allSQL = "SELECT \(columns) FROM events WHERE position >= ? ORDER BY position LIMIT ?"

    /// Both parts run in the caller's read transaction (GRDB's), on one snapshot of the file.
    static func stream(
        _ db: Database, stream: StreamName, from version: UInt64, maxCount: Int
    ) throws(EventStoreError) -> [RecordedEvent] {
        var events = try run(db, sql: streamIndexedSQL, stream: stream) { statement in
            SQLiteRaw.bind(statement, 1, text: stream.aggregateType)
            SQLiteRaw.bind(statement, 2, text: stream.aggregateID)
            SQLiteRaw.bind(statement, 3, version)
            SQLiteRaw.bind(statement, 4, Int64(maxCount))
        }
        guard events.count < maxCount else { return events }
        events += try run(db, sql: streamTailSQL, stream: stream) { statement in
            SQLiteRaw.bind(statement, 1, text: stream.aggregateType)
            SQLiteRaw.bind(statement, 2, text: stream.aggregateID)
            SQLiteRaw.bind(statement, 3, max(version, (events.last?.version ?? 0) + 1))
            SQLiteRaw.bind(statement, 4, Int64(maxCount - events.count))
        }
        return events
    }

    static func all(_ db: Database, from position: UInt64, maxCount: Int) throws(EventStoreError) -> [RecordedEvent] {
        try run(db, sql: allSQL, stream: nil) { statement in
            SQLiteRaw.bind(statement, 1, position)
            SQLiteRaw.bind(statement, 2, Int64(maxCount))
        }
    }

    private static func run(
        _ db: Database, sql: String, stream: StreamName?, bind: (OpaquePointer) -> Void
    ) throws(EventStoreError) -> [RecordedEvent] {
        let statement: OpaquePointer
        do {
            statement = try db.cachedStatement(sql: sql).sqliteStatement
        } catch {
            throw GroupCommitWriter.backendError(error, "read")
        }
        defer { SQLiteRaw.reset(statement) }
        bind(statement)
        var events: [RecordedEvent] = []
        var known = stream
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return events }
            guard code == SQLITE_ROW else {
                throw GroupCommitWriter.backendError(SQLiteRaw.error(code, db.sqliteConnection, sql), "read")
            }
            let position = SQLiteRaw.uint64(statement, 0)
            if known == nil || !SQLiteReads.matches(statement, known!) {
                known = StreamName(
                    aggregateType: SQLiteRaw.text(statement, 10), aggregateID: SQLiteRaw.text(statement, 11))
            }
            guard let id = SQLiteRaw.eventID(statement, 2) else {
                throw EventStoreError(
                    .incompatibleStorage, "event at position \(position) has a malformed event ID", stream: known)
            }
            events.append(
                RecordedEvent(
                    id: id.id, stream: known!, version: SQLiteRaw.uint64(statement, 1), position: position,
                    type: SQLiteRaw.text(statement, 3),
                    schemaVersion: UInt32(truncatingIfNeeded: SQLiteRaw.int64(statement, 4)),
                    occurredAt: EventTimestamp(nanosecondsSinceEpoch: SQLiteRaw.int64(statement, 5)),
                    metadata: EventMetadata(
                        correlationID: SQLiteRaw.optionalText(statement, 6),
                        causationID: SQLiteRaw.optionalText(statement, 7),
                        idempotencyKey: SQLiteRaw.optionalText(statement, 8)),
                    payload: SQLiteRaw.blob(statement, 9)))
        }
    }

    /// Whether the row's stream columns equal `stream` (saves two string allocations per event of a run).
    private static func matches(_ statement: OpaquePointer, _ stream: StreamName) -> Bool {
        equal(statement, 10, stream.aggregateType) && equal(statement, 11, stream.aggregateID)
    }

    private static func equal(_ statement: OpaquePointer, _ column: Int32, _ text: String) -> Bool {
        guard let pointer = sqlite3_column_text(statement, column) else { return text.isEmpty }
        let bytes = UnsafeBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement, column)))
        return text.utf8.elementsEqual(bytes)
    }
}
