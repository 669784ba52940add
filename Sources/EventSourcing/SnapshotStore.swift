/// The saved state of one aggregate at one version of its stream.
public struct Snapshot: Hashable, Sendable {
    /// The aggregate's stream.
    public var stream: StreamName
    /// The stream version the state reflects (every event up to and including it was applied); ≥ 1.
    public var version: UInt64
    /// The global position of the event at `version` (0 if unknown); lets a projection resume after it.
    public var position: UInt64
    /// The schema version of `payload` (the aggregate's state schema); a loader that expects another schema
    /// ignores the snapshot and replays the stream.
    public var schemaVersion: UInt32
    /// When it was taken.
    public var createdAt: EventTimestamp
    /// The encoded state.
    public var payload: [UInt8]

    public init(
        stream: StreamName, version: UInt64, position: UInt64 = 0, schemaVersion: UInt32 = 1,
        createdAt: EventTimestamp = .now(), payload: [UInt8]
    ) {
        self.stream = stream
        self.version = version
        self.position = position
        self.schemaVersion = schemaVersion
        self.createdAt = createdAt
        self.payload = payload
    }
}

/// What a snapshot save did.
public enum SnapshotSaveOutcome: Hashable, Sendable {
    /// Stored; it is now the stream's newest snapshot.
    case saved
    /// Refused by the stale-write guard: a snapshot of the same or a later version is stored (it stays).
    case stale
}

/// Keeps the newest snapshot of each stream. Completions follow ``EventStore``'s rules (exactly once, any
/// thread, must not block); methods may be called from any thread.
public protocol SnapshotStore: AnyObject, Sendable {
    /// Saves `snapshot` as its stream's newest, unless one of the same or a later ``Snapshot/version`` is stored
    /// (the stale-write guard: two writers racing leave the newer snapshot, never the older; the check and the
    /// write are one atomic step). A snapshot of a different schema version replaces an older version's.
    /// - Parameters:
    ///   - snapshot: the snapshot (valid stream name, version ≥ 1; else `invalidArgument`).
    ///   - completion: `.saved`, `.stale`, or an error (`backendUnavailable`, `outcomeUnknown`, `closed`…).
    func saveSnapshot(
        _ snapshot: Snapshot, completion: @escaping @Sendable (Result<SnapshotSaveOutcome, EventStoreError>) -> Void)

    /// Loads the newest snapshot of `stream`; `nil` when there is none.
    func loadSnapshot(stream: StreamName, completion: @escaping @Sendable (Result<Snapshot?, EventStoreError>) -> Void)

    /// Deletes `stream`'s snapshot (nothing when there is none).
    func deleteSnapshot(stream: StreamName, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void)
}

/// An event a consumer gave up on after its attempts ran out (see `Consumer`), recorded so that an operator can
/// inspect and replay it.
public struct ParkedEvent: Hashable, Sendable {
    /// The consumer's name.
    public var consumer: String
    /// The event's global position.
    public var position: UInt64
    public var stream: StreamName
    public var version: UInt64
    public var eventType: String
    /// How many times the handler ran for it.
    public var attempts: Int
    /// The last error, as text.
    public var lastError: String
    public var parkedAt: EventTimestamp

    public init(
        consumer: String, position: UInt64, stream: StreamName, version: UInt64, eventType: String, attempts: Int,
        lastError: String, parkedAt: EventTimestamp = .now()
    ) {
        self.consumer = consumer
        self.position = position
        self.stream = stream
        self.version = version
        self.eventType = eventType
        self.attempts = attempts
        self.lastError = lastError
        self.parkedAt = parkedAt
    }
}

/// Keeps each consumer's checkpoint (the global position of the last event it handled) and the events it parked.
/// Completions follow ``EventStore``'s rules; methods may be called from any thread.
///
/// Consumer names are non-empty, at most 200 UTF-8 bytes, with the characters a ``StreamName`` part allows.
public protocol CheckpointStore: AnyObject, Sendable {
    /// Loads `consumer`'s checkpoint; `nil` when it never saved one (the consumer starts from the beginning).
    func loadCheckpoint(consumer: String, completion: @escaping @Sendable (Result<UInt64?, EventStoreError>) -> Void)

    /// Saves `consumer`'s checkpoint, replacing the stored one (a consumer is the single writer of its own
    /// checkpoint; last write wins). Durable when it completes with success.
    func saveCheckpoint(
        consumer: String, position: UInt64, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void)

    /// Records a parked event (keyed by consumer and position; recording the same one again replaces it).
    func park(_ event: ParkedEvent, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void)

    /// Lists `consumer`'s parked events by ascending position.
    func parkedEvents(
        consumer: String, completion: @escaping @Sendable (Result<[ParkedEvent], EventStoreError>) -> Void)
}
