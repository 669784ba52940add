import Dispatch
import EventSourcing

/// A ``CheckpointStore`` in a JetStream key-value bucket (`<prefix>_checkpoints`): `checkpoint.<consumer>` holds a
/// consumer's position (8 bytes, little-endian; last write wins, the consumer is its only writer), and
/// `parked.<consumer>` the list of its parked events (updated with revision compare-and-set).
///
/// Durability as for ``JetStreamEventStore`` (nats-server 2.9 fsyncs every 2 minutes). Operations run on a store
/// thread, never on the cooperative pool.
public final class JetStreamCheckpointStore: CheckpointStore {
    let bucket: JetStreamKeyValue
    let worker = DispatchQueue(label: "clstr.jetstream.checkpoints", attributes: .concurrent)

    /// Opens (creating it when needed) the bucket `<prefix>_checkpoints`. Blocks for a round trip.
    /// - Throws: ``EventStoreError`` `backendUnavailable`.
    public init(context: JetStreamContext, prefix: String = "clstr") throws(EventStoreError) {
        do throws(NATSError) {
            bucket = try JetStreamKeyValue(context: context, bucket: keyValueBucketName(prefix, "checkpoints"))
        } catch {
            throw EventStoreError(.backendUnavailable, "cannot open the checkpoint bucket", underlying: error)
        }
    }

    private static func isValid(_ consumer: String) -> Bool { StreamName.isValidPart(consumer) }

    private func run<T: Sendable>(
        consumer: String, _ completion: @escaping @Sendable (Result<T, EventStoreError>) -> Void,
        _ body: @escaping @Sendable () throws(EventStoreError) -> T
    ) {
        guard Self.isValid(consumer) else {
            return completion(.failure(EventStoreError(.invalidArgument, "invalid consumer name \(consumer)")))
        }
        worker.async {
            do throws(EventStoreError) { completion(.success(try body())) } catch { completion(.failure(error)) }
        }
    }

    public func loadCheckpoint(
        consumer: String, completion: @escaping @Sendable (Result<UInt64?, EventStoreError>) -> Void
    ) {
        run(consumer: consumer, completion) { [bucket] () throws(EventStoreError) -> UInt64? in
            let entry: JetStreamKeyValue.Entry?
            do throws(NATSError) {
                entry = try bucket.get("checkpoint." + keyValueToken(consumer))
            } catch {
                throw JetStreamEventStore.readError(error)
            }
            guard let entry else { return nil }
            guard entry.value.count == 8 else {
                throw EventStoreError(.incompatibleStorage, "undecodable checkpoint of \(consumer)")
            }
            return entry.value.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        }
    }

    public func saveCheckpoint(
        consumer: String, position: UInt64, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void
    ) {
        run(consumer: consumer, completion) { [bucket] () throws(EventStoreError) in
            let value = withUnsafeBytes(of: position.littleEndian) { Array($0) }
            do throws(NATSError) {
                try bucket.put("checkpoint." + keyValueToken(consumer), value: value)
            } catch {
                throw JetStreamSnapshotStore.writeError(error, stream: nil)
            }
        }
    }

    public func park(_ event: ParkedEvent, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void) {
        run(consumer: event.consumer, completion) { [bucket] () throws(EventStoreError) in
            let key = "parked." + keyValueToken(event.consumer)
            while true {
                let entry: JetStreamKeyValue.Entry?
                do throws(NATSError) {
                    entry = try bucket.get(key)
                } catch {
                    throw JetStreamEventStore.readError(error, stream: event.stream)
                }
                var list =
                    try entry.map { (entry) throws(EventStoreError) in
                        try Self.decode(entry.value, consumer: event.consumer)
                    } ?? []
                list.removeAll { $0.position == event.position }
                list.append(event)
                let value = Self.encode(list)
                do throws(NATSError) {
                    if let entry {
                        if try bucket.update(key, value: value, last: entry.revision) != nil { return }
                    } else if try bucket.create(key, value: value) != nil {
                        return
                    }
                } catch {
                    throw JetStreamSnapshotStore.writeError(error, stream: event.stream)
                }
            }
        }
    }

    public func parkedEvents(
        consumer: String, completion: @escaping @Sendable (Result<[ParkedEvent], EventStoreError>) -> Void
    ) {
        run(consumer: consumer, completion) { [bucket] () throws(EventStoreError) -> [ParkedEvent] in
            let entry: JetStreamKeyValue.Entry?
            do throws(NATSError) {
                entry = try bucket.get("parked." + keyValueToken(consumer))
            } catch {
                throw JetStreamEventStore.readError(error)
            }
            guard let entry else { return [] }
            return try Self.decode(entry.value, consumer: consumer).sorted { $0.position < $1.position }
        }
    }

    /// Format 1: `u8 1, varint count`, then per event: `varint position, string aggregateType, string aggregateID,
    /// varint version, string eventType, varint attempts, string lastError, 8 B parkedAt (LE)`; strings are
    /// `varint length + UTF-8`.
    static func encode(_ events: [ParkedEvent]) -> [UInt8] {
        var bytes: [UInt8] = [1]
        CommitRecord.appendVarint(UInt64(events.count), to: &bytes)
        for event in events {
            CommitRecord.appendVarint(event.position, to: &bytes)
            CommitRecord.appendString(event.stream.aggregateType, to: &bytes)
            CommitRecord.appendString(event.stream.aggregateID, to: &bytes)
            CommitRecord.appendVarint(event.version, to: &bytes)
            CommitRecord.appendString(event.eventType, to: &bytes)
            CommitRecord.appendVarint(UInt64(max(0, event.attempts)), to: &bytes)
            CommitRecord.appendString(event.lastError, to: &bytes)
            CommitRecord.appendFixed(event.parkedAt.nanosecondsSinceEpoch.littleEndian, to: &bytes)
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8], consumer: String) throws(EventStoreError) -> [ParkedEvent] {
        var reader = CommitRecord.Reader(bytes: bytes)
        do throws(CommitRecord.Malformed) {
            guard try reader.byte() == 1 else { throw CommitRecord.Malformed(reason: "unknown format") }
            let count = try reader.varint()
            guard count <= UInt64(bytes.count) else { throw CommitRecord.Malformed(reason: "count out of range") }
            var events: [ParkedEvent] = []
            for _ in 0..<count {
                let position = try reader.varint()
                let stream = StreamName(aggregateType: try reader.string(), aggregateID: try reader.string())
                let version = try reader.varint()
                let type = try reader.string()
                let attempts = try reader.varint()
                let lastError = try reader.string()
                let parkedAt = Int64(littleEndian: try reader.fixed(Int64.self))
                events.append(
                    ParkedEvent(
                        consumer: consumer, position: position, stream: stream, version: version, eventType: type,
                        attempts: Int(clamping: attempts), lastError: lastError,
                        parkedAt: EventTimestamp(nanosecondsSinceEpoch: parkedAt)))
            }
            return events
        } catch {
            throw EventStoreError(.incompatibleStorage, "undecodable parked events of \(consumer): \(error.reason)")
        }
    }
}
