#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// A per-thread, direct-mapped memo of recent BLAKE2b key hashes (``ShardMap/shard(forKey:)``): the hash costs
/// ~140 ns, a hit costs a `String` hash and compare (~25 ns). Entries are tagged with the shard map's seed
/// identity, so maps with different seeds never share an answer. Nothing is shared between threads.
@usableFromInline
final class KeyHashCache {
    static let capacity = 1_024
    private let keys: UnsafeMutablePointer<String>
    private let tags: UnsafeMutablePointer<UInt64>
    private let hashes: UnsafeMutablePointer<UInt64>

    private init() {
        keys = .allocate(capacity: Self.capacity)
        keys.initialize(repeating: "", count: Self.capacity)
        tags = .allocate(capacity: Self.capacity)
        tags.initialize(repeating: 0, count: Self.capacity)
        hashes = .allocate(capacity: Self.capacity)
        hashes.initialize(repeating: 0, count: Self.capacity)
    }

    deinit {
        keys.deinitialize(count: Self.capacity)
        keys.deallocate()
        tags.deallocate()
        hashes.deallocate()
    }

    /// The thread's cache (created on first use, released when the thread exits).
    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            Unmanaged<KeyHashCache>.fromOpaque(pointer).release()
        }
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return key
    }()

    private static var current: Unmanaged<KeyHashCache> {
        if let pointer = pthread_getspecific(threadKey) {
            return Unmanaged<KeyHashCache>.fromOpaque(pointer)
        }
        let cache = Unmanaged.passRetained(KeyHashCache())
        pthread_setspecific(threadKey, cache.toOpaque())
        return cache
    }

    /// Seed identities: 0 marks an empty entry.
    private static let nextTag = Atomic<UInt64>(1)

    /// A fresh identity for a seed prefix (one per ``ShardMap`` built).
    static func makeTag() -> UInt64 {
        // Relaxed: only uniqueness matters.
        nextTag.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// The BLAKE2b-8 hash of `prefix + key`, from this thread's memo when it has it.
    @usableFromInline
    static func hash(prefix: [UInt8], tag: UInt64, key: String) -> UInt64 {
        let slot = key.hashValue & (capacity - 1)
        // The thread's reference keeps the cache alive: no retain needed for this use.
        return current._withUnsafeGuaranteedRef { cache in
            if cache.tags[slot] == tag && cache.keys[slot] == key {
                return cache.hashes[slot]
            }
            let hash = prefix.withUnsafeBytes { Blake2b8.digest(prefix: $0, key: key) }
            cache.tags[slot] = tag
            cache.keys[slot] = key
            cache.hashes[slot] = hash
            return hash
        }
    }
}
