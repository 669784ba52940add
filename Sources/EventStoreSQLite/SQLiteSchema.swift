import GRDB

/// The store's tables and their versioning.
///
/// The file is marked with `PRAGMA application_id` (``applicationID``) and versioned with `PRAGMA user_version`
/// (``version``). Opening applies the migrations from the file's version up to ``version`` in one transaction (a
/// version-1 file is migrated to 2 in place); a file with a newer version, another application's ID, or tables
/// of its own without our ID is refused.
///
/// ## Version 2: the stream index is written in batches
/// Version 1 indexed `events` by `(stream_type, stream_id, version)`: a group commit of appends to N streams then
/// rewrote N leaves of that index, one WAL page per append, 60 % of the writer's CPU. Version 2 keeps the same
/// index as the table `stream_index`, filled by the writer every ``GroupCommitWriter/streamIndexBatch`` events
/// (inside a normal write transaction, sorted by stream, so a leaf is written once per batch);
/// `stream_index_state.position` says up to which position it is filled. A stream read takes the indexed part
/// from `stream_index` and the rest from `events` after that position (a rowid range of at most one batch),
/// both in one read transaction, so a read never misses an event nor sees one twice.
enum SQLiteSchema {
    /// The schema version this code writes and reads.
    static let version: Int32 = 2
    /// `'clst'`: marks the file as an event store of this project.
    static let applicationID: Int32 = 0x636C_7374

    /// `migrations[i]` takes a file from version `i` to `i + 1`.
    static let migrations: [String] = [
        """
        CREATE TABLE events (
            position INTEGER PRIMARY KEY,
            stream_type TEXT NOT NULL,
            stream_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            event_id BLOB NOT NULL UNIQUE,
            append_length INTEGER NOT NULL,
            type TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            occurred_at INTEGER NOT NULL,
            correlation_id TEXT,
            causation_id TEXT,
            idempotency_key TEXT,
            payload BLOB NOT NULL
        );
        CREATE UNIQUE INDEX events_stream ON events (stream_type, stream_id, version);
        CREATE TABLE snapshots (
            stream_type TEXT NOT NULL,
            stream_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            position INTEGER NOT NULL,
            schema_version INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            payload BLOB NOT NULL,
            PRIMARY KEY (stream_type, stream_id)
        ) WITHOUT ROWID;
        CREATE TABLE checkpoints (
            consumer TEXT PRIMARY KEY,
            position INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE parked_events (
            consumer TEXT NOT NULL,
            position INTEGER NOT NULL,
            stream_type TEXT NOT NULL,
            stream_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            event_type TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            last_error TEXT NOT NULL,
            parked_at INTEGER NOT NULL,
            PRIMARY KEY (consumer, position)
        ) WITHOUT ROWID;
        """,
        """
        CREATE TABLE stream_index (
            stream_type TEXT NOT NULL,
            stream_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (stream_type, stream_id, version)
        ) WITHOUT ROWID;
        INSERT INTO stream_index SELECT stream_type, stream_id, version, position FROM events
            ORDER BY stream_type, stream_id, version;
        DROP INDEX events_stream;
        CREATE TABLE stream_index_state (
            id INTEGER PRIMARY KEY CHECK (id = 0),
            position INTEGER NOT NULL
        );
        INSERT INTO stream_index_state VALUES (0, (SELECT coalesce(max(position), 0) FROM events));
        """,
    ]

    /// Checks the file's identity and version and brings it to ``version`` (on the writer connection).
    /// - Throws: `incompatibleStorage` for another application's file or a newer schema.
    static func migrate(_ db: Database, path: String) throws {
        let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let userVersion = try Int32.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let tableCount = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
        if applicationID != Self.applicationID && (applicationID != 0 || userVersion != 0 || tableCount != 0) {
            throw SQLiteStoreOpenError.notAnEventStore(path: path, applicationID: applicationID)
        }
        if userVersion > version {
            throw SQLiteStoreOpenError.newerSchema(path: path, found: userVersion, supported: version)
        }
        if userVersion == version { return }
        try db.inTransaction(.immediate) {
            for step in Int(userVersion)..<Int(version) { try db.execute(sql: migrations[step]) }
            try db.execute(sql: "PRAGMA application_id = \(Self.applicationID)")
            try db.execute(sql: "PRAGMA user_version = \(version)")
            return .commit
        }
    }
}

/// Why a store file was refused at opening (turned into ``EventSourcing/EventStoreError/Code/incompatibleStorage``).
enum SQLiteStoreOpenError: Error {
    case notADatabase(String)
    case notAnEventStore(path: String, applicationID: Int32)
    case newerSchema(path: String, found: Int32, supported: Int32)
}
