import CBlake2
import Testing

@testable import ClstrRuntime

@Suite("BLAKE2b-8 single-block fast path")
struct Blake2b8Tests {
    /// libb2's digest of `bytes`, read as a big-endian integer (what the fast path must reproduce).
    static func reference(_ bytes: [UInt8]) -> UInt64 {
        var out: UInt64 = 0
        let status = withUnsafeMutableBytes(of: &out) { output in
            bytes.withUnsafeBytes { blake2b(output.baseAddress, $0.baseAddress, nil, 8, bytes.count, 0) }
        }
        #expect(status == 0)
        return UInt64(bigEndian: out)
    }

    @Test("equals libb2 for every length 0…300, random and patterned bytes")
    func matchesLibb2() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...300 {
            let random = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let ones = [UInt8](repeating: 0xFF, count: length)
            let zeros = [UInt8](repeating: 0, count: length)
            for bytes in [random, ones, zeros] {
                let fast = bytes.withUnsafeBytes { Blake2b8.digest($0) }
                #expect(fast == Self.reference(bytes), "length \(length)")
            }
        }
    }

    @Test("the RFC 7693 style known answer: BLAKE2b-64 of \"abc\" through both paths")
    func knownAnswer() {
        let abc = Array("abc".utf8)
        #expect(abc.withUnsafeBytes { Blake2b8.digest($0) } == Self.reference(abc))
        // Prefix + body concatenation goes through the same path.
        let joined = "clstr" + "abc"
        let viaPrefix = "clstr".utf8.withContiguousStorageIfAvailable { prefix in
            Blake2b8.digest(prefix: UnsafeRawBufferPointer(prefix), key: "abc")
        }
        #expect(viaPrefix == Self.reference(Array(joined.utf8)))
    }
}
