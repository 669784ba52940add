import CNATS

/// A JetStream key-value bucket (`kvStore*`): get, create-if-absent and compare-and-set update on the revision.
///
/// Every call blocks its thread for a round trip: call them from a dedicated thread.
public final class JetStreamKeyValue: @unchecked Sendable {
    // @unchecked Sendable: `handle` is an immutable pointer to a libnats KV store, which is thread-safe for the
    // calls made here; destroyed only in deinit. `context` keeps the JetStream context alive.
    let handle: OpaquePointer
    /// Keeps the JetStream context (and its connection) alive as long as the bucket.
    public let context: JetStreamContext
    /// The bucket's name.
    public let bucket: String

    /// Binds to `bucket`, creating it (file storage, one replica, history 1) when it does not exist.
    /// - Parameters:
    ///   - context: the JetStream context.
    ///   - bucket: the bucket name (`[A-Za-z0-9_-]+`).
    ///   - storage: where the bucket keeps its values.
    /// - Throws: ``NATSError``.
    public init(
        context: JetStreamContext, bucket: String, storage: JetStreamContext.Storage = .file
    )
        throws(NATSError)
    {
        var store: OpaquePointer?
        var status = LibNATS.bindKeyValue(&store, context.handle, bucket: bucket)
        if status == .notFound {
            var configuration = kvConfig()
            kvConfig_Init(&configuration)
            configuration.History = 1
            configuration.Replicas = 1
            configuration.StorageType = storage == .file ? js_FileStorage : js_MemoryStorage
            status = bucket.withCString { name in
                configuration.Bucket = name
                return LibNATS.createKeyValue(&store, context.handle, configuration: &configuration)
            }
        }
        guard status == .ok, let store else { throw NATSError(status: status, operation: "js_CreateKeyValue") }
        self.handle = store
        self.context = context
        self.bucket = bucket
    }

    deinit {
        kvStore_Destroy(handle)
    }

    /// A value and its revision (the stream sequence of the put that wrote it).
    public struct Entry: Sendable {
        public var value: [UInt8]
        public var revision: UInt64
    }

    /// The current value of `key`.
    /// - Returns: the entry, or `nil` when the key has no value (never written, or deleted).
    /// - Throws: ``NATSError`` (`timeout`, `connectionClosed`, …).
    public func get(_ key: String) throws(NATSError) -> Entry? {
        var entry: OpaquePointer?
        let status = LibNATS.keyValueGet(&entry, handle, key: key)
        if status == .notFound { return nil }
        guard status == .ok, let entry else { throw NATSError(status: status, operation: "kvStore_Get") }
        defer { kvEntry_Destroy(entry) }
        let count = Int(kvEntry_ValueLen(entry))
        var value: [UInt8] = []
        if count > 0, let bytes = kvEntry_Value(entry) {
            value = [UInt8](UnsafeRawBufferPointer(start: bytes, count: count))
        }
        return Entry(value: value, revision: kvEntry_Revision(entry))
    }

    /// Writes `value` only if `key` has no value (`kvStore_Create`).
    /// - Returns: the new revision, or `nil` when the key already has a value.
    /// - Throws: ``NATSError`` for any other failure.
    public func create(_ key: String, value: [UInt8]) throws(NATSError) -> UInt64? {
        var revision: UInt64 = 0
        let status = value.withUnsafeBytes { LibNATS.keyValueCreate(&revision, handle, key: key, bytes: $0) }
        if status == .ok { return revision }
        let error = NATSError(status: status, operation: "kvStore_Create")
        if try isCompareFailure(error, key: key, expected: 0) { return nil }
        throw error
    }

    /// Writes `value` only if `key`'s current revision is `last` (`kvStore_Update`: compare-and-set).
    /// - Returns: the new revision, or `nil` when the revision has moved.
    /// - Throws: ``NATSError`` for any other failure.
    public func update(_ key: String, value: [UInt8], last: UInt64) throws(NATSError) -> UInt64? {
        var revision: UInt64 = 0
        let status = value.withUnsafeBytes {
            LibNATS.keyValueUpdate(&revision, handle, key: key, bytes: $0, last: last)
        }
        if status == .ok { return revision }
        let error = NATSError(status: status, operation: "kvStore_Update")
        if try isCompareFailure(error, key: key, expected: last) { return nil }
        throw error
    }

    /// Writes `value` whatever the current revision (`kvStore_Put`).
    /// - Returns: the new revision.
    /// - Throws: ``NATSError``.
    @discardableResult
    public func put(_ key: String, value: [UInt8]) throws(NATSError) -> UInt64 {
        var revision: UInt64 = 0
        try value.withUnsafeBytes { LibNATS.keyValuePut(&revision, handle, key: key, bytes: $0) }.check("kvStore_Put")
        return revision
    }

    /// Deletes `key`'s value (a delete marker; ``get(_:)`` then returns `nil`).
    /// - Throws: ``NATSError``.
    public func delete(_ key: String) throws(NATSError) {
        try LibNATS.keyValueDelete(handle, key: key).check("kvStore_Delete")
    }

    /// Whether a failed create/update failed its revision check. libnats reports it as a generic `NATS_ERR` with
    /// the server's text ("wrong last sequence"), so a server error is confirmed by reading the key's revision.
    private func isCompareFailure(_ error: NATSError, key: String, expected: UInt64) throws(NATSError) -> Bool {
        guard error.status == .error else { return false }
        let current = try get(key)?.revision ?? 0
        return current != expected
    }
}
