import NIOCore
import Testing

@testable import HTTPFront

/// Chunked request bodies through the session (``HTTPMemoryConnection``): every request whole, byte by byte and in
/// every two-part split; refusals with their status and JSON body.
@Suite("HTTPChunkedDecoder")
struct HTTPChunkedDecoderTests {
    static let head = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"

    /// Feeds `text` in pieces of `step` bytes (0: whole) and returns what the connection wrote.
    static func exchange(_ text: String, step: Int = 0, limits: HTTPLimits = HTTPLimits()) -> (String, Bool) {
        let connection = HTTPMemoryConnection(service: TestService(), limits: limits)
        let bytes = Array(text.utf8)
        if step == 0 {
            bytes.withUnsafeBytes { connection.receive($0) }
        } else {
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + step)
                bytes[start..<end].withUnsafeBytes { connection.receive($0) }
                start = end
            }
        }
        return (connection.takeOutput(), connection.isClosed)
    }

    /// Feeds `text` split once at every position.
    static func everySplit(_ text: String, _ check: (String, Bool) -> Void) {
        let bytes = Array(text.utf8)
        for split in 1..<bytes.count {
            let connection = HTTPMemoryConnection(service: TestService())
            bytes[0..<split].withUnsafeBytes { connection.receive($0) }
            bytes[split...].withUnsafeBytes { connection.receive($0) }
            check(connection.takeOutput(), connection.isClosed)
        }
    }

    static func bodies(_ output: String) -> [String] {
        output.components(separatedBy: "HTTP/1.1 ").dropFirst().map { answer in
            String(answer[answer.range(of: "\r\n\r\n")!.upperBound...])
        }
    }

    @Test("chunks, extensions and trailers: the decoded body reaches the service; whole, byte by byte, every split")
    func decodes() {
        let request =
            Self.head + "5;name=value;x=\"q;uoted\"\r\nhello\r\n1 ; ext\r\n,\r\nB\r\n 0123456789\r\n"
            + "0;last\r\nTrailer-One: 1\r\nX-Checksum: abc\r\n\r\n"
        for step in [0, 1, 2, 3, 7] {
            let (output, closed) = Self.exchange(request + "GET /now HTTP/1.1\r\n\r\n", step: step)
            #expect(Self.bodies(output) == ["hello, 0123456789", "now"], "step \(step): \(output)")
            #expect(!closed)
        }
        Self.everySplit(request) { output, closed in
            #expect(Self.bodies(output) == ["hello, 0123456789"], "\(output)")
            #expect(!closed)
        }
    }

    @Test("an empty chunked body, upper-case hex, leading zeros; pipelined chunked requests keep working")
    func pipelined() {
        let first = Self.head + "0\r\n\r\n"
        let second = Self.head + "00A\r\nabcdefghij\r\n0\r\n\r\n"
        let third = "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
        for step in [0, 1, 5] {
            let (output, closed) = Self.exchange(first + second + third + first, step: step)
            #expect(Self.bodies(output) == ["", "abcdefghij", "xyz", ""], "step \(step): \(output)")
            #expect(!closed)
        }
    }

    @Test("many one-byte chunks: the kept bytes do not grow with the framing (body limit reached exactly)")
    func oneByteChunks() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 1_000
        let body = String(repeating: "z", count: 1_000)
        let request = Self.head + body.map { "1\r\n\($0)\r\n" }.joined() + "0\r\n\r\n"
        let (output, closed) = Self.exchange(request, step: 1, limits: limits)
        #expect(Self.bodies(output) == [body])
        #expect(!closed)
    }

    @Test(
        "malformed or oversized chunked bodies are refused with a JSON error and close",
        arguments: [
            ("zz\r\nab\r\n0\r\n\r\n", 400, "malformed chunk size"),
            ("\r\n", 400, "malformed chunk size"),
            ("-1\r\n", 400, "malformed chunk size"),
            ("0x2\r\nab\r\n0\r\n\r\n", 400, "malformed chunk size"),
            ("2\nab\r\n0\r\n\r\n", 400, "malformed chunk size"),
            ("2\rab\r\n0\r\n\r\n", 400, "chunk size line without CRLF"),
            ("2\r\nabc\r\n0\r\n\r\n", 400, "chunk data without CRLF"),
            ("2\r\nab\n0\r\n\r\n", 400, "chunk data without CRLF"),
            ("2\r\nab\r\n0\r\n\n", 400, "chunked body without final CRLF"),
            ("1000000000000000\r\n", 400, "chunk size too long"),
            ("ffffffffffffffff\r\n", 400, "chunk size too long"),
            ("4001\r\n", 413, "body larger than 16384 bytes"),
            ("2000\r\n" + String(repeating: "a", count: 8_192) + "\r\n2001\r\n", 413, "body larger than 16384 bytes"),
            ("1;a\u{1}b\r\n", 400, "invalid character in chunk extension"),
            ("0\r\nX: a\u{1}\r\n\r\n", 400, "invalid character in trailer"),
        ])
    func refused(body: String, status: Int, message: String) {
        for step in [0, 1] {
            let (output, closed) = Self.exchange(Self.head + body + "GET /now HTTP/1.1\r\n\r\n", step: step)
            #expect(output.hasPrefix("HTTP/1.1 \(status) "), "step \(step): \(output)")
            #expect(output.hasSuffix(#"{"error":"\#(message)"}"#), "step \(step): \(output)")
            #expect(output.contains("Connection: close"))
            #expect(!output.contains("now"), "nothing after a refusal is parsed")
            #expect(closed)
        }
    }

    @Test("Transfer-Encoding with Content-Length → 400; another coding before chunked → 501")
    func smuggling() {
        let (both, bothClosed) = Self.exchange(
            "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(both.hasPrefix("HTTP/1.1 400 "))
        #expect(both.hasSuffix(#"{"error":"Transfer-Encoding together with Content-Length"}"#))
        #expect(bothClosed)
        let (gzip, _) = Self.exchange("POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        #expect(gzip.hasPrefix("HTTP/1.1 501 "))
    }

    @Test("Expect: 100-continue with a chunked body: 100 Continue once, then the answer")
    func expectContinue() {
        let connection = HTTPMemoryConnection(service: TestService())
        let head = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        Array(head.utf8).withUnsafeBytes { connection.receive($0) }
        #expect(connection.takeOutput() == "HTTP/1.1 100 Continue\r\n\r\n")
        Array("3\r\nabc\r\n".utf8).withUnsafeBytes { connection.receive($0) }
        #expect(connection.takeOutput().isEmpty)
        Array("0\r\n\r\n".utf8).withUnsafeBytes { connection.receive($0) }
        #expect(Self.bodies(connection.takeOutput()) == ["abc"])
    }

    @Test("the decoder as a value: in-place decoding keeps only head and body between calls")
    func decoderValue() {
        let head = Array(Self.head.utf8)
        var bytes = head + Array("3;x\r\nabc\r\n2\r\n".utf8)
        var decoder = HTTPChunkedDecoder(headLength: head.count, limits: HTTPLimits())
        var result = bytes.withUnsafeMutableBytes { decoder.decode($0) }
        #expect(result == .needMore(keep: head.count + 3))
        bytes.removeLast(bytes.count - (head.count + 3))
        bytes += Array("de\r\n0\r\n\r\nGET".utf8)
        result = bytes.withUnsafeMutableBytes { decoder.decode($0) }
        #expect(result == .complete(end: bytes.count - 3))
        #expect(decoder.bodyLength == 5)
        #expect(String(decoding: bytes[head.count..<(head.count + 5)], as: UTF8.self) == "abcde")
    }
}
