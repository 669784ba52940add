#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// A per-thread, direct-mapped memo of recent BLAKE2b key hashes (``ShardMap/shard(forKey:)``): the hash costs
/// ~140 ns, a hit ~60 ns. The slot comes from a cheap mix of the key's length and its first and last 8 bytes (cheaper
/// than `hashValue`'s SipHash); a hit needs the whole key equal, byte for byte.
/// Entries are tagged with the shard map's seed identity, so maps with different seeds never share an answer.
/// Nothing is shared between threads.
@usableFromInline
final class KeyHashCache {
    static let capacity = 256
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
        let rc = pthread_key_create(&key, releaseThreadCache)
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

    /// Keys longer than this are hashed every time (they take libb2's path anyway, and a memo must not keep
    /// arbitrarily large keys alive for the life of a thread).
    static let maxKeyBytes = 128

    /// The memo slot of a key: its length and first and last 8 UTF-8 bytes, mixed (any mix is correct: a hit
    /// compares the whole key, byte for byte).
    @inline(__always)
    static func slot(of utf8: UnsafeBufferPointer<UInt8>) -> Int {
        let count = utf8.count
        guard let base = UnsafeRawPointer(utf8.baseAddress), count > 0 else { return 0 }
        var first: UInt64 = 0
        var last: UInt64 = 0
        withUnsafeMutableBytes(of: &first) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: min(8, count)))
        }
        if count > 8 {
            withUnsafeMutableBytes(of: &last) {
                $0.copyMemory(from: UnsafeRawBufferPointer(start: base + max(8, count - 8), count: min(8, count - 8)))
            }
        }
        let mixed = (first ^ (last &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(count)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: mixed >> 56) & (capacity - 1)
    }

    /// Whether `stored` has exactly the bytes `utf8`. Bytes, not `String ==`: Swift's equality treats canonically
    /// equivalent strings ("é" and "e" + U+0301) as equal, but their hashes (and shards) differ.
    @inline(__always)
    static func sameBytes(_ stored: String, _ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        var stored = stored
        return stored.withUTF8 { bytes in
            bytes.count == utf8.count
                && (bytes.count == 0 || memcmp(bytes.baseAddress!, utf8.baseAddress!, bytes.count) == 0)
        }
    }

    /// The BLAKE2b-8 hash of `prefix + key`, from this thread's memo when it has it.
    @usableFromInline
    static func hash(prefix: [UInt8], tag: UInt64, key: String) -> UInt64 {
        var text = key
        return text.withUTF8 { utf8 -> UInt64 in
            let body = UnsafeRawBufferPointer(utf8)
            guard utf8.count <= maxKeyBytes else {
                return prefix.withUnsafeBytes { Blake2b8.digest(prefix: $0, body: body) }
            }
            let slot = Self.slot(of: utf8)
            // The thread's reference keeps the cache alive: no retain needed for this use.
            return current._withUnsafeGuaranteedRef { cache in
                if cache.tags[slot] == tag && sameBytes(cache.keys[slot], utf8) {
                    return cache.hashes[slot]
                }
                let hash = prefix.withUnsafeBytes { Blake2b8.digest(prefix: $0, body: body) }
                cache.tags[slot] = tag
                cache.keys[slot] = key
                cache.hashes[slot] = hash
                return hash
            }
        }
    }
}

/// The pthread destructor of a thread's ``KeyHashCache``: releases the retain taken when it was created.
#if canImport(Darwin)
    private func releaseThreadCache(_ pointer: UnsafeMutableRawPointer) {
        Unmanaged<KeyHashCache>.fromOpaque(pointer).release()
    }
#else
    private func releaseThreadCache(_ pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        Unmanaged<KeyHashCache>.fromOpaque(pointer).release()
    }
#endif
