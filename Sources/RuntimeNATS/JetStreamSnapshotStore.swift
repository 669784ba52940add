import Dispatch
import EventSourcing

/// A ``SnapshotStore`` in a JetStream key-value bucket (`<prefix>_snapshots`, file storage, one replica, history 1):
/// one key per stream, written with revision compare-and-set so that the stale-write guard (never replace a
/// snapshot by an older one) holds between racing writers on any node.
///
/// Durability as for ``JetStreamEventStore``: acknowledged by the server, fsynced by nats-server 2.9 every
/// 2 minutes. Every operation is one or a few round trips on a store thread, never on the cooperative pool.
public final class JetStreamSnapshotStore: SnapshotStore {
    let bucket: JetStreamKeyValue
    let metrics: EventStoreMetrics?
    let worker = DispatchQueue(label: "clstr.jetstream.snapshots", attributes: .concurrent)

    /// Opens (creating it when needed) the bucket `<prefix>_snapshots`. Blocks for a round trip.
    /// - Parameters:
    ///   - context: the JetStream context (for example the event store's `context`).
    ///   - prefix: the store's prefix (letters, digits, `_` and `-` are kept, other characters become `_`).
    ///   - metrics: where saves, stale saves and loads are counted.
    /// - Throws: ``EventStoreError`` `backendUnavailable`.
    public init(
        context: JetStreamContext, prefix: String = "clstr", metrics: EventStoreMetrics? = nil
    )
        throws(EventStoreError)
    {
        do throws(NATSError) {
            bucket = try JetStreamKeyValue(context: context, bucket: keyValueBucketName(prefix, "snapshots"))
        } catch {
            throw EventStoreError(.backendUnavailable, "cannot open the snapshot bucket", underlying: error)
        }
        self.metrics = metrics
    }

    /// The bucket key of `stream`: `<type>.<id>`, each part kept when it is `[A-Za-z0-9_-]+`, else `=` + hex.
    static func key(_ stream: StreamName) -> String {
        keyValueToken(stream.aggregateType) + "." + keyValueToken(stream.aggregateID)
    }

    public func saveSnapshot(
        _ snapshot: Snapshot, completion: @escaping @Sendable (Result<SnapshotSaveOutcome, EventStoreError>) -> Void
    ) {
        guard snapshot.stream.isValid, snapshot.version >= 1 else {
            return completion(
                .failure(EventStoreError(.invalidArgument, "invalid snapshot", stream: snapshot.stream)))
        }
        worker.async { [self] in
            let key = Self.key(snapshot.stream)
            let value = Self.encode(snapshot)
            do throws(NATSError) {
                // Compare-and-set loop: read the stored version, write only on top of the revision read.
                while true {
                    if let entry = try bucket.get(key) {
                        if let stored = try? Self.decode(entry.value, stream: snapshot.stream),
                            stored.version >= snapshot.version
                        {
                            metrics?.snapshotStale.wrappingAdd(1, ordering: .relaxed)
                            return completion(.success(.stale))
                        }
                        guard try bucket.update(key, value: value, last: entry.revision) != nil else { continue }
                    } else {
                        guard try bucket.create(key, value: value) != nil else { continue }
                    }
                    metrics?.snapshotSaves.wrappingAdd(1, ordering: .relaxed)
                    return completion(.success(.saved))
                }
            } catch {
                metrics?.snapshotFailures.wrappingAdd(1, ordering: .relaxed)
                completion(.failure(Self.writeError(error, stream: snapshot.stream)))
            }
        }
    }

    public func loadSnapshot(
        stream: StreamName, completion: @escaping @Sendable (Result<Snapshot?, EventStoreError>) -> Void
    ) {
        guard stream.isValid else {
            return completion(.failure(EventStoreError(.invalidArgument, "invalid stream name", stream: stream)))
        }
        worker.async { [self] in
            do throws(NATSError) {
                guard let entry = try bucket.get(Self.key(stream)) else { return completion(.success(nil)) }
                do throws(EventStoreError) {
                    let snapshot = try Self.decode(entry.value, stream: stream)
                    metrics?.snapshotLoads.wrappingAdd(1, ordering: .relaxed)
                    completion(.success(snapshot))
                } catch {
                    completion(.failure(error))
                }
            } catch {
                completion(.failure(JetStreamEventStore.readError(error, stream: stream)))
            }
        }
    }

    public func deleteSnapshot(
        stream: StreamName, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void
    ) {
        guard stream.isValid else {
            return completion(.failure(EventStoreError(.invalidArgument, "invalid stream name", stream: stream)))
        }
        worker.async { [self] in
            do throws(NATSError) {
                try bucket.delete(Self.key(stream))
                completion(.success(()))
            } catch {
                completion(.failure(Self.writeError(error, stream: stream)))
            }
        }
    }

    /// A failed write: a timeout leaves it unknown, anything else did not write.
    static func writeError(_ error: NATSError, stream: StreamName?) -> EventStoreError {
        EventStoreError(
            error.status == .timeout ? .outcomeUnknown : .backendUnavailable, "JetStream key-value write failed",
            stream: stream, underlying: error)
    }

    /// Format 1: `u8 1, varint version, varint position, varint schemaVersion, 8 B createdAt (LE), payload`.
    static func encode(_ snapshot: Snapshot) -> [UInt8] {
        var bytes: [UInt8] = [1]
        bytes.reserveCapacity(40 + snapshot.payload.count)
        CommitRecord.appendVarint(snapshot.version, to: &bytes)
        CommitRecord.appendVarint(snapshot.position, to: &bytes)
        CommitRecord.appendVarint(UInt64(snapshot.schemaVersion), to: &bytes)
        CommitRecord.appendFixed(snapshot.createdAt.nanosecondsSinceEpoch.littleEndian, to: &bytes)
        bytes.append(contentsOf: snapshot.payload)
        return bytes
    }

    static func decode(_ bytes: [UInt8], stream: StreamName) throws(EventStoreError) -> Snapshot {
        var reader = CommitRecord.Reader(bytes: bytes)
        do throws(CommitRecord.Malformed) {
            guard try reader.byte() == 1 else { throw CommitRecord.Malformed(reason: "unknown snapshot format") }
            let version = try reader.varint()
            let position = try reader.varint()
            let schema = try reader.varint()
            let created = Int64(littleEndian: try reader.fixed(Int64.self))
            let payload = try reader.bytes(count: bytes.count - reader.offset)
            return Snapshot(
                stream: stream, version: version, position: position, schemaVersion: UInt32(truncatingIfNeeded: schema),
                createdAt: EventTimestamp(nanosecondsSinceEpoch: created), payload: payload)
        } catch {
            throw EventStoreError(
                .incompatibleStorage, "undecodable snapshot of \(stream): \(error.reason)", stream: stream)
        }
    }
}

/// `<prefix>_<suffix>` with every character outside `[A-Za-z0-9_-]` of the prefix replaced by `_`.
func keyValueBucketName(_ prefix: String, _ suffix: String) -> String {
    String(
        prefix.map { character -> Character in
            character.isASCII && (character.isLetter || character.isNumber || character == "-") ? character : "_"
        }) + "_" + suffix
}

/// A key token: `token` when it is `[A-Za-z0-9_-]+`, else `=` and the hex of its UTF-8 (injective: a kept token
/// never contains `=`).
func keyValueToken(_ token: String) -> String {
    let plain =
        !token.isEmpty
        && token.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    if plain { return token }
    let digits = Array("0123456789abcdef".utf8)
    var bytes: [UInt8] = [UInt8(ascii: "=")]
    for byte in token.utf8 {
        bytes.append(digits[Int(byte >> 4)])
        bytes.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: bytes, as: UTF8.self)
}
