/// `async` forms of the store operations, for code off the hot path (tests, tools, setup). Each suspends until
/// the completion runs.
extension EventStore {
    /// See ``append(to:expected:events:completion:)``.
    public func append(
        to stream: StreamName, expected: ExpectedVersion, events: [EventData]
    ) async throws(EventStoreError) -> AppendResult {
        try await withCheckedContinuation { continuation in
            append(to: stream, expected: expected, events: events) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``read(stream:from:maxCount:completion:)``.
    public func read(
        stream: StreamName, from version: UInt64 = 1, maxCount: Int = .max
    ) async throws(EventStoreError) -> [RecordedEvent] {
        try await withCheckedContinuation { continuation in
            read(stream: stream, from: version, maxCount: maxCount) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``readAll(from:maxCount:completion:)``.
    public func readAll(from position: UInt64 = 1, maxCount: Int) async throws(EventStoreError) -> [RecordedEvent] {
        try await withCheckedContinuation { continuation in
            readAll(from: position, maxCount: maxCount) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``readHeadPosition(completion:)``.
    public func headPosition() async throws(EventStoreError) -> UInt64 {
        try await withCheckedContinuation { continuation in
            readHeadPosition { continuation.resume(returning: $0) }
        }.get()
    }
}

extension SnapshotStore {
    /// See ``saveSnapshot(_:completion:)``.
    @discardableResult
    public func save(_ snapshot: Snapshot) async throws(EventStoreError) -> SnapshotSaveOutcome {
        try await withCheckedContinuation { continuation in
            saveSnapshot(snapshot) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``loadSnapshot(stream:completion:)``.
    public func load(stream: StreamName) async throws(EventStoreError) -> Snapshot? {
        try await withCheckedContinuation { continuation in
            loadSnapshot(stream: stream) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``deleteSnapshot(stream:completion:)``.
    public func delete(stream: StreamName) async throws(EventStoreError) {
        try await withCheckedContinuation { continuation in
            deleteSnapshot(stream: stream) { continuation.resume(returning: $0) }
        }.get()
    }
}

extension CheckpointStore {
    /// See ``loadCheckpoint(consumer:completion:)``.
    public func checkpoint(consumer: String) async throws(EventStoreError) -> UInt64? {
        try await withCheckedContinuation { continuation in
            loadCheckpoint(consumer: consumer) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``saveCheckpoint(consumer:position:completion:)``.
    public func save(consumer: String, position: UInt64) async throws(EventStoreError) {
        try await withCheckedContinuation { continuation in
            saveCheckpoint(consumer: consumer, position: position) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``park(_:completion:)``.
    public func park(_ event: ParkedEvent) async throws(EventStoreError) {
        try await withCheckedContinuation { continuation in
            park(event) { continuation.resume(returning: $0) }
        }.get()
    }

    /// See ``parkedEvents(consumer:completion:)``.
    public func parked(consumer: String) async throws(EventStoreError) -> [ParkedEvent] {
        try await withCheckedContinuation { continuation in
            parkedEvents(consumer: consumer) { continuation.resume(returning: $0) }
        }.get()
    }
}
