import Synchronization

/// Completion of an append: called exactly once.
public typealias AppendCompletion = @Sendable (Result<AppendResult, EventStoreError>) -> Void
/// Completion of a read: called exactly once with events in ascending order.
public typealias ReadCompletion = @Sendable (Result<[RecordedEvent], EventStoreError>) -> Void

/// An append-only store of event streams with a global log: the protocol every backend implements (memory,
/// SQLite, JetStream) and the conformance suite (`EventSourcingTestKit`) checks.
///
/// ## Completions
/// The primary operations take a completion instead of being `async`, so that a store answers from wherever the
/// work finished — the caller's thread (memory), a group-commit writer thread (SQLite), a libnats thread
/// (JetStream) — without a hop through Swift concurrency. Every completion:
/// - is called **exactly once**, also when the store is closed (with ``EventStoreError/Code/closed``) or the
///   backend fails;
/// - may run on the calling thread before the method returns, or on a thread of the store's;
/// - must not block and should be short (enqueue, signal, resume a continuation); it may call the store again.
///
/// The `async` methods in the extension wrap the completions for code off the hot path.
///
/// ## Streams, versions, positions
/// A stream's events have versions 1, 2, 3… with no gaps; its *version* is its last event's (0 while it has none;
/// a stream springs into existence with its first append). Every event also has a global *position*: ≥ 1,
/// strictly increasing in commit order across the store, with possible gaps. Events of one append occupy
/// consecutive versions and increasing positions; an append that completed before another started has lower
/// positions.
///
/// ## Threads
/// All methods may be called from any thread, concurrently.
///
/// ## Metrics
/// Implementations take an optional ``EventStoreMetrics`` in their initializer and report appends, events,
/// append latency, conflicts, idempotent replays and failures into it, and — where they apply — group-commit
/// batch sizes and fsyncs.
public protocol EventStore: AnyObject, Sendable {
    /// Appends events to a stream, atomically and idempotently.
    ///
    /// - **Atomic**: either all `events` are stored, at versions `current+1 … current+n` of `stream`, or none is.
    /// - **Expected version**: checked against the stream's version at the moment of the write (optimistic
    ///   concurrency); when it does not hold, nothing is stored and the completion receives
    ///   ``EventStoreError/Code/conflict`` with ``EventStoreError/actualVersion``. Of several appends racing with
    ///   the same `.exact(v)`, exactly one succeeds.
    /// - **Idempotent**: if the first event's ID is already stored in `stream` as the first event of an earlier
    ///   append with the same event IDs in the same order, this append is a retry: it stores nothing and
    ///   completes with the earlier append's ``AppendResult``, whatever `expected` says (the check happens before
    ///   the expected-version check). An append whose first event ID is stored otherwise (another stream, other
    ///   IDs after it) fails with ``EventStoreError/Code/duplicateEventID`` and stores nothing. Memory and
    ///   SQLite refuse every other overlap with stored IDs the same way; JetStream does for an ID at a later
    ///   place of an append only with its per-event markers (`detectsRepeatedEventIDs`). Each store documents
    ///   how long it remembers (memory, SQLite: for ever; JetStream: the stream's duplicate window).
    /// - **Durable** when completed with success, as far as the backend makes it (SQLite `synchronous=FULL`:
    ///   fsynced; JetStream: acknowledged by the server).
    /// - Parameters:
    ///   - stream: a valid name (``StreamName/isValid``), else ``EventStoreError/Code/invalidArgument``.
    ///   - expected: what the stream's version must be.
    ///   - events: one or more events (empty: ``EventStoreError/Code/invalidArgument``), with distinct IDs.
    ///   - completion: called once with the result, or with `conflict`, `duplicateEventID`, `invalidArgument`,
    ///     `backendUnavailable`, `outcomeUnknown`, `timeout` or `closed`.
    func append(
        to stream: StreamName, expected: ExpectedVersion, events: [EventData], completion: @escaping AppendCompletion)

    /// Reads a stream's events with versions `from…`, ascending, at most `maxCount`.
    ///
    /// A stream without events (or `from` past its end) yields an empty array, not an error. Fewer than
    /// `maxCount` events mean the end of the stream at the time of the read.
    /// - Parameters:
    ///   - stream: the stream.
    ///   - from: the first version wanted (≥ 1; 0 is treated as 1).
    ///   - maxCount: the most events returned (≥ 1; may be `Int.max`: do not reserve capacity from it).
    ///   - completion: called once.
    func read(
        stream: StreamName, from version: UInt64, maxCount: Int, completion: @escaping ReadCompletion)

    /// Reads the global log from position `from` (inclusive), ascending, at most `maxCount` events.
    ///
    /// Only committed events are returned, and never an event at a position lower than one already returned by
    /// an earlier read that ended at the head (positions are assigned in commit order, so a consumer that resumes
    /// after its last position misses nothing). Fewer than `maxCount` events mean the head at the time of the
    /// read.
    /// - Parameters:
    ///   - from: the first position wanted (0 is treated as 1).
    ///   - maxCount: the most events returned (≥ 1).
    ///   - completion: called once.
    func readAll(from position: UInt64, maxCount: Int, completion: @escaping ReadCompletion)

    /// Reads the position of the last committed event in the global log (0 when the log is empty).
    func readHeadPosition(completion: @escaping @Sendable (Result<UInt64, EventStoreError>) -> Void)

    /// Registers a callback the store calls after appends commit, with the head position it knows of then.
    ///
    /// For consumers that follow the log live without polling: after a call, read from your position until you
    /// reach the head. Calls may be coalesced (one call for many appends) and may be spurious; none is missed
    /// after registration: an append that commits after `observeAppends` returned is followed by a call with a
    /// head ≥ its last position (appends committed before are visible to a read made after it returned). A shared backend (JetStream) also reports appends by other processes as
    /// it learns of them. The callback runs on a store thread (or the appender's), must not block, and must not
    /// call ``AppendObservation/cancel()`` of its own observation synchronously.
    /// - Returns: the registration; ``AppendObservation/cancel()`` stops the calls.
    func observeAppends(_ observer: @escaping @Sendable (_ headPosition: UInt64) -> Void) -> AppendObservation

    /// Closes the store: later calls complete with ``EventStoreError/Code/closed``; operations already accepted
    /// complete normally (or with `closed` if they cannot). Idempotent; returns when the store's threads stopped.
    func close()

    /// How many events lie after `position` up to and including `head` (0 when `head ≤ position`), worked out
    /// from the two positions alone (no I/O): what a consumer's lag in events is.
    ///
    /// Exact where positions are dense (the default, `head − position`: memory, SQLite). A store whose positions
    /// have gaps overrides it and documents how close it is (JetStream: one per message behind, a lower bound
    /// when appends hold several events).
    func eventCount(after position: UInt64, upTo head: UInt64) -> UInt64
}

extension EventStore {
    /// Dense positions: `head − position`.
    public func eventCount(after position: UInt64, upTo head: UInt64) -> UInt64 {
        head > position ? head - position : 0
    }
}

/// One registration made by ``EventStore/observeAppends(_:)``.
public final class AppendObservation: Sendable {
    private let onCancel: @Sendable () -> Void
    private let cancelled = Atomic<Bool>(false)

    /// - Parameter onCancel: what ``cancel()`` does (called at most once).
    public init(onCancel: @escaping @Sendable () -> Void) {
        self.onCancel = onCancel
    }

    /// Stops the calls; a call already running may finish. Idempotent; also done when the observation is released.
    public func cancel() {
        // Relaxed: the exchange only elects the one caller that runs `onCancel`, which synchronizes on its own.
        if !cancelled.exchange(true, ordering: .relaxed) { onCancel() }
    }

    deinit { cancel() }
}
