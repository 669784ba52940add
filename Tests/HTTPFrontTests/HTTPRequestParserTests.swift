import NIOCore
import Testing

@testable import HTTPFront

@Suite("HTTPRequestParser")
struct HTTPRequestParserTests {
    static func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPRequestParser.Result {
        var parser = HTTPRequestParser(limits: limits)
        return Array(text.utf8).withUnsafeBytes { parser.parseHead($0) }
    }

    static func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
        if case .failure(let error) = parse(text, limits: limits) { return error.status.code }
        return nil
    }

    @Test("a simple GET")
    func simpleGet() throws {
        let request = "GET /counter/a HTTP/1.1\r\nHost: x\r\n\r\n"
        guard case .head(let head) = Self.parse(request) else {
            Issue.record("not parsed")
            return
        }
        #expect(head.method == .get)
        #expect(head.keepAlive)
        #expect(head.contentLength == 0)
        #expect(head.headLength == request.utf8.count)
        let target = Array(request.utf8)[head.targetOffset..<(head.targetOffset + head.targetLength)]
        #expect(String(decoding: target, as: UTF8.self) == "/counter/a")
    }

    @Test("POST with Content-Length, headers case-insensitive, OWS trimmed")
    func postWithBody() {
        guard
            case .head(let head) = Self.parse("POST /x HTTP/1.1\r\ncOnTeNt-LeNgTh:   13 \r\nCONNECTION: Close\r\n\r\n")
        else {
            Issue.record("not parsed")
            return
        }
        #expect(head.method == .post)
        #expect(head.contentLength == 13)
        #expect(!head.keepAlive)
    }

    @Test("HTTP/1.0 closes unless keep-alive is asked for; bare LF line ends are accepted")
    func http10() {
        guard case .head(let closing) = Self.parse("GET / HTTP/1.0\n\n"),
            case .head(let keeping) = Self.parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        else {
            Issue.record("not parsed")
            return
        }
        #expect(!closing.keepAlive)
        #expect(keeping.keepAlive)
        #expect(keeping.minorVersion == 0)
    }

    @Test("incomplete heads need more bytes")
    func incomplete() {
        #expect(Self.parse("GET / HTTP/1.1\r\nHost: x\r\n") == .needMore)
        #expect(Self.parse("GE") == .needMore)
    }

    @Test(
        "malformed requests are refused with the right status",
        arguments: [
            ("GET  / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1 \r\n\r\n", 400),
            ("GET noslash HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: a\u{01}b\r\n\r\n", 400),
            ("GET / HTTX/1.1\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\n\r\n", 505),
            ("\r\nGET / HTTP/1.1\r\n\r\n", 400),
            ("G(T / HTTP/1.1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            // RFC 9112 §6.3: chunked must be the final coding (else the body's end is unknown) → 400.
            ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            // §6.1: a coding the server does not understand before chunked → 501.
            ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", 413),
        ])
    func refused(request: String, status: Int) {
        #expect(Self.status(request) == status, "\(request.debugDescription)")
    }

    @Test("limits: head size → 431 (also before the head ends), target length → 414")
    func limits() {
        var limits = HTTPLimits()
        limits.maxHeadBytes = 256
        limits.maxTargetBytes = 64
        let bigHeader = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 300) + "\r\n\r\n"
        #expect(Self.status(bigHeader, limits: limits) == 431)
        #expect(Self.status("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 300), limits: limits) == 431)
        #expect(Self.status("GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\n\r\n", limits: limits) == 414)
    }

    @Test("fed one byte at a time, the parser finds the same head")
    func byteByByte() {
        let request = Array("POST /counter/b/increment HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        var result: HTTPRequestParser.Result = .needMore
        for end in 1...request.count {
            result = request[0..<end].withUnsafeBytes { parser.parseHead($0) }
            if end < request.count { #expect(result == .needMore) }
        }
        guard case .head(let head) = result else {
            Issue.record("not parsed")
            return
        }
        #expect(head.contentLength == 3)
        #expect(head.headLength == request.count)
    }
}
