import EventSourcing
import Foundation
import GRDB
import GRDBSQLite

/// The two statements on the group-commit writer's hot path: a stream's current version and an event insert.
///
/// Two implementations run on the same connection and the same prepared statements, for the GRDB-versus-
/// C-API measurement: ``CWriterStatements`` calls `sqlite3_bind_*` / `sqlite3_step` / `sqlite3_reset` itself;
/// ``GRDBWriterStatements`` goes through GRDB's `StatementArguments`.
protocol WriterStatements {
    /// The version of `stream`'s last indexed event (0 when it has none): its version when it has no event after
    /// the stream index's position (the writer knows those streams, see ``GroupCommitWriter``).
    func indexedStreamVersion(_ stream: StreamName) throws -> UInt64
    /// Inserts one event.
    /// - Returns: `false` when a uniqueness constraint refused the row (nothing inserted).
    func insert(
        position: UInt64, stream: StreamName, version: UInt64, appendLength: Int, event: EventData
    ) throws -> Bool
}

enum WriterSQL {
    static let streamVersion = "SELECT max(version) FROM stream_index WHERE stream_type = ? AND stream_id = ?"
    static let insert = """
        INSERT INTO events (position, stream_type, stream_id, version, event_id, append_length, type, \
        schema_version, occurred_at, correlation_id, causation_id, idempotency_key, payload) \
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
}

/// The C API on GRDB's cached statements.
struct CWriterStatements: WriterStatements {
    let connection: OpaquePointer
    let versionStatement: OpaquePointer
    let insertStatement: OpaquePointer

    init(_ db: Database) throws {
        connection = db.sqliteConnection!
        versionStatement = try db.cachedStatement(sql: WriterSQL.streamVersion).sqliteStatement
        insertStatement = try db.cachedStatement(sql: WriterSQL.insert).sqliteStatement
    }

    func indexedStreamVersion(_ stream: StreamName) throws -> UInt64 {
        let statement = versionStatement
        defer { SQLiteRaw.reset(statement) }
        SQLiteRaw.bind(statement, 1, text: stream.aggregateType)
        SQLiteRaw.bind(statement, 2, text: stream.aggregateID)
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return SQLiteRaw.uint64(statement, 0)
        case SQLITE_DONE: return 0
        case let code: throw SQLiteRaw.error(code, connection, WriterSQL.streamVersion)
        }
    }

    func insert(
        position: UInt64, stream: StreamName, version: UInt64, appendLength: Int, event: EventData
    ) throws -> Bool {
        let statement = insertStatement
        defer { SQLiteRaw.reset(statement) }
        SQLiteRaw.bind(statement, 1, position)
        SQLiteRaw.bind(statement, 2, text: stream.aggregateType)
        SQLiteRaw.bind(statement, 3, text: stream.aggregateID)
        SQLiteRaw.bind(statement, 4, version)
        SQLiteRaw.bind(statement, 5, id: EventIDBytes(event.id))
        SQLiteRaw.bind(statement, 6, Int64(appendLength))
        SQLiteRaw.bind(statement, 7, text: event.type)
        SQLiteRaw.bind(statement, 8, Int64(event.schemaVersion))
        SQLiteRaw.bind(statement, 9, event.occurredAt.nanosecondsSinceEpoch)
        SQLiteRaw.bind(statement, 10, optionalText: event.metadata.correlationID)
        SQLiteRaw.bind(statement, 11, optionalText: event.metadata.causationID)
        SQLiteRaw.bind(statement, 12, optionalText: event.metadata.idempotencyKey)
        SQLiteRaw.bind(statement, 13, blob: event.payload)
        let code = sqlite3_step(statement)
        if code == SQLITE_DONE { return true }
        if code & 0xFF == SQLITE_CONSTRAINT { return false }
        throw SQLiteRaw.error(code, connection, WriterSQL.insert)
    }
}

/// GRDB's statement API on the same cached statements.
struct GRDBWriterStatements: WriterStatements {
    let versionStatement: Statement
    let insertStatement: Statement

    init(_ db: Database) throws {
        versionStatement = try db.cachedStatement(sql: WriterSQL.streamVersion)
        insertStatement = try db.cachedStatement(sql: WriterSQL.insert)
    }

    func indexedStreamVersion(_ stream: StreamName) throws -> UInt64 {
        let version = try Int64.fetchOne(versionStatement, arguments: [stream.aggregateType, stream.aggregateID])
        return version.map { UInt64(bitPattern: $0) } ?? 0
    }

    func insert(
        position: UInt64, stream: StreamName, version: UInt64, appendLength: Int, event: EventData
    ) throws -> Bool {
        let arguments: StatementArguments = [
            Int64(bitPattern: position), stream.aggregateType, stream.aggregateID, Int64(bitPattern: version),
            Data(event.id.bytes), appendLength, event.type, Int64(event.schemaVersion),
            event.occurredAt.nanosecondsSinceEpoch, event.metadata.correlationID, event.metadata.causationID,
            event.metadata.idempotencyKey, Data(event.payload),
        ]
        do {
            try insertStatement.execute(arguments: arguments)
            return true
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            return false
        }
    }
}
