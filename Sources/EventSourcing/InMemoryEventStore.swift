import ClstrRuntime

/// An ``EventStore`` in process memory: for tests, benchmarks and `--store memory`. Nothing survives the process.
///
/// One lock guards the log; an append checks and writes under it and completes on the caller's thread after
/// releasing it, so appends are atomic and positions are assigned in commit order. Idempotency is remembered for
/// ever (every event ID is indexed). Observers are called on the appender's thread, just before its completion.
public final class InMemoryEventStore: EventStore {
    struct IDEntry {
        /// Index of the event in `log`.
        var index: Int
        /// The number of events of the append it was first of; 0 when it was not first.
        var appendLength: Int
    }

    struct State {
        /// The global log: the event at position p is `log[p - 1]`.
        var log = Log()
        /// Per stream, the log indices of its events (version v at `[v - 1]`).
        var streams: [StreamName: [Int]] = [:]
        /// The stream of the last append and its slot in `streams`: a stream appended to again (a hot account)
        /// is recognised by comparing names, without hashing both parts of its name (~450 instructions per
        /// append under callgrind). Forgotten when a new stream is inserted (slots may move then).
        var lastStream: (name: StreamName, slot: Dictionary<StreamName, [Int]>.Index)?
        var ids: [EventID: IDEntry] = [:]
        var observers: [(id: Int, callback: @Sendable (UInt64) -> Void)] = []
        var nextObserverID = 0
        var closed = false
    }

    private let state = Locked(State())
    private let metrics: EventStoreMetrics?

    /// - Parameters:
    ///   - metrics: where appends, conflicts and replays are counted.
    ///   - capacity: events to reserve room for up front (the ID index then grows without reallocating until
    ///     it holds that many; the log never moves its events, see ``Log``).
    public init(metrics: EventStoreMetrics? = nil, capacity: Int = 0) {
        self.metrics = metrics
        if capacity > 0 {
            state.withLock { state in
                state.log.reserveCapacity(capacity)
                state.ids.reserveCapacity(capacity)
            }
        }
    }

    private enum AppendStep {
        case done(AppendResult, observers: [(id: Int, callback: @Sendable (UInt64) -> Void)])
        case replay(AppendResult)
        case failed(EventStoreError)
    }

    public func append(
        to stream: StreamName, expected: ExpectedVersion, events: [EventData], completion: @escaping AppendCompletion
    ) {
        let start = metrics != nil ? MonotonicClock.now() : 0
        if events.isEmpty {
            metrics?.appendFailed()
            return completion(.failure(EventStoreError(.invalidArgument, "empty append", stream: stream)))
        }
        let step = state.withLock { state -> AppendStep in
            // At most one hash of the stream name per append (none when the last append was to the same
            // stream): the slot found here is reused for the appends below (two lookups per event were 2.7 % of
            // the memory store's deposit CPU in perf). A stream that has events was valid when it got its first:
            // only a new one is checked (both parts' bytes on every append were ~300 instructions per deposit
            // under callgrind).
            let slot: Dictionary<StreamName, [Int]>.Index?
            if let last = state.lastStream, last.name == stream {
                slot = last.slot
            } else {
                slot = state.streams.index(forKey: stream)
            }
            if slot == nil, !stream.isValid {
                return .failed(EventStoreError(.invalidArgument, "invalid stream name", stream: stream))
            }
            if state.closed { return .failed(EventStoreError(.closed, "store closed", stream: stream)) }
            let firstIndex = state.log.count
            // A one-event append (the usual one) claims its ID's entry at once, one hash of the ID instead of a
            // lookup here and an insertion below; a refused append gives the entry back.
            let single = events.count == 1
            let earlier =
                single
                ? state.ids.updateValue(IDEntry(index: firstIndex, appendLength: 1), forKey: events[0].id)
                : state.ids[events[0].id]
            if let entry = earlier {
                if single { state.ids[events[0].id] = entry }
                switch Self.retryResult(state: state, entry: entry, stream: stream, events: events) {
                case .success(let original): return .replay(original)
                case .failure(let error): return .failed(error)
                }
            }
            if !single {
                var seen = Set<EventID>()
                for event in events {
                    if state.ids[event.id] != nil || !seen.insert(event.id).inserted {
                        return .failed(
                            EventStoreError(
                                .duplicateEventID, "event ID \(event.id) already stored or repeated", stream: stream))
                    }
                }
            }
            let current = UInt64(slot.map { state.streams.values[$0].count } ?? 0)
            guard expected.isSatisfied(by: current) else {
                if single { state.ids[events[0].id] = nil }
                return .failed(.conflict(stream: stream, expected: expected, actual: current))
            }
            var version = current
            for (offset, event) in events.enumerated() {
                version += 1
                let index = state.log.count
                state.log.append(RecordedEvent(event, stream: stream, version: version, position: UInt64(index + 1)))
                if !single { state.ids[event.id] = IDEntry(index: index, appendLength: offset == 0 ? events.count : 0) }
            }
            if let slot {
                if single {
                    state.streams.values[slot].append(firstIndex)
                } else {
                    state.streams.values[slot].append(contentsOf: firstIndex..<state.log.count)
                }
                state.lastStream = (stream, slot)
            } else {
                state.streams[stream] = Array(firstIndex..<state.log.count)
                state.lastStream = nil
            }
            let result = AppendResult(
                firstVersion: current + 1, lastVersion: version, firstPosition: UInt64(firstIndex + 1),
                lastPosition: UInt64(state.log.count))
            return .done(result, observers: state.observers)
        }
        switch step {
        case .done(let result, let observers):
            metrics?.appended(events: events.count, nanoseconds: MonotonicClock.now() &- start)
            // Observers first: when the appender learns of its commit, followers already know the new head.
            for observer in observers { observer.callback(result.lastPosition) }
            completion(.success(result))
        case .replay(let result):
            metrics?.replayed()
            completion(.success(result))
        case .failed(let error):
            if error.code == .conflict {
                metrics?.conflicted()
            } else {
                metrics?.appendFailed()
            }
            completion(.failure(error))
        }
    }

    /// The outcome of an append whose first event ID is stored: the original result when it is a retry, else
    /// `duplicateEventID`.
    private static func retryResult(
        state: State, entry: IDEntry, stream: StreamName, events: [EventData]
    ) -> Result<AppendResult, EventStoreError> {
        let first = state.log[entry.index]
        guard first.stream == stream, entry.appendLength == events.count else {
            return .failure(
                EventStoreError(
                    .duplicateEventID, "event ID \(events[0].id) already stored (not as this append)", stream: stream))
        }
        for offset in 1..<events.count where state.log[entry.index + offset].id != events[offset].id {
            return .failure(
                EventStoreError(
                    .duplicateEventID, "event ID \(events[0].id) already stored (not as this append)", stream: stream))
        }
        let last = state.log[entry.index + events.count - 1]
        return .success(
            AppendResult(
                firstVersion: first.version, lastVersion: last.version, firstPosition: first.position,
                lastPosition: last.position))
    }

    public func read(stream: StreamName, from version: UInt64, maxCount: Int, completion: @escaping ReadCompletion) {
        guard maxCount >= 1 else {
            return completion(.failure(EventStoreError(.invalidArgument, "maxCount < 1", stream: stream)))
        }
        let result = state.withLock { state -> Result<[RecordedEvent], EventStoreError> in
            if state.closed { return .failure(EventStoreError(.closed, "store closed", stream: stream)) }
            guard let indices = state.streams[stream] else { return .success([]) }
            let first = Int(max(version, 1) - 1)
            guard first < indices.count else { return .success([]) }
            let end = first + min(maxCount, indices.count - first)
            var events: [RecordedEvent] = []
            events.reserveCapacity(end - first)
            for index in indices[first..<end] { events.append(state.log[index]) }
            return .success(events)
        }
        completion(result)
    }

    public func readAll(from position: UInt64, maxCount: Int, completion: @escaping ReadCompletion) {
        guard maxCount >= 1 else { return completion(.failure(EventStoreError(.invalidArgument, "maxCount < 1"))) }
        let result = state.withLock { state -> Result<[RecordedEvent], EventStoreError> in
            if state.closed { return .failure(EventStoreError(.closed, "store closed")) }
            let first = Int(max(position, 1) - 1)
            guard first < state.log.count else { return .success([]) }
            let end = first + min(maxCount, state.log.count - first)
            return .success(state.log.records(first..<end))
        }
        completion(result)
    }

    public func readHeadPosition(completion: @escaping @Sendable (Result<UInt64, EventStoreError>) -> Void) {
        let result = state.withLock { state -> Result<UInt64, EventStoreError> in
            state.closed ? .failure(EventStoreError(.closed, "store closed")) : .success(UInt64(state.log.count))
        }
        completion(result)
    }

    public func observeAppends(_ observer: @escaping @Sendable (UInt64) -> Void) -> AppendObservation {
        let id = state.withLock { state in
            let id = state.nextObserverID
            state.nextObserverID += 1
            state.observers.append((id, observer))
            return id
        }
        return AppendObservation { [weak self] in
            self?.state.withLock { state in state.observers.removeAll { $0.id == id } }
        }
    }

    public func close() {
        state.withLock { state in
            state.closed = true
            state.observers.removeAll()
        }
    }

    /// The number of events stored (for tests and benchmarks).
    public var count: Int { state.withLock { $0.log.count } }
}

extension InMemoryEventStore {
    /// The global log in chunks of ``chunkSize`` events, each allocated once at its full size: appending never
    /// moves the events already stored. One array doubled as it grew, copying the whole log each time (on the
    /// appending request's thread, under the store's lock: a pause that grew with the log) into fresh pages:
    /// the copies were ~36 % of the memory store's page faults under load.
    struct Log {
        static let chunkSize = 4096
        private var chunks: [[RecordedEvent]] = []
        /// The number of events.
        private(set) var count = 0

        /// Makes room for the chunk list of `capacity` events.
        mutating func reserveCapacity(_ capacity: Int) {
            chunks.reserveCapacity(capacity / Self.chunkSize + 1)
        }

        mutating func append(_ record: RecordedEvent) {
            if count % Self.chunkSize == 0 {
                var chunk: [RecordedEvent] = []
                chunk.reserveCapacity(Self.chunkSize)
                chunks.append(chunk)
            }
            chunks[chunks.count - 1].append(record)
            count += 1
        }

        /// The event at `index` (its position minus one).
        subscript(index: Int) -> RecordedEvent {
            chunks[index / Self.chunkSize][index % Self.chunkSize]
        }

        /// The events at `range`, in order.
        func records(_ range: Range<Int>) -> [RecordedEvent] {
            var result: [RecordedEvent] = []
            result.reserveCapacity(range.count)
            var index = range.lowerBound
            while index < range.upperBound {
                let chunk = index / Self.chunkSize
                let start = index % Self.chunkSize
                let end = min(Self.chunkSize, start + (range.upperBound - index))
                result.append(contentsOf: chunks[chunk][start..<end])
                index += end - start
            }
            return result
        }
    }
}
