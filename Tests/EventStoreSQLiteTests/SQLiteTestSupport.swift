import ClstrRuntime
import EventSourcing
import Foundation
import Synchronization

@testable import EventStoreSQLite

/// A fresh directory under the system's temporary directory, removed when released.
final class TemporaryDirectory: Sendable {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "es-sqlite-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    var storeFile: String { path + "/events.sqlite" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `body` on a thread of its own (never on the cooperative pool) and resumes when it returns.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DedicatedThread.start { continuation.resume(returning: body()) }.detach()
    }
}

/// Collects `count` completion results, by index, and resumes when all arrived.
final class Completions<Value: Sendable>: Sendable {
    private let results: Mutex<[Int: Result<Value, EventStoreError>]> = Mutex([:])
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self)
    }

    func callback(_ index: Int) -> @Sendable (Result<Value, EventStoreError>) -> Void {
        { result in
            self.results.withLock { $0[index] = result }
            self.continuation.yield()
        }
    }

    /// Waits for `count` results.
    func wait(for count: Int) async -> [Int: Result<Value, EventStoreError>] {
        var seen = 0
        for await _ in stream {
            seen += 1
            if seen == count { break }
        }
        return results.withLock { $0 }
    }
}

func event(_ text: String, id: EventID = .random(), type: String = "Test") -> EventData {
    EventData(id: id, type: type, payload: Array(text.utf8))
}

func stream(_ id: String, type: String = "Test") -> StreamName {
    StreamName(aggregateType: type, aggregateID: id)
}

// `async` forms of the checkpoint store's completions, for the tests.
func checkpoint(_ store: some CheckpointStore, _ consumer: String) async throws(EventStoreError) -> UInt64? {
    try await withCheckedContinuation { continuation in
        store.loadCheckpoint(consumer: consumer) { continuation.resume(returning: $0) }
    }.get()
}

func saveCheckpoint(_ store: some CheckpointStore, _ consumer: String, _ position: UInt64) async throws(EventStoreError)
{
    try await withCheckedContinuation { continuation in
        store.saveCheckpoint(consumer: consumer, position: position) { continuation.resume(returning: $0) }
    }.get()
}

func park(_ store: some CheckpointStore, _ event: ParkedEvent) async throws(EventStoreError) {
    try await withCheckedContinuation { continuation in
        store.park(event) { continuation.resume(returning: $0) }
    }.get()
}

func parkedEvents(_ store: some CheckpointStore, _ consumer: String) async throws(EventStoreError) -> [ParkedEvent] {
    try await withCheckedContinuation { continuation in
        store.parkedEvents(consumer: consumer) { continuation.resume(returning: $0) }
    }.get()
}
