import ClstrRuntime
import EventSourcing
import Foundation
import GRDB
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A stream index fill failed and took the transaction with it (SQLite rolled it back).
struct StreamIndexFillError: Error, CustomStringConvertible {
    var underlying: any Error
    var description: String { "\(underlying)" }
}

/// One write queued for the group-commit writer.
enum WriteRequest: Sendable {
    case append(AppendRequest)
    case saveSnapshot(Snapshot, @Sendable (Result<SnapshotSaveOutcome, EventStoreError>) -> Void)
    case deleteSnapshot(StreamName, @Sendable (Result<Void, EventStoreError>) -> Void)
    case saveCheckpoint(consumer: String, position: UInt64, @Sendable (Result<Void, EventStoreError>) -> Void)
    case park(ParkedEvent, @Sendable (Result<Void, EventStoreError>) -> Void)

    /// Completes the request with `error` (the store is closed, or its transaction failed).
    func fail(_ error: EventStoreError, metrics: EventStoreMetrics?) {
        switch self {
        case .append(let request):
            metrics?.appendFailed()
            request.completion(.failure(error))
        case .saveSnapshot(_, let completion):
            metrics?.snapshotFailures.wrappingAdd(1, ordering: .relaxed)
            completion(.failure(error))
        case .deleteSnapshot(_, let completion): completion(.failure(error))
        case .saveCheckpoint(_, _, let completion): completion(.failure(error))
        case .park(_, let completion): completion(.failure(error))
        }
    }
}

struct AppendRequest: Sendable {
    var stream: StreamName
    var expected: ExpectedVersion
    var events: [EventData]
    var completion: AppendCompletion
    /// `MonotonicClock.now()` at the call (0 without metrics).
    var start: UInt64
}

/// What the writer did with one request.
enum WriteOutcome: Sendable {
    case appended(AppendResult)
    case replayed(AppendResult)
    case snapshot(SnapshotSaveOutcome)
    case done
    case failed(EventStoreError)
}

/// A committed (or failed) transaction's requests and outcomes, handed to the completion thread.
struct CompletedBatch: Sendable {
    var requests: [WriteRequest]
    var outcomes: [WriteOutcome]
    /// The committed head after the transaction, when it stored events.
    var newHead: UInt64?
}

/// The one writer of a store file: a dedicated thread that takes every queued write, runs them in one
/// transaction, commits (one fsync with `synchronous=FULL`), and hands the outcomes to a second thread that calls
/// the completions and the append observers.
///
/// ## Failures stay with their request
/// A conflicting append (OCC), a duplicate event ID or a stale snapshot is an outcome, not an error: the writer
/// checks versions before inserting, so such a request stores nothing and its batch neighbours commit normally.
/// An event insert refused by a uniqueness constraint half-way through a multi-event append is undone by deleting
/// the append's rows (they are the last rows of the transaction). A SQLite error on a request (disk full, I/O
/// error) rolls the transaction back, fails that request with `backendUnavailable`, and runs the others again in
/// a new transaction. A failed `COMMIT` fails the whole batch with `outcomeUnknown` (the WAL frames may or may not
/// have reached the disk; a retry with the same event IDs is safe).
///
/// ## Positions
/// The writer assigns positions itself (`nextPosition`, the integer primary key): consecutive within an append,
/// increasing in commit order. It is the only writer of the file (the store holds an exclusive lock file).
///
/// ## Threads
/// Completions and observers run on the completion thread, not on the writer: the writer starts the next
/// transaction (and its fsync) while the previous batch's callers are being answered.
final class GroupCommitWriter: @unchecked Sendable {
    // @unchecked Sendable: `nextPosition` is only touched by the writer thread (inside GRDB write closures it
    // runs); everything else is immutable, atomic, or a thread-safe queue / pool.
    let pool: DatabasePool
    let requests = BlockingQueue<WriteRequest>()
    let completed = BlockingQueue<CompletedBatch>()
    let metrics: EventStoreMetrics?
    let configuration: SQLiteEventStoreConfiguration
    /// The position of the last committed event.
    let head: Atomic<UInt64>
    /// CPU time the writer thread spent running batches (statements, commits, fsync system time), and the
    /// appends it ran: the writer's cost per append, which bounds the store's throughput when the disk does not.
    let writerCPUNanoseconds = Atomic<UInt64>(0)
    let writerAppends = Atomic<Int>(0)
    /// Batches the writer took (one transaction each unless a request failed).
    let writerBatches = Atomic<Int>(0)
    let observers: Locked<[Int: @Sendable (UInt64) -> Void]>
    private var nextPosition: UInt64
    /// The position up to which `stream_index` is filled (see ``SQLiteSchema``); writer thread only.
    private var indexedThrough: UInt64
    /// After a failed fill: the head position before which no fill is tried again (the gap doubles with each
    /// failure, so a fill that keeps failing does not scan the growing tail at every commit); writer thread only.
    private var nextFillAttempt: UInt64 = 0
    private var fillFailures: UInt64 = 0
    /// The stream index is filled once this many events are past ``indexedThrough``: larger batches write each
    /// index leaf less often, smaller ones leave stream reads and version lookups fewer rows to scan.
    static let streamIndexBatch: UInt64 = 2048
    /// Stream versions as the writer's connection sees them (committed, or written by the open transaction), so
    /// that an append skips the version query of a stream it knows. Exact because the writer is the file's only
    /// writer; cleared whenever a transaction rolls back, and when it outgrows ``versionCacheLimit``.
    private var versionCache: [StreamName: UInt64] = [:]
    static let versionCacheLimit = 100_000
    /// The last version of every stream with events after ``indexedThrough`` (committed or written by the open
    /// transaction): complete, so that a version lookup that misses ``versionCache`` needs only the stream index
    /// for the other streams, never a scan of the unindexed events. Emptied when the index is filled; a rolled
    /// back transaction's changes are undone from ``tailUndo`` and ``tailBeforeFill`` (no copy per transaction).
    private var tailVersions: [StreamName: UInt64]
    /// The open transaction's changes to ``tailVersions``: each stream with its value before.
    private var tailUndo: [(StreamName, UInt64?)] = []
    /// ``tailVersions`` as it was before the open transaction filled the stream index.
    private var tailBeforeFill: [StreamName: UInt64]?
    private var writerThread: DedicatedThread?
    private var completionThread: DedicatedThread?

    init(
        pool: DatabasePool, head: UInt64, indexed: UInt64, tailVersions: [StreamName: UInt64],
        configuration: SQLiteEventStoreConfiguration, metrics: EventStoreMetrics?
    ) {
        self.tailVersions = tailVersions
        self.pool = pool
        self.head = Atomic(head)
        self.nextPosition = head + 1
        self.indexedThrough = indexed
        self.configuration = configuration
        self.metrics = metrics
        self.observers = Locked([:])
    }

    /// Starts the writer and completion threads.
    func start() {
        writerThread = DedicatedThread.start { [self] in runWriter() }
        completionThread = DedicatedThread.start { [self] in runCompletions() }
    }

    /// Whether the caller runs on the completion thread (a completion that closes the store).
    var isCompletionThread: Bool { completionThread?.isCurrent ?? false }

    /// Stops accepting writes, lets the queued ones finish, and waits for both threads (unless called from the
    /// completion thread, which then finishes on its own after the current callback).
    func stop() {
        requests.close()
        writerThread?.join()
        if !isCompletionThread { completionThread?.join() }
    }

    // MARK: - Writer thread

    private func runWriter() {
        var batch: [WriteRequest] = []
        let limit = max(1, configuration.maxWritesPerTransaction)
        while requests.take(into: &batch, limit: limit) {
            let cpuStart = Self.threadCPUTime()
            let outcomes = process(batch)
            // Relaxed: statistics read by diagnostics, no ordering with anything else.
            writerCPUNanoseconds.wrappingAdd(Self.threadCPUTime() &- cpuStart, ordering: .relaxed)
            writerAppends.wrappingAdd(batch.count, ordering: .relaxed)
            writerBatches.wrappingAdd(1, ordering: .relaxed)
            // Hold the next batch until the completion thread has answered this one: completions that issue the
            // next append (an actor's next command) then share one transaction and one fsync instead of the
            // first few of them starting a small transaction of their own.
            requests.hold()
            _ = completed.post(CompletedBatch(requests: batch, outcomes: outcomes.outcomes, newHead: outcomes.newHead))
            batch = []
        }
        completed.close()
    }

    /// Runs `batch` in as few transactions as failures allow (one when nothing fails).
    private func process(_ batch: [WriteRequest]) -> (outcomes: [WriteOutcome], newHead: UInt64?) {
        var outcomes = [WriteOutcome?](repeating: nil, count: batch.count)
        var pending = Array(batch.indices)
        var newHead: UInt64?
        if versionCache.count > Self.versionCacheLimit { versionCache.removeAll() }
        while !pending.isEmpty {
            let startPosition = nextPosition
            let startIndexed = indexedThrough
            tailUndo.removeAll(keepingCapacity: true)
            tailBeforeFill = nil
            do {
                try pool.writeWithoutTransaction { db in
                    let changesBefore = db.totalChangesCount
                    try db.beginTransaction(.immediate)
                    let statements: any WriterStatements =
                        switch configuration.writerStatements {
                        case .sqliteC: try CWriterStatements(db)
                        case .grdb: try GRDBWriterStatements(db)
                        }
                    for (offset, index) in pending.enumerated() {
                        do {
                            outcomes[index] = try execute(batch[index], db: db, statements: statements)
                        } catch {
                            // A SQLite error on this request: undo the transaction, fail it alone, run the others
                            // again.
                            try? db.rollback()
                            rewind(to: startPosition, indexed: startIndexed)
                            outcomes[index] = .failed(Self.backendError(error, "write failed"))
                            pending.remove(at: offset)
                            for other in pending { outcomes[other] = nil }
                            return
                        }
                    }
                    do {
                        try fillStreamIndex(db)
                    } catch {
                        // The fill's savepoint is undone: commit the batch without it (reads and version checks
                        // use the unindexed tail, which stays complete). Only an error that ended the whole
                        // transaction fails the batch.
                        guard db.isInsideTransaction else { throw StreamIndexFillError(underlying: error) }
                        streamIndexFillFailed(error, db)
                    }
                    do {
                        try db.commit()
                    } catch {
                        try? db.rollback()
                        rewind(to: startPosition, indexed: startIndexed)
                        let failure = EventStoreError(
                            .outcomeUnknown, "commit failed: \(error)", underlying: SendableErrorDescription(error))
                        for index in pending { outcomes[index] = .failed(failure) }
                        pending = []
                        return
                    }
                    let appends = pending.count { if case .append = batch[$0] { true } else { false } }
                    if appends > 0 { metrics?.groupCommitted(appends: appends) }
                    // A commit that changed rows appends WAL frames and, with FULL, fsyncs the WAL once (an
                    // empty one writes nothing). Checkpoints (every ~1000 pages) fsync the database file as well.
                    if configuration.synchronous == .full && db.totalChangesCount != changesBefore {
                        metrics?.fsynced()
                    }
                    if nextPosition != startPosition {
                        // Relaxed would do for readers of the number alone; release orders it after the commit for
                        // a reader that then queries the database (which synchronizes through SQLite's own locks
                        // anyway).
                        head.store(nextPosition - 1, ordering: .releasing)
                        newHead = nextPosition - 1
                    }
                    pending = []
                }
            } catch {
                // BEGIN or the statements' preparation failed, or a stream index fill error ended the transaction
                // (or the pool is closed): nothing was written. Leave no transaction open for the next batch.
                try? pool.writeWithoutTransaction { db in if db.isInsideTransaction { try db.rollback() } }
                rewind(to: startPosition, indexed: startIndexed)
                let failure =
                    error is StreamIndexFillError
                    ? Self.backendError(error, "the stream index fill ended the transaction")
                    : Self.backendError(error, "could not start a transaction")
                for index in pending { outcomes[index] = .failed(failure) }
                pending = []
            }
        }
        return (outcomes.map { $0! }, newHead)
    }

    /// Inside the batch's transaction: once ``streamIndexBatch`` events are past ``indexedThrough``, indexes them
    /// (sorted by stream, so that each index leaf is written once) and moves the index's position (a rollback
    /// undoes both, and the caller restores ``indexedThrough``). Both statements run in a savepoint: when one
    /// fails, neither is kept, and the transaction can still commit the batch's appends.
    private func fillStreamIndex(_ db: Database) throws {
        let last = nextPosition - 1
        guard last >= indexedThrough + Self.streamIndexBatch, last >= nextFillAttempt else { return }
        try db.inSavepoint {
            try db.execute(
                sql: """
                    INSERT INTO stream_index SELECT stream_type, stream_id, version, position FROM events \
                    WHERE position > ? ORDER BY stream_type, stream_id, version
                    """,
                arguments: [Int64(bitPattern: indexedThrough)])
            try db.execute(sql: "UPDATE stream_index_state SET position = ?", arguments: [Int64(bitPattern: last)])
            return .commit
        }
        indexedThrough = last
        tailBeforeFill = tailVersions
        tailVersions = [:]
        fillFailures = 0
        nextFillAttempt = 0
    }

    /// A fill failed and was undone: counts and logs it (naming the duplicate stream version when that is the
    /// cause, which only a bug in the version bookkeeping can commit), and puts the next try off.
    private func streamIndexFillFailed(_ error: any Error, _ db: Database) {
        metrics?.streamIndexFillFailures.wrappingAdd(1, ordering: .relaxed)
        fillFailures += 1
        let last = nextPosition - 1
        nextFillAttempt = last + Self.streamIndexBatch << min(fillFailures, 20)
        var metadata: Logger.Metadata = [
            "error": "\(error)", "indexedThrough": "\(indexedThrough)", "head": "\(last)",
            "nextAttemptAt": "\(nextFillAttempt)",
        ]
        if let duplicate = try? Self.duplicateStreamVersion(db, after: indexedThrough) {
            metadata["stream"] = "\(duplicate.stream)"
            metadata["version"] = "\(duplicate.version)"
            metadata["positions"] = "\(duplicate.positions)"
        }
        configuration.logger.info(
            "stream index fill failed; the appends committed without it (a duplicate stream version is a bug)",
            metadata: metadata)
    }

    /// A stream version stored twice among the events after `indexed`, or stored there and in the index.
    static func duplicateStreamVersion(
        _ db: Database, after indexed: UInt64
    ) throws -> (stream: StreamName, version: UInt64, positions: String)? {
        let tail = try Row.fetchOne(
            db,
            sql: """
                SELECT stream_type, stream_id, version, group_concat(position) FROM events WHERE position > ? \
                GROUP BY stream_type, stream_id, version HAVING count(*) > 1 LIMIT 1
                """,
            arguments: [Int64(bitPattern: indexed)])
        let both =
            try tail
            ?? Row.fetchOne(
                db,
                sql: """
                    SELECT e.stream_type, e.stream_id, e.version, s.position || ',' || e.position FROM events e \
                    JOIN stream_index s ON s.stream_type = e.stream_type AND s.stream_id = e.stream_id \
                    AND s.version = e.version WHERE e.position > ? LIMIT 1
                    """,
                arguments: [Int64(bitPattern: indexed)])
        guard let row = both else { return nil }
        let version: Int64 = row[2]
        return (StreamName(aggregateType: row[0], aggregateID: row[1]), UInt64(bitPattern: version), row[3])
    }

    /// Forgets what a rolled-back transaction changed in memory: the next position, the index's fill mark, the tail
    /// versions, and the version cache (it may hold versions the rollback took back).
    private func rewind(to position: UInt64, indexed: UInt64) {
        nextPosition = position
        indexedThrough = indexed
        undoTailVersions()
        versionCache.removeAll()
    }

    /// Undoes the rolled-back transaction's changes to ``tailVersions``.
    private func undoTailVersions() {
        if let before = tailBeforeFill { tailVersions = before }
        for (stream, version) in tailUndo.reversed() { tailVersions[stream] = version }
        tailUndo.removeAll(keepingCapacity: true)
        tailBeforeFill = nil
    }

    /// The last version of each stream with events after `indexed` (for ``tailVersions`` at opening).
    static func loadTailVersions(_ db: Database, after indexed: UInt64) throws -> [StreamName: UInt64] {
        var versions: [StreamName: UInt64] = [:]
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT stream_type, stream_id, max(version) FROM events WHERE position > ? \
                GROUP BY stream_type, stream_id
                """,
            arguments: [Int64(bitPattern: indexed)])
        while let row = try rows.next() {
            let version: Int64 = row[2]
            versions[StreamName(aggregateType: row[0], aggregateID: row[1])] = UInt64(bitPattern: version)
        }
        return versions
    }

    /// The calling thread's CPU time in nanoseconds.
    static func threadCPUTime() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    static func backendError(_ error: any Error, _ context: String) -> EventStoreError {
        EventStoreError(.backendUnavailable, "\(context): \(error)", underlying: SendableErrorDescription(error))
    }

    private func execute(
        _ request: WriteRequest, db: Database, statements: any WriterStatements
    ) throws
        -> WriteOutcome
    {
        switch request {
        case .append(let append):
            return try executeAppend(append, db: db, statements: statements)
        case .saveSnapshot(let snapshot, _):
            try db.execute(
                sql: """
                    INSERT INTO snapshots (stream_type, stream_id, version, position, schema_version, created_at, \
                    payload) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (stream_type, stream_id) DO UPDATE SET version = excluded.version,
                    position = excluded.position, schema_version = excluded.schema_version,
                    created_at = excluded.created_at, payload = excluded.payload
                    WHERE excluded.version > snapshots.version
                    """,
                arguments: [
                    snapshot.stream.aggregateType, snapshot.stream.aggregateID, Int64(bitPattern: snapshot.version),
                    Int64(bitPattern: snapshot.position), Int64(snapshot.schemaVersion),
                    snapshot.createdAt.nanosecondsSinceEpoch, Data(snapshot.payload),
                ])
            return .snapshot(db.changesCount > 0 ? .saved : .stale)
        case .deleteSnapshot(let stream, _):
            try db.execute(
                sql: "DELETE FROM snapshots WHERE stream_type = ? AND stream_id = ?",
                arguments: [stream.aggregateType, stream.aggregateID])
            return .done
        case .saveCheckpoint(let consumer, let position, _):
            try db.execute(
                sql: """
                    INSERT INTO checkpoints (consumer, position) VALUES (?, ?)
                    ON CONFLICT (consumer) DO UPDATE SET position = excluded.position
                    """,
                arguments: [consumer, Int64(bitPattern: position)])
            return .done
        case .park(let event, _):
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO parked_events (consumer, position, stream_type, stream_id, version, \
                    event_type, attempts, last_error, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    event.consumer, Int64(bitPattern: event.position), event.stream.aggregateType,
                    event.stream.aggregateID, Int64(bitPattern: event.version), event.eventType, event.attempts,
                    event.lastError, event.parkedAt.nanosecondsSinceEpoch,
                ])
            return .done
        }
    }

    /// One append inside the batch's transaction: the expected-version check, then the inserts.
    private func executeAppend(
        _ request: AppendRequest, db: Database, statements: any WriterStatements
    ) throws
        -> WriteOutcome
    {
        let stream = request.stream
        let events = request.events
        let current: UInt64
        if let known = versionCache[stream] {
            current = known
        } else {
            // A stream with unindexed events is in `tailVersions` (complete); any other is in the index alone.
            current = try tailVersions[stream] ?? statements.indexedStreamVersion(stream)
            versionCache[stream] = current
        }
        if !request.expected.isSatisfied(by: current) {
            // A retry is answered whatever `expected` says; a reused ID is reported before the conflict.
            if let outcome = try storedIDOutcome(request, db: db) { return outcome }
            for event in events.dropFirst() where try idIsStored(event.id, db: db) {
                return .failed(Self.duplicate(event.id, stream))
            }
            return .failed(.conflict(stream: stream, expected: request.expected, actual: current))
        }
        let firstPosition = nextPosition
        for (offset, event) in events.enumerated() {
            let inserted = try statements.insert(
                position: nextPosition, stream: stream, version: current + UInt64(offset) + 1,
                appendLength: offset == 0 ? events.count : 0, event: event)
            if !inserted {
                if offset > 0 {
                    // Undo this append's rows: they are the transaction's last ones.
                    try db.execute(
                        sql: "DELETE FROM events WHERE position >= ?", arguments: [Int64(bitPattern: firstPosition)])
                }
                nextPosition = firstPosition
                if offset == 0, let outcome = try storedIDOutcome(request, db: db) { return outcome }
                if try idIsStored(event.id, db: db) { return .failed(Self.duplicate(event.id, stream)) }
                throw DatabaseError(
                    resultCode: .SQLITE_CONSTRAINT,
                    message: "unexpected constraint failure at \(stream) version \(current + UInt64(offset) + 1)")
            }
            nextPosition += 1
        }
        versionCache[stream] = current + UInt64(events.count)
        tailUndo.append((stream, tailVersions[stream]))
        tailVersions[stream] = current + UInt64(events.count)
        return .appended(
            AppendResult(
                firstVersion: current + 1, lastVersion: current + UInt64(events.count), firstPosition: firstPosition,
                lastPosition: nextPosition - 1))
    }

    /// When the append's first event ID is stored: the original result if this append is a retry of the one that
    /// stored it, else `duplicateEventID`; `nil` when the ID is not stored.
    private func storedIDOutcome(_ request: AppendRequest, db: Database) throws -> WriteOutcome? {
        let events = request.events
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT position, stream_type, stream_id, version, append_length FROM events WHERE event_id = ?
                    """,
                arguments: [Data(events[0].id.bytes)])
        else { return nil }
        let position: Int64 = row[0]
        let version: Int64 = row[3]
        let appendLength: Int = row[4]
        guard row[1] == request.stream.aggregateType, row[2] == request.stream.aggregateID,
            appendLength == events.count
        else { return .failed(Self.duplicate(events[0].id, request.stream, retry: false)) }
        let rows = try Row.fetchAll(
            db, sql: "SELECT position, event_id FROM events WHERE position >= ? ORDER BY position LIMIT ?",
            arguments: [position, events.count])
        guard rows.count == events.count else {
            return .failed(Self.duplicate(events[0].id, request.stream, retry: false))
        }
        for (event, row) in zip(events, rows) where (row[1] as Data) != Data(event.id.bytes) {
            return .failed(Self.duplicate(events[0].id, request.stream, retry: false))
        }
        let lastPosition: Int64 = rows[rows.count - 1][0]
        return .replayed(
            AppendResult(
                firstVersion: UInt64(version), lastVersion: UInt64(version) + UInt64(events.count) - 1,
                firstPosition: UInt64(position), lastPosition: UInt64(lastPosition)))
    }

    private func idIsStored(_ id: EventID, db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM events WHERE event_id = ?", arguments: [Data(id.bytes)]) ?? false
    }

    static func duplicate(_ id: EventID, _ stream: StreamName, retry: Bool = true) -> EventStoreError {
        EventStoreError(
            .duplicateEventID,
            retry ? "event ID \(id) already stored" : "event ID \(id) already stored (not as this append)",
            stream: stream)
    }

    // MARK: - Completion thread

    private func runCompletions() {
        var batches: [CompletedBatch] = []
        while completed.take(into: &batches, limit: .max) {
            for batch in batches { complete(batch) }
            batches.removeAll(keepingCapacity: true)
            requests.release()
        }
    }

    private func complete(_ batch: CompletedBatch) {
        let now = metrics != nil ? MonotonicClock.now() : 0
        for (request, outcome) in zip(batch.requests, batch.outcomes) {
            switch (request, outcome) {
            case (.append(let append), .appended(let result)):
                metrics?.appended(events: append.events.count, nanoseconds: now &- append.start)
                append.completion(.success(result))
            case (.append(let append), .replayed(let result)):
                metrics?.replayed()
                append.completion(.success(result))
            case (.append(let append), .failed(let error)):
                if error.code == .conflict { metrics?.conflicted() } else { metrics?.appendFailed() }
                append.completion(.failure(error))
            case (.saveSnapshot(_, let completion), .snapshot(let saved)):
                if saved == .saved {
                    metrics?.snapshotSaves.wrappingAdd(1, ordering: .relaxed)
                } else {
                    metrics?.snapshotStale.wrappingAdd(1, ordering: .relaxed)
                }
                completion(.success(saved))
            case (.deleteSnapshot(_, let completion), .done),
                (.saveCheckpoint(_, _, let completion), .done),
                (.park(_, let completion), .done):
                completion(.success(()))
            case (_, .failed(let error)):
                request.fail(error, metrics: metrics)
            default:
                request.fail(EventStoreError(.backendUnavailable, "internal: outcome does not match"), metrics: metrics)
            }
        }
        if let head = batch.newHead {
            let callbacks = observers.withLock { Array($0.values) }
            for callback in callbacks { callback(head) }
        }
    }
}
