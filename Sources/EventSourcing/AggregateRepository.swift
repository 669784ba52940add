import ClstrRuntime
import Logging

/// Options of an ``AggregateRepository``.
public struct AggregateOptions: Sendable {
    /// Save a snapshot when this many events were appended since the last one (per aggregate); 0 (the default)
    /// never snapshots: right for small aggregates, whose replay is cheaper than a snapshot read.
    public var snapshotEvery: Int = 0
    /// Events read per batch while loading.
    public var readBatchSize: Int = 512

    public init() {}
}

/// Why a command failed.
public enum CommandFailure<A: Aggregate>: Error, Sendable {
    /// `decide` refused the command; nothing was stored.
    case rejected(A.Failure)
    /// Loading, encoding or appending failed (a ``EventStoreError/Code/conflict`` means another writer appended
    /// first); nothing was stored unless the code is `outcomeUnknown`/`timeout`.
    case store(EventStoreError)
}

/// What an accepted command did.
public struct CommandAccepted<A: Aggregate>: Sendable {
    /// The events `decide` returned (now stored); empty when the command changed nothing.
    public var events: [A.Event]
    /// The append's result; `nil` when there were no events.
    public var append: AppendResult?
    /// The aggregate's version after the command.
    public var version: UInt64

    public init(events: [A.Event], append: AppendResult?, version: UInt64) {
        self.events = events
        self.append = append
        self.version = version
    }
}

/// Loads aggregates (newest snapshot + the events after it) and runs commands on them (decide, append with the
/// loaded version expected, evolve, snapshot every N events). Callback-based for the actor; `async` forms on top.
///
/// It keeps no state per aggregate: the caller (the event-sourced actor) holds the ``AggregateRoot`` between
/// commands. Snapshots are saved after the append committed, without waiting for them: a snapshot failure is
/// counted (``EventStoreMetrics/snapshotFailures``) and logged, never returned to the command.
public final class AggregateRepository<A: Aggregate>: Sendable {
    public let store: any EventStore
    public let snapshots: (any SnapshotStore)?
    public let options: AggregateOptions
    public let metrics: EventStoreMetrics?
    let logger: Logger

    /// - Parameters:
    ///   - store: the event store.
    ///   - snapshots: where snapshots are read and (with `options.snapshotEvery > 0`) written; `nil` for none.
    ///   - options: snapshot cadence, read batch size.
    ///   - metrics: load latency, snapshot counters.
    ///   - logger: for snapshot failures.
    public init(
        store: any EventStore, snapshots: (any SnapshotStore)? = nil, options: AggregateOptions = AggregateOptions(),
        metrics: EventStoreMetrics? = nil, logger: Logger = Logger(label: "clstr.eventsourcing")
    ) {
        self.store = store
        self.snapshots = snapshots
        self.options = options
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: Load

    /// Loads aggregate `id`: the newest snapshot of the current schema (if any), then every event after it.
    ///
    /// A snapshot that cannot be read or decoded is ignored (logged) and the stream replayed from the start.
    /// - Parameters:
    ///   - id: the aggregate ID.
    ///   - completion: the loaded root (version 0 for an aggregate without events), or a store or
    ///     ``EventStoreError/Code/codec`` error naming the event that could not be decoded.
    public func load(id: String, completion: @escaping @Sendable (Result<AggregateRoot<A>, EventStoreError>) -> Void) {
        let start = MonotonicClock.now()
        guard let snapshots else {
            return readTail(AggregateRoot(id: id), start: start, completion: completion)
        }
        let stream = A.stream(id)
        snapshots.loadSnapshot(stream: stream) { result in
            var root = AggregateRoot<A>(id: id)
            switch result {
            case .success(let snapshot?) where snapshot.schemaVersion == A.snapshotSchemaVersion:
                do {
                    root.state = try A.decodeSnapshot(snapshot.payload)
                    root.version = snapshot.version
                    root.position = snapshot.position
                    root.snapshotVersion = snapshot.version
                } catch {
                    self.logger.warning(
                        "undecodable snapshot ignored",
                        metadata: ["stream": "\(stream)", "version": "\(snapshot.version)", "error": "\(error)"])
                }
            case .success(let snapshot?):
                root.snapshotVersion = 0
                self.logger.debug(
                    "snapshot of another schema ignored",
                    metadata: ["stream": "\(stream)", "schema": "\(snapshot.schemaVersion)"])
            case .success(nil):
                break
            case .failure(let error):
                self.logger.warning(
                    "snapshot load failed; replaying", metadata: ["stream": "\(stream)", "error": "\(error)"])
            }
            self.readTail(root, start: start, completion: completion)
        }
    }

    private func readTail(
        _ root: AggregateRoot<A>, start: UInt64,
        completion: @escaping @Sendable (Result<AggregateRoot<A>, EventStoreError>) -> Void
    ) {
        let batch = max(1, options.readBatchSize)
        store.read(stream: root.stream, from: root.version + 1, maxCount: batch) { result in
            switch result {
            case .failure(let error):
                self.metrics?.aggregateLoadFailures.wrappingAdd(1, ordering: .relaxed)
                completion(.failure(error))
            case .success(let events):
                var root = root
                do throws(EventStoreError) {
                    for record in events {
                        guard record.version == root.version + 1 else {
                            throw EventStoreError(
                                .incompatibleStorage,
                                "\(record.stream): expected version \(root.version + 1), read \(record.version)",
                                stream: record.stream, version: record.version, eventType: record.type)
                        }
                        root.state.evolve(try A.eventCodec.decode(record))
                        root.version = record.version
                        root.position = record.position
                    }
                } catch {
                    self.metrics?.aggregateLoadFailures.wrappingAdd(1, ordering: .relaxed)
                    return completion(.failure(error))
                }
                if events.count == batch {
                    return self.readTail(root, start: start, completion: completion)
                }
                if let metrics = self.metrics {
                    metrics.aggregateLoads.wrappingAdd(1, ordering: .relaxed)
                    metrics.aggregateLoadLatency.record(nanoseconds: MonotonicClock.now() &- start)
                }
                completion(.success(root))
            }
        }
    }

    // MARK: Commands

    /// Runs `command` on a loaded aggregate: `decide`, then (when it returned events) an append expecting
    /// `root.version`, then `evolve` for each event; a snapshot is started when one is due.
    ///
    /// The completion runs after the append is durable (the store's completion), with the new root; on failure
    /// the caller's `root` is unchanged (after a `conflict` it is stale: reload it).
    /// - Parameters:
    ///   - command: the command.
    ///   - root: the aggregate as loaded (or as the previous command left it).
    ///   - metadata: stored with every event (correlation, causation, idempotency key).
    ///   - completion: the new root and what the command did, or why it failed.
    public func execute(
        _ command: A.Command, on root: AggregateRoot<A>, metadata: EventMetadata = .none,
        completion: @escaping @Sendable (Result<(AggregateRoot<A>, CommandAccepted<A>), CommandFailure<A>>) -> Void
    ) {
        let events: [A.Event]
        do throws(A.Failure) {
            events = try root.state.decide(command)
        } catch {
            return completion(.failure(.rejected(error)))
        }
        if events.isEmpty {
            return completion(.success((root, CommandAccepted(events: [], append: nil, version: root.version))))
        }
        var data: [EventData] = []
        data.reserveCapacity(events.count)
        let now = EventTimestamp.now()
        do throws(EventStoreError) {
            for event in events {
                var encoded = try A.eventCodec.encode(event, occurredAt: now, metadata: metadata)
                encoded.metadata = metadata
                data.append(encoded)
            }
        } catch {
            return completion(.failure(.store(error)))
        }
        store.append(to: root.stream, expected: .exact(root.version), events: data) { result in
            switch result {
            case .success(let append):
                var root = root
                for event in events { root.state.evolve(event) }
                root.version = append.lastVersion
                root.position = append.lastPosition
                self.snapshotIfDue(&root)
                completion(
                    .success((root, CommandAccepted(events: events, append: append, version: append.lastVersion))))
            case .failure(let error):
                completion(.failure(.store(error)))
            }
        }
    }

    /// Starts a snapshot save when `snapshotEvery` events have been appended since the last one; records the
    /// attempt in `root.snapshotVersion` (a failed save is retried after the next `snapshotEvery` events).
    func snapshotIfDue(_ root: inout AggregateRoot<A>) {
        let every = UInt64(options.snapshotEvery)
        guard every > 0, let snapshots, root.version >= root.snapshotVersion + every else { return }
        root.snapshotVersion = root.version
        let stream = root.stream
        let snapshot: Snapshot
        do {
            guard let payload = try root.state.encodeSnapshot() else { return }
            snapshot = Snapshot(
                stream: stream, version: root.version, position: root.position,
                schemaVersion: A.snapshotSchemaVersion, payload: payload)
        } catch {
            metrics?.snapshotFailures.wrappingAdd(1, ordering: .relaxed)
            logger.warning("snapshot encoding failed", metadata: ["stream": "\(stream)", "error": "\(error)"])
            return
        }
        let metrics = self.metrics
        let logger = self.logger
        snapshots.saveSnapshot(snapshot) { result in
            if case .failure(let error) = result {
                metrics?.snapshotFailures.wrappingAdd(1, ordering: .relaxed)
                logger.warning("snapshot save failed", metadata: ["stream": "\(stream)", "error": "\(error)"])
            }
        }
    }

    // MARK: async

    /// See ``load(id:completion:)``.
    public func load(id: String) async throws(EventStoreError) -> AggregateRoot<A> {
        try await withCheckedContinuation { continuation in
            load(id: id) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``execute(_:on:metadata:completion:)``.
    public func execute(
        _ command: A.Command, on root: AggregateRoot<A>, metadata: EventMetadata = .none
    ) async throws(CommandFailure<A>) -> (AggregateRoot<A>, CommandAccepted<A>) {
        try await withCheckedContinuation { continuation in
            execute(command, on: root, metadata: metadata) { continuation.resume(returning: $0) }
        }.get()
    }
}
