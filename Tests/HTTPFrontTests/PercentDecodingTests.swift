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
