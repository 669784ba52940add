import ClstrRuntime
import EventSourcing
import GRDB
import Synchronization

import Glibc

/// The embedded durable ``EventStore`` (with its ``SnapshotStore`` and ``CheckpointStore``): one SQLite file in WAL
/// mode, `synchronous=FULL` by default, written by one group-commit writer thread.
///
/// ```swift
/// let store = try SQLiteEventStore(directory: "/var/lib/clstr")   // creates events.sqlite in it
/// let result = try await store.append(to: stream, expected: .noStream, events: [event])
/// ```
///
/// ## Writes: group commit
/// Appends (and snapshot, checkpoint and parking writes) from every thread queue to one writer thread, which takes
/// all queued writes, runs them in one transaction and commits once — one fsync for the whole batch with
/// `synchronous=FULL` — then hands the outcomes to a completion thread. A conflicting or failing append fails
/// alone; its batch neighbours commit (see ``GroupCommitWriter``). Idempotency by event ID is remembered for ever.
///
/// ## Threads
/// - Append, snapshot-save, checkpoint-save and park completions, and ``observeAppends(_:)`` callbacks, run on the
///   store's completion thread, after the commit (one thread: a slow completion delays the others but not the
///   writer).
/// - Read completions (`read`, `readAll`, snapshot and checkpoint loads, `parkedEvents`) run on one of GRDB's
///   reader queues, on reader connections that never block the writer (WAL).
/// - ``readHeadPosition(completion:)`` answers on the calling thread from the last committed position.
///
/// ## Files
/// `path` itself, SQLite's `path-wal` and `path-shm`, and `path.lock`, which the store holds with an exclusive
/// POSIX record lock while it is open: a second store (in this or another process) on the same file is refused, because the
/// writer assigns positions from its own counter. A file that is not a SQLite database, a database of another
/// application, or one with a newer schema (`PRAGMA user_version`) is refused with
/// ``EventStoreError/Code/incompatibleStorage``.
public final class SQLiteEventStore: EventStore, SnapshotStore, CheckpointStore {
    /// The database file.
    public let path: String
    public let configuration: SQLiteEventStoreConfiguration
    let pool: DatabasePool
    let writer: GroupCommitWriter
    let metrics: EventStoreMetrics?
    private let lockDescriptor: Int32
    private let closed = Atomic<Bool>(false)
    private let nextObserverID = Atomic<Int>(0)

    /// Opens (or creates) `events.sqlite` in `directory`, creating the directory if needed.
    /// - Throws: ``EventStoreError/Code/incompatibleStorage`` for a file that is not an event store of this
    ///   version; ``EventStoreError/Code/backendUnavailable`` when the file cannot be opened or is in use.
    public convenience init(
        directory: String, configuration: SQLiteEventStoreConfiguration = .init(), metrics: EventStoreMetrics? = nil
    ) throws(EventStoreError) {
        try Self.makeDirectory(directory)
        try self.init(path: directory + "/events.sqlite", configuration: configuration, metrics: metrics)
    }

    /// Opens (or creates) the store file at `path`.
    /// - Throws: as ``init(directory:configuration:metrics:)``.
    public init(
        path: String, configuration: SQLiteEventStoreConfiguration = .init(), metrics: EventStoreMetrics? = nil
    ) throws(EventStoreError) {
        self.path = path
        self.configuration = configuration
        self.metrics = metrics
        let lockDescriptor = try Self.lockFile(path + ".lock")
        self.lockDescriptor = lockDescriptor
        do {
            try Self.checkHeader(path)
            var grdb = Configuration()
            grdb.maximumReaderCount = max(1, configuration.readerCount)
            grdb.label = "EventStoreSQLite"
            grdb.busyMode = .timeout(10)
            let pageSize = configuration.pageSize
            grdb.prepareDatabase { db in
                // Before DatabasePool turns WAL on (which fixes the page size of a new file); ignored otherwise.
                if !db.configuration.readonly { try db.execute(sql: "PRAGMA page_size = \(pageSize)") }
            }
            let pool = try DatabasePool(path: path, configuration: grdb)
            let (head, indexed, tail) = try pool.writeWithoutTransaction {
                db -> (UInt64, UInt64, [StreamName: UInt64]) in
                // DatabasePool sets synchronous=NORMAL on its writer when it opens WAL; set ours afterwards.
                try db.execute(sql: "PRAGMA synchronous = \(configuration.synchronous == .full ? "FULL" : "NORMAL")")
                try db.execute(sql: "PRAGMA cache_size = -\(max(0, configuration.writerCacheKiB))")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(max(0, configuration.walAutocheckpointPages))")
                try SQLiteSchema.migrate(db, path: path)
                let head = try UInt64(Int64.fetchOne(db, sql: "SELECT max(position) FROM events") ?? 0)
                let indexed = try UInt64(Int64.fetchOne(db, sql: "SELECT position FROM stream_index_state") ?? 0)
                return (head, indexed, try GroupCommitWriter.loadTailVersions(db, after: indexed))
            }
            self.pool = pool
            writer = GroupCommitWriter(
                pool: pool, head: head, indexed: indexed, tailVersions: tail, configuration: configuration,
                metrics: metrics)
        } catch {
            Self.unlockFile(path + ".lock", lockDescriptor)
            throw Self.openError(error, path: path)
        }
        writer.start()
    }

    deinit {
        close()
    }

    // MARK: - EventStore

    public func append(
        to stream: StreamName, expected: ExpectedVersion, events: [EventData], completion: @escaping AppendCompletion
    ) {
        let start = metrics != nil ? MonotonicClock.now() : 0
        if let error = Self.validate(stream: stream, events: events) {
            metrics?.appendFailed()
            return completion(.failure(error))
        }
        let request = WriteRequest.append(
            AppendRequest(stream: stream, expected: expected, events: events, completion: completion, start: start))
        if !writer.requests.post(request) { request.fail(Self.closedError(stream), metrics: metrics) }
    }

    private static func validate(stream: StreamName, events: [EventData]) -> EventStoreError? {
        if events.isEmpty { return EventStoreError(.invalidArgument, "empty append", stream: stream) }
        if !stream.isValid { return EventStoreError(.invalidArgument, "invalid stream name", stream: stream) }
        if events.count > 1 {
            var seen = Set<EventID>(minimumCapacity: events.count)
            for event in events where !seen.insert(event.id).inserted {
                return EventStoreError(
                    .duplicateEventID, "event ID \(event.id) repeated in one append", stream: stream)
            }
        }
        return nil
    }

    public func read(stream: StreamName, from version: UInt64, maxCount: Int, completion: @escaping ReadCompletion) {
        guard maxCount >= 1 else {
            return completion(.failure(EventStoreError(.invalidArgument, "maxCount < 1", stream: stream)))
        }
        if closed.load(ordering: .relaxed) { return completion(.failure(Self.closedError(stream))) }
        pool.asyncRead { result in
            completion(
                Result { () throws(EventStoreError) in
                    let db = try Self.reader(result)
                    return try SQLiteReads.stream(db, stream: stream, from: max(version, 1), maxCount: maxCount)
                })
        }
    }

    public func readAll(from position: UInt64, maxCount: Int, completion: @escaping ReadCompletion) {
        guard maxCount >= 1 else { return completion(.failure(EventStoreError(.invalidArgument, "maxCount < 1"))) }
        if closed.load(ordering: .relaxed) { return completion(.failure(Self.closedError(nil))) }
        pool.asyncRead { result in
            completion(
                Result { () throws(EventStoreError) in
                    let db = try Self.reader(result)
                    return try SQLiteReads.all(db, from: max(position, 1), maxCount: maxCount)
                })
        }
    }

    public func readHeadPosition(completion: @escaping @Sendable (Result<UInt64, EventStoreError>) -> Void) {
        if closed.load(ordering: .relaxed) { return completion(.failure(Self.closedError(nil))) }
        // Acquiring: pairs with the writer's release after the commit.
        completion(.success(writer.head.load(ordering: .acquiring)))
    }

    public func observeAppends(_ observer: @escaping @Sendable (UInt64) -> Void) -> AppendObservation {
        // Relaxed: the number only has to be unique.
        let id = nextObserverID.wrappingAdd(1, ordering: .relaxed).oldValue
        writer.observers.withLock { $0[id] = observer }
        return AppendObservation { [writer] in
            writer.observers.withLock { _ = $0.removeValue(forKey: id) }
        }
    }

    /// Closes the store: queued writes commit and complete, later calls fail with `closed`; waits for the
    /// writer and completion threads (unless called from a completion), then closes the database and releases the
    /// lock file. Idempotent. Call it from an append completion if need be, not from a read completion (it closes
    /// the reader connections, one of which runs that completion).
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        writer.stop()
        writer.observers.withLock { $0.removeAll() }
        try? pool.close()
        Self.unlockFile(path + ".lock", lockDescriptor)
    }

    /// Reads a pragma of the writer connection (for tests and diagnostics: `synchronous`, `journal_mode`…).
    /// - Parameter name: the pragma's name (letters and `_` only).
    /// - Returns: its value as text.
    public func writerPragma(_ name: String) throws(EventStoreError) -> String? {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) })
        else { throw EventStoreError(.invalidArgument, "bad pragma name \(name)") }
        if closed.load(ordering: .relaxed) { throw Self.closedError(nil) }
        do {
            return try pool.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
        } catch {
            throw GroupCommitWriter.backendError(error, "pragma \(name)")
        }
    }

    /// The writer thread's CPU time per write request (appends, snapshot and checkpoint saves) so far, in
    /// nanoseconds (0 before the first): what one append costs the single writer, fsync wait excluded.
    public var writerCPUNanosecondsPerWrite: Double {
        // Relaxed: statistics.
        let count = writer.writerAppends.load(ordering: .relaxed)
        return count == 0 ? 0 : Double(writer.writerCPUNanoseconds.load(ordering: .relaxed)) / Double(count)
    }

    /// The writer's average batch so far: write requests per transaction it started (0 before the first).
    public var writesPerBatch: Double {
        // Relaxed: statistics.
        let batches = writer.writerBatches.load(ordering: .relaxed)
        return batches == 0 ? 0 : Double(writer.writerAppends.load(ordering: .relaxed)) / Double(batches)
    }

    // MARK: - Helpers

    var isClosed: Bool { closed.load(ordering: .relaxed) }

    static func closedError(_ stream: StreamName?) -> EventStoreError {
        EventStoreError(.closed, "store closed", stream: stream)
    }

    static func reader(_ result: Result<Database, any Error>) throws(EventStoreError) -> Database {
        switch result {
        case .success(let db): return db
        case .failure(let error): throw GroupCommitWriter.backendError(error, "no reader connection")
        }
    }

    private static func makeDirectory(_ directory: String) throws(EventStoreError) {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw EventStoreError(.backendUnavailable, "cannot create directory \(prefix): errno \(errno)")
            }
        }
    }

    /// Store files open in this process (their lock files' paths): POSIX record locks exclude other processes
    /// only.
    private static let openLockFiles = Mutex<Set<String>>([])

    /// Takes the store's lock file: a POSIX write lock (`fcntl(F_SETLK)`) against other processes, and this
    /// process's set of open stores against a second store here. A record lock, unlike `flock`, is not held by
    /// the copy of the descriptor a child process has between `fork` and `exec` (a store closed while a test
    /// spawned a process stayed locked with `flock`).
    private static func lockFile(_ path: String) throws(EventStoreError) -> Int32 {
        guard openLockFiles.withLock({ $0.insert(path).inserted }) else {
            throw EventStoreError(.backendUnavailable, "store \(path) is open in this process")
        }
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            let code = errno
            _ = openLockFiles.withLock { $0.remove(path) }
            throw EventStoreError(.backendUnavailable, "cannot open lock file \(path): errno \(code)")
        }
        var lock = Glibc.flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        if fcntl(descriptor, F_SETLK, &lock) != 0 {
            let code = errno
            Glibc.close(descriptor)
            _ = openLockFiles.withLock { $0.remove(path) }
            throw EventStoreError(
                .backendUnavailable,
                code == EAGAIN || code == EACCES
                    ? "store \(path) is open in another process" : "cannot lock \(path): errno \(code)")
        }
        return descriptor
    }

    /// Releases what ``lockFile(_:)`` took.
    private static func unlockFile(_ path: String, _ descriptor: Int32) {
        Glibc.close(descriptor)
        _ = openLockFiles.withLock { $0.remove(path) }
    }

    /// Refuses, before SQLite touches it, a non-empty file that is not a SQLite database, or one whose header
    /// says it belongs to another application or has a newer schema (the header may lag behind the WAL; the
    /// writer checks again after opening).
    private static func checkHeader(_ path: String) throws {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 { return }  // absent: SQLite creates it
        defer { Glibc.close(descriptor) }
        var header = [UInt8](repeating: 0, count: 100)
        let count = header.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, 100) }
        if count == 0 { return }  // empty: a database not yet written
        let magic = Array("SQLite format 3".utf8) + [0]
        guard count == 100, header[0..<16].elementsEqual(magic) else { throw SQLiteStoreOpenError.notADatabase(path) }
        func int32(at offset: Int) -> Int32 {
            Int32(bitPattern: header[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        let userVersion = int32(at: 60)
        let applicationID = int32(at: 68)
        if applicationID != 0 && applicationID != SQLiteSchema.applicationID {
            throw SQLiteStoreOpenError.notAnEventStore(path: path, applicationID: applicationID)
        }
        if userVersion > SQLiteSchema.version {
            throw SQLiteStoreOpenError.newerSchema(path: path, found: userVersion, supported: SQLiteSchema.version)
        }
    }

    private static func openError(_ error: any Error, path: String) -> EventStoreError {
        switch error {
        case let error as EventStoreError: return error
        case SQLiteStoreOpenError.notADatabase(let path):
            return EventStoreError(.incompatibleStorage, "\(path) is not a SQLite database")
        case SQLiteStoreOpenError.notAnEventStore(let path, let applicationID):
            return EventStoreError(
                .incompatibleStorage,
                "\(path) is a SQLite database of another application (application_id \(applicationID)), "
                    + "not an event store")
        case SQLiteStoreOpenError.newerSchema(let path, let found, let supported):
            return EventStoreError(
                .incompatibleStorage,
                "\(path) has schema version \(found), newer than this code's \(supported): upgrade the code")
        case let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT:
            return EventStoreError(
                .incompatibleStorage, "\(path) is not a usable SQLite database: \(error)",
                underlying: SendableErrorDescription(error))
        default:
            return GroupCommitWriter.backendError(error, "cannot open \(path)")
        }
    }
}
