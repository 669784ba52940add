import Logging
import NIOCore
import NIOPosix
import TestKit
import Testing

@testable import HTTPFront

@Suite("HTTPServer over real sockets")
struct HTTPServerTests {
    static func withServer(_ body: (Int, TestService, HTTPServer) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let service = TestService()
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), service: service, group: group,
            logger: Logger(label: "test"))
        let port = try await server.start()
        do {
            try await body(port, service, server)
        } catch {
            await server.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        await server.shutdown()
        try await group.shutdownGracefully()
    }

    @Test("keep-alive, pipelining with replies from another thread, Connection: close, malformed → 400 + close")
    func realSockets() async throws {
        try await withBlockingAllowed { try await Self.realSocketsBody() }
    }

    static func realSocketsBody() async throws {
        try await Self.withServer { port, service, _ in
            let client = try RawHTTPConnection(port: port)
            #expect(try client.request("GET", "/now").body == "now")
            #expect(try client.request("GET", "/now").body == "now")

            try client.send("GET /later/7 HTTP/1.1\r\n\r\nGET /now HTTP/1.1\r\n\r\nGET /later/8 HTTP/1.1\r\n\r\n")
            #expect(ChildProcess.waitUntil(timeout: 5) { service.pendingCount == 2 })
            let thread = Thread {
                service.complete(8); service.complete(7)
            }
            thread.start()
            #expect(try client.readResponse().body == "k7=70")
            #expect(try client.readResponse().body == "now")
            #expect(try client.readResponse().body == "k8=80")

            let other = try RawHTTPConnection(port: port)
            try other.send("GET /now HTTP/1.1\r\nBad Header\r\n\r\n")
            let refused = try other.readResponse()
            #expect(refused.status == 400)
            #expect(refused.body == #"{"error":"malformed header line"}"#)
            #expect(other.readsEndOfStream())

            // The first connection is unaffected.
            let last = try client.request("GET", "/nothing", close: true)
            #expect(last.status == 404)
            #expect(last.headers["connection"] == "close")
            #expect(client.readsEndOfStream())
        }
    }

    @Test("graceful shutdown finishes in-flight requests and refuses new connections")
    func gracefulShutdown() async throws {
        try await withBlockingAllowed { try await Self.gracefulShutdownBody() }
    }

    static func gracefulShutdownBody() async throws {
        try await Self.withServer { port, service, server in
            let client = try RawHTTPConnection(port: port)
            try client.send("GET /later/5 HTTP/1.1\r\n\r\n")
            #expect(ChildProcess.waitUntil(timeout: 5) { service.pendingCount == 1 })
            // On an executor of its own: the test's queue blocks below, and the cooperative pool may be busy with
            // other suites; the shutdown must make progress meanwhile.
            let stopping = Task(executorPreference: BlockingExecutor()) { await server.shutdown() }
            #expect(
                ChildProcess.waitUntil(timeout: 15) { server.drainRequested.load(ordering: .sequentiallyConsistent) })
            service.complete(5)
            let response = try client.readResponse()
            #expect(response.body == "k5=50")
            #expect(response.headers["connection"] == "close")
            await stopping.value
            #expect(!FreePort.isListening(port))
        }
    }
}

import Foundation
