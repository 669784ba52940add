import NIOCore
import NIOEmbedded
import Testing

@testable import HTTPFront

@Suite("HTTPConnectionHandler on EmbeddedChannel")
struct HTTPConnectionHandlerTests {
    static func makeChannel(_ service: TestService, limits: HTTPLimits = HTTPLimits()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let handler = HTTPConnectionHandler(
            service: service, metrics: HTTPMetrics(routeNames: service.routeNames), limits: limits,
            eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static func send(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    static func output(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    @Test("a request fed one byte at a time gets exactly one answer")
    func byteByByte() throws {
        let service = TestService()
        let channel = try Self.makeChannel(service)
        let request = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        for byte in request.utf8 {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        let text = try Self.output(channel)
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello")
        #expect(channel.isActive)
    }

    @Test("pipelined requests are answered in order although replies complete out of order")
    func pipelinedOutOfOrder() throws {
        let service = TestService()
        let channel = try Self.makeChannel(service)
        try Self.send(channel, "GET /later/1 HTTP/1.1\r\n\r\nGET /now HTTP/1.1\r\n\r\nGET /later/3 HTTP/1.1\r\n\r\n")
        #expect(try Self.output(channel).isEmpty)
        #expect(service.pendingCount == 2)
        service.complete(3)
        #expect(try Self.output(channel).isEmpty)
        service.complete(1)
        let text = try Self.output(channel)
        let bodies = text.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix(while: { $0 != "H" }) }
        #expect(bodies == ["k1=10", "now", "k3=30"], "\(text)")
    }

    @Test("a malformed request is answered 400 with a JSON body, then the connection closes")
    func malformedCloses() throws {
        let channel = try Self.makeChannel(TestService())
        try Self.send(channel, "GET /now HTTP/1.1\r\n\r\nBROKEN\r\n\r\nGET /now HTTP/1.1\r\n\r\n")
        let text = try Self.output(channel)
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(text.contains("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"))
        #expect(text.hasSuffix(#"{"error":"malformed request line"}"#))
        #expect(!channel.isActive)
    }

    @Test("Connection: close is honoured after the answer; later pipelined requests are ignored")
    func connectionClose() throws {
        let channel = try Self.makeChannel(TestService())
        try Self.send(channel, "GET /now HTTP/1.1\r\nConnection: close\r\n\r\nGET /now HTTP/1.1\r\n\r\n")
        let text = try Self.output(channel)
        #expect(text.components(separatedBy: "HTTP/1.1 200").count == 2)
        #expect(text.contains("Connection: close\r\n"))
        #expect(!channel.isActive)
    }

    @Test("limits: 431 for a large head, 413 for a large body; both close")
    func limits() throws {
        var limits = HTTPLimits()
        limits.maxHeadBytes = 128
        limits.maxBodyBytes = 8
        let headChannel = try Self.makeChannel(TestService(), limits: limits)
        try Self.send(headChannel, "GET /now HTTP/1.1\r\nX: " + String(repeating: "y", count: 200))
        #expect(try Self.output(headChannel).hasPrefix("HTTP/1.1 431 "))
        #expect(!headChannel.isActive)
        let bodyChannel = try Self.makeChannel(TestService(), limits: limits)
        try Self.send(bodyChannel, "POST /echo HTTP/1.1\r\nContent-Length: 9\r\n\r\n123456789")
        #expect(try Self.output(bodyChannel).hasPrefix("HTTP/1.1 413 "))
        #expect(!bodyChannel.isActive)
    }

    @Test("a full pipeline stops parsing until answers are written, then resumes")
    func backpressure() throws {
        var limits = HTTPLimits()
        limits.maxPipelined = 2
        let service = TestService()
        let channel = try Self.makeChannel(service, limits: limits)
        try Self.send(channel, (1...5).map { "GET /later/\($0) HTTP/1.1\r\n\r\n" }.joined())
        #expect(service.pendingCount == 2)
        service.complete(1)
        #expect(service.pendingCount == 2)
        for value in 2...5 { service.complete(value) }
        let text = try Self.output(channel)
        #expect(text.components(separatedBy: "HTTP/1.1 200").count == 6, "\(text)")
        #expect(text.contains("k5=50"))
    }

    @Test("HTTP/1.0 gets Connection: keep-alive when asked, and a close otherwise")
    func http10() throws {
        let keep = try Self.makeChannel(TestService())
        try Self.send(keep, "GET /now HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try Self.output(keep).contains("Connection: keep-alive\r\n"))
        #expect(keep.isActive)
        let close = try Self.makeChannel(TestService())
        try Self.send(close, "GET /now HTTP/1.0\r\n\r\n")
        #expect(try Self.output(close).contains("Connection: close\r\n"))
        #expect(!close.isActive)
    }

    @Test("an idle connection is closed after the idle timeout; an active one is not")
    func idleTimeout() throws {
        var limits = HTTPLimits()
        limits.idleTimeout = .seconds(1)
        let channel = try Self.makeChannel(TestService(), limits: limits)
        try Self.send(channel, "GET /now HTTP/1.1\r\n\r\n")
        #expect(try Self.output(channel).hasPrefix("HTTP/1.1 200"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(channel.isActive, "it read during the first period")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive, "nothing read during the second period")
    }

    @Test("read deadlines on the loop's clock: a trickled head gets 408 at its deadline, not before")
    func headDeadline() throws {
        var limits = HTTPLimits()
        limits.idleTimeout = nil
        limits.headTimeout = .seconds(2)
        limits.bodyTimeout = .seconds(2)
        let channel = try Self.makeChannel(TestService(), limits: limits)
        // Sweeps every 500 ms; the partial head is watched from the first sweep that sees it (t = 500 ms).
        for piece in ["GET /n", "o", "w HTTP/1.1\r\n", "Host: x\r\n"] {
            try Self.send(channel, piece)
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        }
        // t = 2 s: 1.5 s since the first sweep that saw it.
        #expect(try Self.output(channel).isEmpty, "not before the deadline")
        // t = 2.5 s: 2 s since then, though bytes kept arriving (a trickle does not restart the deadline).
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        let text = try Self.output(channel)
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(text)")
        #expect(text.hasSuffix(#"{"error":"request head not received in time"}"#))
        #expect(!channel.isActive)
    }
}
