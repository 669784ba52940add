import Testing

@testable import HTTPFront

@Suite("Percent decoding")
struct PercentDecodingTests {
    static func decode(_ raw: String) -> String? {
        Array(raw.utf8).withUnsafeBytes { PercentDecoding.decodeSegment($0) }
    }

    @Test("escapes decode as UTF-8; plus stays plus")
    func decodes() {
        #expect(Self.decode("plain") == "plain")
        #expect(Self.decode("a%20b") == "a b")
        #expect(Self.decode("a%2Fb") == "a/b")
        #expect(Self.decode("caf%C3%A9") == "café")
        #expect(Self.decode("%E6%BC%A2%F0%9F%98%80") == "漢😀")
        #expect(Self.decode("a+b") == "a+b")
        #expect(Self.decode("%") == nil)
        #expect(Self.decode("%2") == nil)
        #expect(Self.decode("%G1") == nil)
        #expect(Self.decode("%C3%28") == nil)
        #expect(Self.decode("%FF") == nil)
    }
}

extension PercentDecodingTests {
    @Test("UTF-8 is validated without allocating: overlong forms, surrogates and truncated sequences are refused")
    func validatesUTF8() {
        #expect(Self.decode("%C0%AF") == nil, "overlong /")
        #expect(Self.decode("%ED%A0%80") == nil, "a surrogate")
        #expect(Self.decode("%E6%BC") == nil, "truncated")
        #expect(Self.decode("%F4%90%80%80") == nil, "above U+10FFFF")
        #expect(Self.decode("%F4%8F%BF%BF") == "\u{10FFFF}")
    }

    @Test("a segment without escapes is handed over as it is; one with escapes is decoded into a buffer")
    func viewsWithoutCopy() {
        let plain = Array("a-long-counter-id-0123456789".utf8)
        plain.withUnsafeBytes { raw in
            #expect(PercentDecoding.withDecodedSegment(raw) { $0.baseAddress == raw.baseAddress } == true)
        }
        let escaped = Array("a%20long%20counter%20id".utf8)
        escaped.withUnsafeBytes { raw in
            #expect(
                PercentDecoding.withDecodedSegment(raw) { String(decoding: $0, as: UTF8.self) } == "a long counter id")
        }
    }
}
