import Testing

@testable import HTTPFront

/// The session and its state machine driven through the in-memory engine: no socket, no thread.
@Suite("HTTPMemoryConnection")
struct HTTPMemoryConnectionTests {
    static func send(_ connection: HTTPMemoryConnection, _ text: String) {
        Array(text.utf8).withUnsafeBytes { connection.receive($0) }
    }

    @Test("keep-alive and pipelining: answers in request order, the connection stays open")
    func pipelined() {
        let service = TestService()
        let connection = HTTPMemoryConnection(service: service)
        Self.send(connection, "GET /later/1 HTTP/1.1\r\n\r\nGET /now HTTP/1.1\r\n\r\n")
        #expect(connection.takeOutput().isEmpty, "the head of the pipeline is deferred")
        service.complete(1)
        let text = connection.takeOutput()
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(text)")
        #expect(text.range(of: "k1=10")!.lowerBound < text.range(of: "now")!.lowerBound)
        #expect(!connection.isClosed)
    }

    @Test("Connection: close closes after its answer; later pipelined requests are not parsed")
    func connectionClose() {
        let service = TestService()
        let connection = HTTPMemoryConnection(service: service)
        Self.send(connection, "GET /now HTTP/1.1\r\nConnection: close\r\n\r\nGET /later/2 HTTP/1.1\r\n\r\n")
        let text = connection.takeOutput()
        #expect(text.contains("Connection: close"))
        #expect(connection.isClosed)
        #expect(service.pendingCount == 0)
    }

    @Test("end of stream with an answer deferred: the answer goes out, then the connection closes")
    func endOfStream() {
        let service = TestService()
        let connection = HTTPMemoryConnection(service: service)
        Self.send(connection, "GET /later/4 HTTP/1.1\r\n\r\n")
        connection.receiveEndOfStream()
        #expect(!connection.isClosed, "waits for the deferred answer")
        service.complete(4)
        #expect(connection.takeOutput().hasSuffix("k4=40"))
        #expect(connection.isClosed)
    }

    @Test("a malformed request gets 400 and a close; nothing after it is parsed")
    func refusal() {
        let service = TestService()
        let connection = HTTPMemoryConnection(service: service)
        Self.send(connection, "GET /now HTTP/1.1\r\nNo colon\r\n\r\nGET /later/5 HTTP/1.1\r\n\r\n")
        #expect(connection.takeOutput().hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(connection.isClosed)
        #expect(service.pendingCount == 0)
    }
}
