import CBlake2

/// BLAKE2b with an 8-byte digest (the parameterised 64-bit output, unkeyed): the hash the reference uses for
/// routing. Keys up to one 128-byte block take `clstr_blake2b8`'s single unrolled compression (about a quarter
/// faster than libb2's general entry point, which longer input goes to); tests hold it to libb2 for every length
/// from 0 to 300.
///
/// This is the only Swift code that calls into `CBlake2`.
@usableFromInline
enum Blake2b8 {
    /// The digest of `bytes`, read as a big-endian integer.
    /// - Parameter bytes: the input; may be empty.
    /// - Returns: the 8-byte digest as a big-endian `UInt64`.
    @usableFromInline
    static func digest(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var out: UInt64 = 0
        let status = withUnsafeMutableBytes(of: &out) { output in
            clstr_blake2b8(output.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.baseAddress, bytes.count)
        }
        // libb2 fails only on invalid parameters (null output, outlen outside 1...64, null input with a length);
        // none of them can occur here.
        assert(status == 0, "blake2b failed with \(status)")
        return UInt64(bigEndian: out)
    }

    /// The digest of `prefix ‖ body` without allocating: the two parts are joined in a stack buffer (a heap buffer
    /// only when they are too long for the stack).
    /// - Parameters:
    ///   - prefix: the first part (the seed and its separator, or empty).
    ///   - body: the second part.
    /// - Returns: the digest as a big-endian `UInt64`.
    @usableFromInline
    static func digest(prefix: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> UInt64 {
        if prefix.isEmpty { return digest(body) }
        let total = prefix.count + body.count
        // withUnsafeTemporaryAllocation uses the stack for small sizes and falls back to the heap for large ones.
        return withUnsafeTemporaryAllocation(byteCount: total, alignment: 8) { buffer in
            let base = buffer.baseAddress!
            base.copyMemory(from: prefix.baseAddress!, byteCount: prefix.count)
            if let bodyBase = body.baseAddress, body.count > 0 {
                (base + prefix.count).copyMemory(from: bodyBase, byteCount: body.count)
            }
            return digest(UnsafeRawBufferPointer(buffer))
        }
    }

    /// The digest of `prefix ‖ UTF-8(key)`, without allocating for native strings.
    /// - Parameters:
    ///   - prefix: the first part (the seed and its separator, or empty).
    ///   - key: the string whose UTF-8 bytes follow.
    /// - Returns: the digest as a big-endian `UInt64`.
    @usableFromInline
    static func digest(prefix: UnsafeRawBufferPointer, key: String) -> UInt64 {
        if let hash = key.utf8.withContiguousStorageIfAvailable({
            digest(prefix: prefix, body: UnsafeRawBufferPointer($0))
        }) {
            return hash
        }
        // A bridged or otherwise non-contiguous string: make a native copy once.
        var copy = key
        return copy.withUTF8 { digest(prefix: prefix, body: UnsafeRawBufferPointer($0)) }
    }
}
