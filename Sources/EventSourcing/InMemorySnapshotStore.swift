import ClstrRuntime

/// A ``SnapshotStore`` in process memory (newest snapshot per stream, stale-write guard under one lock).
public final class InMemorySnapshotStore: SnapshotStore {
    private let snapshots = Locked([StreamName: Snapshot]())
    private let metrics: EventStoreMetrics?

    /// - Parameter metrics: where saves and loads are counted.
    public init(metrics: EventStoreMetrics? = nil) {
        self.metrics = metrics
    }

    public func saveSnapshot(
        _ snapshot: Snapshot, completion: @escaping @Sendable (Result<SnapshotSaveOutcome, EventStoreError>) -> Void
    ) {
        guard snapshot.stream.isValid, snapshot.version >= 1 else {
            return completion(
                .failure(EventStoreError(.invalidArgument, "invalid snapshot", stream: snapshot.stream)))
        }
        let outcome = snapshots.withLock { snapshots -> SnapshotSaveOutcome in
            if let stored = snapshots[snapshot.stream], stored.version >= snapshot.version { return .stale }
            snapshots[snapshot.stream] = snapshot
            return .saved
        }
        if outcome == .saved {
            metrics?.snapshotSaves.wrappingAdd(1, ordering: .relaxed)
        } else {
            metrics?.snapshotStale.wrappingAdd(1, ordering: .relaxed)
        }
        completion(.success(outcome))
    }

    public func loadSnapshot(
        stream: StreamName, completion: @escaping @Sendable (Result<Snapshot?, EventStoreError>) -> Void
    ) {
        let snapshot = snapshots.withLock { $0[stream] }
        if snapshot != nil { metrics?.snapshotLoads.wrappingAdd(1, ordering: .relaxed) }
        completion(.success(snapshot))
    }

    public func deleteSnapshot(
        stream: StreamName, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void
    ) {
        snapshots.withLock { _ = $0.removeValue(forKey: stream) }
        completion(.success(()))
    }
}

/// A ``CheckpointStore`` in process memory.
public final class InMemoryCheckpointStore: CheckpointStore {
    private struct State {
        var checkpoints: [String: UInt64] = [:]
        var parked: [String: [UInt64: ParkedEvent]] = [:]
    }

    private let state = Locked(State())

    public init() {}

    public func loadCheckpoint(
        consumer: String, completion: @escaping @Sendable (Result<UInt64?, EventStoreError>) -> Void
    ) {
        completion(.success(state.withLock { $0.checkpoints[consumer] }))
    }

    public func saveCheckpoint(
        consumer: String, position: UInt64, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void
    ) {
        guard StreamName.isValidPart(consumer) else {
            return completion(.failure(EventStoreError(.invalidArgument, "invalid consumer name \(consumer)")))
        }
        state.withLock { $0.checkpoints[consumer] = position }
        completion(.success(()))
    }

    public func park(_ event: ParkedEvent, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void) {
        state.withLock { $0.parked[event.consumer, default: [:]][event.position] = event }
        completion(.success(()))
    }

    public func parkedEvents(
        consumer: String, completion: @escaping @Sendable (Result<[ParkedEvent], EventStoreError>) -> Void
    ) {
        let events = state.withLock { state in
            (state.parked[consumer] ?? [:]).values.sorted { $0.position < $1.position }
        }
        completion(.success(events))
    }
}
