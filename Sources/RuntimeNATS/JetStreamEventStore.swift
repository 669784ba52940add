import Dispatch
import EventSourcing
import Synchronization

/// An ``EventStore`` on NATS JetStream (nats-server 2.9, file storage, one replica): one stream, a subject per
/// aggregate (`<prefix>.events.<aggregateType>.<aggregateID>`), one message per append.
///
/// **One append = one message.** nats-server 2.9 has no atomic multi-message publish (ADR-50 arrives in 2.12), so
/// an append's events travel together in one message, a ``CommitRecord`` holding the version of its first event
/// and its events. A stream's version is the count of its events; versions are recorded per commit.
///
/// **Optimistic concurrency** through `Nats-Expected-Last-Subject-Sequence`: the store remembers, per aggregate,
/// the stream sequence and last version of the aggregate's last commit (learned from its own appends and reads,
/// or by reading the subject's last message), and publishes with that sequence expected (`ExpectNoMessage` for an
/// empty subject). The server refuses the publish when another writer got there first; the store then reads the
/// subject's last message and either retries (`.any`, `.exists`, or a stale memory) or reports the conflict with
/// the actual version. Of several racing appends exactly one wins each version.
///
/// **Idempotency** through `Nats-Msg-Id` = the first event's ID: the server drops a message whose ID it saw within
/// the stream's **duplicate window** (``Configuration/duplicateWindow``, 2 minutes by default) and answers with
/// the original's sequence; the store reads that commit and returns its result (or `duplicateEventID` when it is
/// another stream's or another set of IDs). A retry of the aggregate's last commit is also recognised after the
/// window. **A retry of an older commit after the window is appended a second time.**
///
/// What the commit's own `Nats-Msg-Id` covers (always, at no extra cost): a retry of the same append (the same IDs
/// in the same order) returns the original result; any other append whose *first* event ID is another commit's
/// first event ID fails with `duplicateEventID` (a different grouping that starts with the same event, the same
/// IDs on another stream). What it does not cover: an event ID that appears at a *later* place of one of the two
/// appends (`[a, b]` stored, then `[b]` or `[x, b]`). Detecting that takes one marker message per later event
/// (``Configuration/detectsRepeatedEventIDs``, off by default): nats-server 2.9 deduplicates one ID per message,
/// so no design does it with fewer messages; measured, markers cut 10-event appends from 175k to 30k events/s.
/// Memory and SQLite detect every repeated ID, for ever.
///
/// **Global positions**: `position = streamSequence << 16 | (65536 − count + index)` for the event at `index`
/// (0-based) of a commit of `count` events. Positions strictly increase in commit order, a commit's last event
/// always sits at `sequence << 16 | 0xFFFF` (so the head position follows from the stream's last sequence), and
/// gaps are large: head − position is about 65536 × the commits behind. A consumer's lag counts events instead
/// through ``eventCount(after:upTo:)``: exact within a commit, then one per message behind (a lower bound of the
/// events when appends hold several; with event-ID markers, each marker stands for one later event of its
/// append, so the count is exact for stored appends).
///
/// **Durability**: an append completes with success when the server acknowledged the stored message. nats-server
/// 2.9 writes file storage to the OS at once but **fsyncs it only every 2 minutes** (`sync_interval: always` needs
/// 2.10+): an acknowledged append survives a server crash or restart, but can be lost if the machine loses power
/// within that window.
///
/// **Threads**: appends never block their caller: the publish is asynchronous (`js_PublishMsgAsync`) and the
/// completion runs on libnats' acknowledgement thread. Reads, the head position and the slow paths of an append
/// (learning an aggregate's last commit, recognising a retry) block for a round trip on a store thread (a
/// dispatch queue), never on the Swift cooperative pool.
///
/// **Errors**: a publish refused before it was sent (not connected) completes with `backendUnavailable`; a publish
/// sent without an acknowledgement within ``Configuration/appendTimeout`` (server stopped, connection lost)
/// completes with `outcomeUnknown` (retry with the same event IDs within the duplicate window); never "not
/// applied" for an append that may have been stored.
public final class JetStreamEventStore: EventStore {
    /// Where and how the store keeps its events.
    public struct Configuration: Sendable {
        /// The subject prefix: events live under `<prefix>.events.>`.
        public var prefix: String
        /// The JetStream stream's name (no `.`, `*`, `>` or spaces).
        public var streamName: String
        /// File storage (durable) or memory.
        public var storage: JetStreamContext.Storage
        /// The server's duplicate window for `Nats-Msg-Id` (see the type's documentation).
        public var duplicateWindow: Duration
        /// How long an append waits for the server's acknowledgement before completing with `outcomeUnknown`.
        public var appendTimeout: Duration
        /// How long a read's round trip may take.
        public var readTimeout: Duration
        /// Detect an event ID used again by another append at any place of it, not only as its first event (off
        /// by default). An append of several events first publishes one small marker per event after the first
        /// (subject `<prefix>.eventids`, `Nats-Msg-Id` = the event ID, in the same stream, so that they share the
        /// commits' duplicate window) and sends its commit once they are stored. A single-event append costs
        /// nothing more; an append of `n` events costs `n − 1` more messages (kept with the stream) and one more
        /// round trip (measured: 10-event appends 175k → 30k events/s). Off, a retry of the same append and a
        /// repeated *first* event ID are still detected (by the commit's own `Nats-Msg-Id`); turn it on when
        /// callers may regroup events they already appended (retrying `[a, b]` as `[b]`).
        public var detectsRepeatedEventIDs: Bool

        /// - Parameter prefix: the subject prefix (a valid subject, without wildcards).
        public init(prefix: String = "clstr") {
            self.prefix = prefix
            self.streamName = prefix.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" } + "_EVENTS"
            self.storage = .file
            self.duplicateWindow = .seconds(120)
            self.appendTimeout = .seconds(5)
            self.readTimeout = .seconds(5)
            self.detectsRepeatedEventIDs = false
        }
    }

    /// What the store knows of an aggregate's last commit.
    struct Tip: Equatable {
        /// The stream's version (0: no events).
        var version: UInt64
        /// The stream sequence of the commit holding that version (0: none).
        var sequence: UInt64
    }

    /// The JetStream context (shared with ``JetStreamSnapshotStore`` and ``JetStreamCheckpointStore``).
    public let context: JetStreamContext
    public let configuration: Configuration
    let metrics: EventStoreMetrics?
    /// `<prefix>.events.`
    let subjectPrefix: String
    /// `<prefix>.eventids`: the event-ID markers' subject (in the same stream as the commits).
    let idSubject: String
    /// Blocking round trips (reads, slow paths of appends); never the cooperative pool.
    let worker = DispatchQueue(label: "clstr.jetstream.event-store", attributes: .concurrent)
    let isClosed = Atomic<Bool>(false)
    /// Last commits by stream; bounded (cleared when it grows past ``tipCapacity``).
    let tips = Mutex<[StreamName: Tip]>([:])
    let tipCapacity = 100_000
    private let observers = Mutex<Observers>(Observers())
    /// This process's last commits, for log reads (kept once something observes the appends: a follower).
    let recentCommits = JetStreamRecentCommits()
    let keepsRecentCommits = Atomic<Bool>(false)

    private struct Observers {
        var next = 0
        var callbacks: [Int: @Sendable (UInt64) -> Void] = [:]
        var watcher: JetStreamSequenceWatcher?
        /// A watcher exists or is being created.
        var watching = false
    }

    /// Opens the store on `connection`, creating (or updating) its stream.
    ///
    /// Blocks for a round trip: call it off the cooperative pool. The store does not own `connection` (close it
    /// after the store).
    /// - Parameters:
    ///   - connection: a connected NATS connection (reconnecting on its own; see ``NATSConnection/Options``).
    ///   - configuration: prefix, stream name, storage, windows and timeouts.
    ///   - metrics: where appends, conflicts, replays and failures are counted.
    /// - Throws: ``EventStoreError`` `backendUnavailable` when the server cannot be reached or has no JetStream.
    public init(
        connection: NATSConnection, configuration: Configuration = Configuration(), metrics: EventStoreMetrics? = nil
    ) throws(EventStoreError) {
        self.configuration = configuration
        self.metrics = metrics
        self.subjectPrefix = configuration.prefix + ".events."
        self.idSubject = configuration.prefix + ".eventids"
        do throws(NATSError) {
            self.context = try JetStreamContext(connection: connection, apiTimeout: configuration.readTimeout)
            try context.createOrUpdateStream(
                .init(
                    name: configuration.streamName,
                    subjects: [configuration.prefix + ".events.>", configuration.prefix + ".eventids"],
                    storage: configuration.storage, duplicateWindow: configuration.duplicateWindow))
        } catch {
            throw EventStoreError(.backendUnavailable, "cannot open the JetStream event stream", underlying: error)
        }
    }

    /// The subject of `stream`.
    func subject(of stream: StreamName) -> String {
        subjectPrefix + stream.aggregateType + "." + stream.aggregateID
    }

    /// The stream a message subject belongs to (`nil` for a subject outside the store's prefix).
    func streamName(ofSubject subject: String) -> StreamName? {
        guard subject.hasPrefix(subjectPrefix) else { return nil }
        let rest = subject.utf8.dropFirst(subjectPrefix.utf8.count)
        guard let dot = rest.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        return StreamName(
            aggregateType: String(Substring(rest[rest.startIndex..<dot])),
            aggregateID: String(Substring(rest[rest.index(after: dot)...])))
    }

    /// The global position of the event at `index` of a commit of `count` events stored at `sequence`.
    static func position(sequence: UInt64, index: Int, count: Int) -> UInt64 {
        sequence << 16 | UInt64(CommitRecord.maxEvents - count + index)
    }

    /// Events after `position` up to `head`: exact within one commit, then one per message behind (see the type's
    /// documentation on positions).
    public func eventCount(after position: UInt64, upTo head: UInt64) -> UInt64 {
        guard head > position else { return 0 }
        let fromSequence = position >> 16
        let toSequence = head >> 16
        if fromSequence == toSequence { return (head & 0xFFFF) - (position & 0xFFFF) }
        // The rest of the position's commit (none before the first), then one per later message.
        let rest = fromSequence == 0 ? 0 : 0xFFFF - (position & 0xFFFF)
        return rest + (toSequence - fromSequence)
    }

    /// The head position when the stream's last sequence is `sequence`.
    static func headPosition(sequence: UInt64) -> UInt64 {
        sequence == 0 ? 0 : sequence << 16 | 0xFFFF
    }

    /// Remembers `tip` for `stream` unless a later one is known.
    func remember(_ stream: StreamName, _ tip: Tip) {
        tips.withLock { tips in
            if let known = tips[stream], known.version >= tip.version, known.sequence >= tip.sequence { return }
            if tips.count >= tipCapacity { tips.removeAll(keepingCapacity: true) }
            tips[stream] = tip
        }
    }

    func forget(_ stream: StreamName) {
        _ = tips.withLock { $0.removeValue(forKey: stream) }
    }

    // MARK: Observation

    public func observeAppends(_ observer: @escaping @Sendable (UInt64) -> Void) -> AppendObservation {
        // Relaxed: a flag the append path polls; a commit appended before it is seen is read from the server.
        keepsRecentCommits.store(true, ordering: .relaxed)
        let (id, startWatcher) = observers.withLock { state -> (Int, Bool) in
            let id = state.next
            state.next += 1
            state.callbacks[id] = observer
            defer { state.watching = true }
            return (id, !state.watching)
        }
        // This process's appends are reported from their acknowledgements from now on. Appends of other processes
        // are reported once the watcher's consumer exists: creating it is a round trip, made on the worker so that
        // the caller (possibly on the cooperative pool) does not block.
        if startWatcher { worker.async { self.startWatcher() } }
        return AppendObservation { [weak self] in
            let watcher = self?.observers.withLock { state -> JetStreamSequenceWatcher? in
                state.callbacks[id] = nil
                guard state.callbacks.isEmpty else { return nil }
                defer {
                    state.watcher = nil
                    state.watching = false
                }
                return state.watcher
            }
            watcher?.cancel()
        }
    }

    /// Worker: creates the ordered headers-only consumer that reports other processes' appends.
    private func startWatcher() {
        let watcher: JetStreamSequenceWatcher
        do throws(NATSError) {
            watcher = try JetStreamSequenceWatcher(
                context: context, stream: configuration.streamName, subject: configuration.prefix + ".events.>"
            ) { [weak self] sequence in
                self?.notifyObservers(head: Self.headPosition(sequence: sequence))
            }
        } catch {
            // Without it only this process's appends are reported; the next first registration tries again.
            observers.withLock { $0.watching = false }
            return
        }
        let keep = observers.withLock { state -> Bool in
            guard state.watching, state.watcher == nil, !state.callbacks.isEmpty else { return false }
            state.watcher = watcher
            return true
        }
        if !keep { watcher.cancel() }
    }

    func notifyObservers(head: UInt64) {
        // No array is made when nobody observes (the common case on the append path).
        guard let callbacks = observers.withLock({ $0.callbacks.isEmpty ? nil : Array($0.callbacks.values) }) else {
            return
        }
        for callback in callbacks { callback(head) }
    }

    // MARK: Head, close

    public func readHeadPosition(completion: @escaping @Sendable (Result<UInt64, EventStoreError>) -> Void) {
        // Relaxed: a best-effort gate (see `close()`); the flag guards no other data.
        guard !isClosed.load(ordering: .relaxed) else { return completion(.failure(Self.closedError)) }
        worker.async { [self] in
            do throws(NATSError) {
                // The last commit (markers share the stream): a direct get of the last message on any event
                // subject (nats-server 2.9 accepts the wildcard).
                let last = try context.directGetLast(stream: configuration.streamName, subject: subjectPrefix + ">")
                completion(.success(Self.headPosition(sequence: last?.sequence ?? 0)))
            } catch {
                completion(.failure(Self.readError(error)))
            }
        }
    }

    /// Closes the store (see ``EventStore/close()``); waits for the reads and slow paths already running, so it
    /// must not be called from one of the store's completions. Does not close the connection.
    public func close() {
        // Relaxed: the flag is a best-effort gate for new calls; calls already accepted complete on their own.
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        let watcher = observers.withLock { state -> JetStreamSequenceWatcher? in
            state.callbacks.removeAll()
            defer {
                state.watcher = nil
                state.watching = false
            }
            return state.watcher
        }
        watcher?.cancel()
        // Waits for the slow paths and reads already running; appends waiting for an acknowledgement complete
        // when it arrives (or at their timeout).
        worker.sync(flags: .barrier) {}
    }

    static let closedError = EventStoreError(.closed, "the JetStream event store is closed")

    /// The error of a failed read round trip (nothing was changed: always safe to retry).
    static func readError(_ error: NATSError, stream: StreamName? = nil) -> EventStoreError {
        let code: EventStoreError.Code = error.status == .timeout ? .timeout : .backendUnavailable
        return EventStoreError(code, "JetStream read failed: \(error)", stream: stream, underlying: error)
    }
}
