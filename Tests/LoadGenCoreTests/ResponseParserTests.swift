import NIOCore
import Testing

@testable import LoadGenCore

@Suite struct ResponseParserTests {
    /// Feeds `text` in pieces of `step` bytes; returns the outcome after the last piece.
    private func parse(
        _ text: String, step: Int, isHead: Bool = false, capture: Bool = true
    ) -> (ResponseParser.Outcome, ResponseParser) {
        var parser = ResponseParser(captureBody: capture)
        parser.reset(isHead: isHead)
        let bytes = Array(text.utf8)
        var outcome = ResponseParser.Outcome.needMore
        var i = 0
        while i < bytes.count {
            let piece = Array(bytes[i..<min(i + step, bytes.count)])
            outcome = piece.withUnsafeBytes { parser.feed($0) }
            if outcome != .needMore { break }
            i += step
        }
        return (outcome, parser)
    }

    @Test(arguments: [1, 2, 7, 1000])
    func contentLength(step: Int) {
        let (outcome, parser) = parse("HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX: y\r\n\r\nhello", step: step)
        #expect(outcome == .complete)
        #expect(parser.status == 201)
        #expect(parser.bodyBytes == 5)
        #expect(String(decoding: parser.body, as: UTF8.self) == "hello")
        #expect(parser.keepAlive)
    }

    @Test(arguments: [1, 3, 1000])
    func chunked(step: Int) {
        let text =
            "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"
        let (outcome, parser) = parse(text, step: step)
        #expect(outcome == .complete)
        #expect(parser.chunked)
        #expect(parser.bodyBytes == 15)
        #expect(String(decoding: parser.body, as: UTF8.self) == "hello0123456789")
    }

    @Test func connectionCloseAndHTTP10() {
        let (a, pa) = parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", step: 1000)
        #expect(a == .complete && !pa.keepAlive)
        let (b, pb) = parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", step: 1000)
        #expect(b == .complete && !pb.keepAlive)
        let (c, pc) = parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", step: 1000)
        #expect(c == .complete && pc.keepAlive)
    }

    @Test func bodyUntilClose() {
        var (outcome, parser) = parse("HTTP/1.0 200 OK\r\n\r\nsome body", step: 4)
        #expect(outcome == .needMore)
        #expect(parser.finishOnClose() == .complete)
        #expect(String(decoding: parser.body, as: UTF8.self) == "some body")
        outcome = .needMore
    }

    @Test func noBodyForHeadAnd204() {
        let (a, _) = parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", step: 1000, isHead: true)
        #expect(a == .complete)
        let (b, _) = parse("HTTP/1.1 204 No Content\r\n\r\n", step: 1000)
        #expect(b == .complete)
    }

    @Test func interimContinueIsSkipped() {
        let (outcome, parser) = parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", step: 1000)
        #expect(outcome == .complete && parser.status == 200)
    }

    @Test func malformed() {
        let (outcome, _) = parse("SSH-2.0-OpenSSH\r\n", step: 1000)
        #expect(outcome == .malformed("malformed HTTP response \"SSH-2.0-OpenSSH\""))
        let (bad, _) = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", step: 1000)
        #expect(bad == .malformed("malformed chunked encoding"))
    }

    @Test func resetKeepsCountingSeparately() {
        var parser = ResponseParser()
        parser.reset(isHead: false)
        let one = Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".utf8)
        #expect(one.withUnsafeBytes { parser.feed($0) } == .complete)
        parser.reset(isHead: false)
        let two = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nz".utf8)
        #expect(two.withUnsafeBytes { parser.feed($0) } == .complete)
        #expect(parser.status == 404 && parser.bodyBytes == 1 && parser.body.isEmpty)
    }
}
