import Foundation
import Logging
import NIOCore
import NIOPosix
import TestKit
import Testing

@testable import HTTPFront

/// The two engines that serve an ``HTTPService`` over real sockets.
enum Engine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case nio
    case epoll

    var testDescription: String { rawValue }
}

@Suite("HTTP servers over real sockets (SwiftNIO and epoll engines)")
struct HTTPServerTests {
    static func withServer(
        _ engine: Engine, limits: HTTPLimits = HTTPLimits(), port: Int = 0, threads: Int = 2,
        maxConnections: Int? = nil, expectStartFailure: Bool = false,
        _ body: (Int, TestService, any HTTPServing) async throws -> Void
    ) async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: port)
        configuration.limits = limits
        if let maxConnections { configuration.maxConnections = maxConnections }
        let service = TestService()
        let server: any HTTPServing
        let stop: () async -> Void
        switch engine {
        case .nio:
            let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            server = HTTPServer(
                configuration: configuration, service: service, group: group, logger: Logger(label: "test"))
            stop = { try? await group.shutdownGracefully() }
        case .epoll:
            let loops = EpollLoopGroup(threads: threads, name: "test")
            server = EpollHTTPServer(
                configuration: configuration, service: service, loops: loops, logger: Logger(label: "test"))
            stop = { loops.shutdown() }
        }
        if expectStartFailure {
            await #expect(throws: (any Error).self) { try await server.start() }
            await stop()
            return
        }
        let port = try await server.start()
        do {
            try await body(port, service, server)
        } catch {
            await server.shutdown()
            await stop()
            throw error
        }
        await server.shutdown()
        await stop()
    }

    static func drainRequested(_ server: any HTTPServing) -> Bool {
        if let nio = server as? HTTPServer { return nio.drainRequested.load(ordering: .sequentiallyConsistent) }
        if let epoll = server as? EpollHTTPServer {
            return epoll.drainRequested.load(ordering: .sequentiallyConsistent)
        }
        return false
    }

    @Test(
        "keep-alive, pipelining with replies from another thread, Connection: close, malformed → 400 + close",
        arguments: Engine.allCases)
    func realSockets(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.realSocketsBody(engine) }
    }

    static func realSocketsBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, service, _ in
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

    @Test("graceful shutdown finishes in-flight requests and refuses new connections", arguments: Engine.allCases)
    func gracefulShutdown(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.gracefulShutdownBody(engine) }
    }

    static func gracefulShutdownBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, service, server in
            let client = try RawHTTPConnection(port: port)
            try client.send("GET /later/5 HTTP/1.1\r\n\r\n")
            #expect(ChildProcess.waitUntil(timeout: 5) { service.pendingCount == 1 })
            // On an executor of its own: the test's queue blocks below, and the cooperative pool may be busy with
            // other suites; the shutdown must make progress meanwhile.
            let stopping = Task(executorPreference: BlockingExecutor()) { await server.shutdown() }
            #expect(ChildProcess.waitUntil(timeout: 15) { Self.drainRequested(server) })
            service.complete(5)
            let response = try client.readResponse()
            #expect(response.body == "k5=50")
            #expect(response.headers["connection"] == "close")
            await stopping.value
            // Refuses new connections. The port number alone proves nothing: suites running in parallel bind
            // ephemeral ports too and one may get this number as soon as it is free, so a connection that succeeds
            // must not have reached this server (its accept count stays).
            let accepted = server.metrics.acceptedConnections.load(ordering: .relaxed)
            if FreePort.isListening(port) {
                // A negative check: give a listener that wrongly stayed open time to accept.
                let grew = await eventually(seconds: 0.5) {
                    server.metrics.acceptedConnections.load(ordering: .relaxed) != accepted
                }
                #expect(!grew, "a connection reached the server after its shutdown")
            }
        }
    }

    @Test(
        "a pipelined burst far beyond the ring and the socket buffers is answered completely and in order",
        arguments: Engine.allCases)
    func backpressure(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.backpressureBody(engine) }
    }

    static func backpressureBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, _, _ in
            // 600 echoes of 8 KiB: ~5 MB each way, so the server must hold reading while its ring (64) is full and
            // while the socket does not take its answers, and resume both.
            let count = 600
            let payload = String(repeating: "x", count: 8_192)
            let client = try RawHTTPConnection(port: port, timeout: 20)
            // Sending and receiving on one socket from two threads is safe; `send` touches only the descriptor.
            nonisolated(unsafe) let sending = client
            let sender = Thread {
                for index in 0..<count {
                    let body = "\(index):" + payload
                    try? sending.send("POST /echo HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                }
            }
            sender.start()
            for index in 0..<count {
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.body.hasPrefix("\(index):"), "answer \(index) out of order")
                if response.status != 200 { break }
            }
            #expect(try client.request("GET", "/now").body == "now")
        }
    }

    @Test("a second server on a port in use fails to start; the first keeps serving", arguments: Engine.allCases)
    func portInUse(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.portInUseBody(engine) }
    }

    static func portInUseBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, _, _ in
            try await Self.withServer(engine, port: port, expectStartFailure: true) { _, _, _ in }
            let client = try RawHTTPConnection(port: port)
            for _ in 0..<20 { #expect(try client.request("GET", "/now").body == "now") }
        }
    }

    @Test("clients that vanish while answers are being written do not take the server down", arguments: Engine.allCases)
    func vanishingClients(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.vanishingClientsBody(engine) }
    }

    static func vanishingClientsBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, _, server in
            // Each client pipelines echoes of 16 KiB and resets the connection without reading: the server's writes
            // meet a reset socket (ECONNRESET, then EPIPE), which must not raise SIGPIPE in the server's process.
            let payload = String(repeating: "y", count: 16_000)
            let request = "POST /echo HTTP/1.1\r\nContent-Length: \(payload.utf8.count)\r\n\r\n\(payload)"
            for _ in 0..<5 {
                let client = try RawHTTPConnection(port: port, timeout: 1)
                for _ in 0..<40 { try? client.send(request) }
                client.resetAndClose()
            }
            // Every vanished connection handled (its writes met the reset) before checking the server.
            #expect(
                ChildProcess.waitUntil(timeout: 10) { server.metrics.openConnections.load(ordering: .relaxed) == 0 })
            let survivor = try RawHTTPConnection(port: port)
            #expect(try survivor.request("GET", "/now").body == "now")
        }
    }

    @Test(
        "a client that half-closes with an answer still deferred gets every answer, then end of stream",
        arguments: Engine.allCases)
    func halfClose(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.halfCloseBody(engine) }
    }

    static func halfCloseBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, service, _ in
            let client = try RawHTTPConnection(port: port)
            try client.send("GET /now HTTP/1.1\r\n\r\nGET /later/3 HTTP/1.1\r\n\r\n")
            #expect(ChildProcess.waitUntil(timeout: 5) { service.pendingCount == 1 })
            client.shutdownWrite()
            service.complete(3)
            #expect(try client.readResponse().body == "now")
            // Both engines answer what they received before the end of stream (SwiftNIO with remote half-closure
            // allowed), then close.
            #expect(try client.readResponse().body == "k3=30")
            #expect(client.readsEndOfStream())
        }
    }

    @Test(
        "requests sent together with the end of stream are all answered, then the connection closes at once",
        arguments: Engine.allCases)
    func requestsWithEndOfStream(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.requestsWithEndOfStreamBody(engine) }
    }

    static func requestsWithEndOfStreamBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, _, _ in
            // The half-close follows the bytes at once (as `nc -N` does): one readiness event carries both, and
            // a short read must not hide the end of stream (no further edge comes for it).
            let client = try RawHTTPConnection(port: port, timeout: 3)
            try client.send(String(repeating: "GET /now HTTP/1.1\r\n\r\n", count: 50))
            client.shutdownWrite()
            for index in 0..<50 { #expect(try client.readResponse().body == "now", "answer \(index)") }
            let started = ContinuousClock.now
            #expect(client.readsEndOfStream())
            #expect(ContinuousClock.now - started < .seconds(2), "closed at end of stream, not by a timeout")
        }
    }

    @Test("a refusal survives unread input: 413 for a body still arriving, then end of stream, not a reset")
    func refusalWithUnreadInput() async throws {
        try await withBlockingAllowed { try await Self.refusalWithUnreadInputBody(.epoll) }
    }

    static func refusalWithUnreadInputBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, _, _ in
            let client = try RawHTTPConnection(port: port, timeout: 3)
            // The head announces 1 MB (over the 16 KiB limit); 200 KB of it follow before the client reads.
            try client.send("POST /echo HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n")
            let chunk = [UInt8](repeating: 0x61, count: 200_000)
            try? client.send(chunk)
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(response.headers["connection"] == "close")
            #expect(client.readsEndOfStream())
        }
    }

    @Test("a request sent one byte per packet gets exactly one answer", arguments: Engine.allCases)
    func byteByByte(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.byteByByteBody(engine) }
    }

    static func byteByByteBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, _, _ in
            let client = try RawHTTPConnection(port: port)
            for byte in "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".utf8 {
                try client.send([byte])
            }
            #expect(try client.readResponse().body == "hello")
            #expect(try client.request("GET", "/now").body == "now", "the connection still serves")
        }
    }

    @Test("HTTP/1.0 gets Connection: keep-alive when asked, and a close otherwise", arguments: Engine.allCases)
    func http10(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.http10Body(engine) }
    }

    static func http10Body(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, _, _ in
            let keep = try RawHTTPConnection(port: port)
            try keep.send("GET /now HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try keep.readResponse().headers["connection"] == "keep-alive")
            try keep.send("GET /now HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try keep.readResponse().body == "now", "kept alive")
            let close = try RawHTTPConnection(port: port)
            try close.send("GET /now HTTP/1.0\r\n\r\n")
            #expect(try close.readResponse().headers["connection"] == "close")
            #expect(close.readsEndOfStream())
        }
    }

    @Test(
        "idle timeout: a kept-alive connection serves again within the period, is closed after it",
        arguments: Engine.allCases)
    func idleTimeout(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.idleTimeoutBody(engine) }
    }

    static func idleTimeoutBody(_ engine: Engine) async throws {
        var limits = HTTPLimits()
        limits.idleTimeout = .milliseconds(300)
        try await Self.withServer(engine, limits: limits) { port, _, server in
            let idle = try RawHTTPConnection(port: port)
            #expect(try idle.request("GET", "/now").body == "now")
            // A server that closed after every answer would fail here: the connection is kept alive.
            let answer = try idle.request("GET", "/now")
            #expect(answer.body == "now")
            #expect(answer.headers["connection"] != "close")
            #expect(ChildProcess.waitUntil(timeout: 5) { server.metrics.openConnections.load(ordering: .relaxed) == 0 })
            #expect(idle.readsEndOfStream())
        }
    }

    @Test("idle timeout: a connection with a request in flight is not idle", arguments: Engine.allCases)
    func idleWithRequestInFlight(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.idleWithRequestInFlightBody(engine) }
    }

    static func idleWithRequestInFlightBody(_ engine: Engine) async throws {
        var limits = HTTPLimits()
        limits.idleTimeout = .milliseconds(200)
        // One loop: the idle checks of all connections run on it, in the order they were opened.
        try await Self.withServer(engine, limits: limits, threads: 1) { port, service, server in
            let waiting = try RawHTTPConnection(port: port)
            try waiting.send("GET /later/5 HTTP/1.1\r\n\r\n")
            #expect(ChildProcess.waitUntil(timeout: 5) { service.pendingCount == 1 })
            // Control connections opened later and closed as idle show that checks ran on the waiting one: the
            // first check after its request clears its activity, the one that closes the second control finds it
            // without any read since and with the request in flight.
            for _ in 0..<2 {
                let control = try RawHTTPConnection(port: port)
                #expect(control.readsEndOfStream(), "the control connection was closed as idle")
            }
            service.complete(5)
            #expect(try waiting.readResponse().body == "k5=50", "the waiting connection was kept")
            #expect(server.metrics.acceptedConnections.load(ordering: .relaxed) == 3)
        }
    }

    @Test("lingering close: the peer's rest is dropped up to the byte limit, then the connection is closed")
    func lingerByteLimit() async throws {
        try await withBlockingAllowed { try await Self.lingerByteLimitBody(.epoll) }
    }

    static func lingerByteLimitBody(_ engine: Engine) async throws {
        var limits = HTTPLimits()
        limits.lingerByteLimit = 64 * 1_024
        limits.lingerTimeout = .seconds(60)
        limits.idleTimeout = nil
        try await Self.withServer(engine, limits: limits) { port, _, _ in
            let client = try RawHTTPConnection(port: port, timeout: 10)
            try client.send("POST /echo HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n")
            #expect(try client.readResponse().status == 413)
            // Keep sending the announced body: the server drops 64 KiB of it, then closes (a reset follows for
            // what it no longer reads). Without the limit it would read and drop all 8 MiB, and every send would
            // succeed until the 60 s deadline.
            let chunk = [UInt8](repeating: 0x61, count: 16 * 1_024)
            var sent = 0
            while sent < 8 << 20, (try? client.send(chunk)) != nil {
                sent += chunk.count
            }
            #expect(sent < 8 << 20, "the server closed after the byte limit (sent \(sent) bytes)")
        }
    }

    @Test("lingering close: a peer that neither sends nor closes is closed at the linger deadline")
    func lingerDeadline() async throws {
        try await withBlockingAllowed { try await Self.lingerDeadlineBody(.epoll) }
    }

    static func lingerDeadlineBody(_ engine: Engine) async throws {
        var limits = HTTPLimits()
        limits.lingerTimeout = .milliseconds(200)
        limits.idleTimeout = nil
        try await Self.withServer(engine, limits: limits) { port, _, server in
            let client = try RawHTTPConnection(port: port, timeout: 10)
            try client.send("POST /echo HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n")
            #expect(try client.readResponse().status == 413)
            // Our side of the connection stays open and silent: only the linger deadline ends it (no idle timeout).
            #expect(client.readsEndOfStream(), "the server shut its side after the answer")
            #expect(
                ChildProcess.waitUntil(timeout: 8) { server.metrics.openConnections.load(ordering: .relaxed) == 0 },
                "closed by the linger deadline")
        }
    }

    @Test(
        "a chunked body sent one byte per packet is decoded; pipelined requests after it are served",
        arguments: Engine.allCases)
    func chunkedByteByByte(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.chunkedByteByByteBody(engine) }
    }

    static func chunkedByteByByteBody(_ engine: Engine) async throws {
        try await Self.withServer(engine) { port, _, _ in
            let client = try RawHTTPConnection(port: port)
            let chunked =
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\nGET /now HTTP/1.1\r\n\r\n"
            for byte in chunked.utf8 { try client.send([byte]) }
            #expect(try client.readResponse().body == "hello, world")
            #expect(try client.readResponse().body == "now")
            // Whole, pipelined with a Content-Length request.
            try client.send(
                "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                    + "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nde")
            #expect(try client.readResponse().body == "abc")
            #expect(try client.readResponse().body == "de")
            // A chunk over the body limit: 413 with a JSON body, then the connection closes.
            try client.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4001\r\n")
            let refused = try client.readResponse()
            #expect(refused.status == 413)
            #expect(refused.body == #"{"error":"body larger than 16384 bytes"}"#)
            #expect(client.readsEndOfStream())
        }
    }

    @Test(
        "head deadline: a head trickled byte by byte is answered 408 and closed, and counted",
        arguments: Engine.allCases)
    func headDeadline(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.headDeadlineBody(engine) }
    }

    static func headDeadlineBody(_ engine: Engine) async throws {
        var limits = HTTPLimits()
        limits.headTimeout = .milliseconds(300)
        limits.idleTimeout = nil  // only the deadline can end it
        try await Self.withServer(engine, limits: limits) { port, _, server in
            let client = try RawHTTPConnection(port: port, timeout: 5)
            let started = ContinuousClock.now
            // A trickle: a byte every 50 ms for 150 ms (then silence, so that no byte is unread when it closes).
            for byte in "GET /".utf8.prefix(4) {
                try client.send([byte])
                usleep(50_000)
            }
            let response = try client.readResponse()
            let elapsed = ContinuousClock.now - started
            #expect(response.status == 408)
            #expect(response.body == #"{"error":"request head not received in time"}"#)
            #expect(response.headers["connection"] == "close")
            #expect(client.readsEndOfStream())
            #expect(elapsed >= .milliseconds(290), "not before the deadline (\(elapsed))")
            #expect(elapsed < .seconds(3), "soon after the deadline (\(elapsed))")
            #expect(server.metrics.headTimeouts.load(ordering: .relaxed) == 1)
            #expect(server.metrics.bodyTimeouts.load(ordering: .relaxed) == 0)
            var text = PrometheusExposition()
            server.metrics.render(into: &text)
            #expect(text.text.contains(#"clstr_http_timeouts_total{kind="head"} 1"#))
            // Complete requests on another connection are untouched by the deadline.
            let other = try RawHTTPConnection(port: port)
            #expect(try other.request("GET", "/now").body == "now")
        }
    }

    @Test(
        "body deadline: a body that stops arriving (Content-Length or chunked) is answered 408 and closed",
        arguments: Engine.allCases)
    func bodyDeadline(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.bodyDeadlineBody(engine) }
    }

    static func bodyDeadlineBody(_ engine: Engine) async throws {
        var limits = HTTPLimits()
        limits.bodyTimeout = .milliseconds(200)
        limits.idleTimeout = nil
        try await Self.withServer(engine, limits: limits) { port, _, server in
            for partial in [
                "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
                "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            ] {
                let client = try RawHTTPConnection(port: port, timeout: 5)
                // A complete request first: the deadline watches the partial one only.
                try client.send("GET /now HTTP/1.1\r\n\r\n" + partial)
                #expect(try client.readResponse().body == "now")
                let response = try client.readResponse()
                #expect(response.status == 408)
                #expect(response.body == #"{"error":"request body not received in time"}"#)
                #expect(client.readsEndOfStream())
            }
            #expect(server.metrics.bodyTimeouts.load(ordering: .relaxed) == 2)
            #expect(server.metrics.headTimeouts.load(ordering: .relaxed) == 0)
        }
    }

    @Test(
        "connection cap: beyond it a connection gets 503 with a JSON body and is closed; a freed place serves again",
        arguments: Engine.allCases)
    func connectionCap(engine: Engine) async throws {
        try await withBlockingAllowed { try await Self.connectionCapBody(engine) }
    }

    static func connectionCapBody(_ engine: Engine) async throws {
        try await Self.withServer(engine, maxConnections: 2) { port, _, server in
            let first = try RawHTTPConnection(port: port)
            let second = try RawHTTPConnection(port: port)
            #expect(try first.request("GET", "/now").body == "now")
            #expect(try second.request("GET", "/now").body == "now")
            let refused = try RawHTTPConnection(port: port)
            let answer = try refused.readResponse()
            #expect(answer.status == 503)
            #expect(answer.body == #"{"error":"too many connections"}"#)
            #expect(answer.headers["connection"] == "close")
            #expect(refused.readsEndOfStream())
            #expect(server.metrics.refusedConnections.load(ordering: .relaxed) == 1)
            #expect(try second.request("GET", "/now").body == "now", "the open ones keep serving")
            var text = PrometheusExposition()
            server.metrics.render(into: &text)
            #expect(text.text.contains("clstr_http_connections_refused_total 1"))
            // A place freed: a new connection is served (once the server has seen the close).
            _ = try first.request("GET", "/now", close: true)
            #expect(first.readsEndOfStream())
            #expect(
                ChildProcess.waitUntil(timeout: 5) {
                    guard let next = try? RawHTTPConnection(port: port, timeout: 2),
                        let response = try? next.request("GET", "/now")
                    else { return false }
                    return response.body == "now"
                })
        }
    }
}

@Suite("epoll engine: new connections go to the loop with the fewest")
struct EpollConnectionBalanceTests {
    @Test("a burst of connections splits evenly over the loops (not 39/1), and closed ones leave the count")
    func burstSplitsEvenly() async throws {
        try await withBlockingAllowed {
            let loops = EpollLoopGroup(threads: 2, name: "balance")
            let server = EpollHTTPServer(
                configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), service: TestService(),
                loops: loops, logger: Logger(label: "test"))
            let port = try await server.start()
            // Opened back to back: without balancing, the loop that wins the first wake-up accepts most of them.
            var connections: [RawHTTPConnection] = []
            for _ in 0..<40 { connections.append(try RawHTTPConnection(port: port)) }
            for connection in connections { #expect(try connection.request("GET", "/now").body == "now") }
            let counts = loops.loops.map { $0.connectionCount.load(ordering: .relaxed) }
            #expect(counts.reduce(0, +) == 40)
            #expect(counts.allSatisfy { abs($0 - 20) <= 2 }, "connections per loop: \(counts)")
            // Closed connections leave their loop's count.
            for connection in connections.prefix(10) {
                _ = try connection.request("GET", "/now", close: true)
                #expect(connection.readsEndOfStream())
            }
            #expect(
                ChildProcess.waitUntil(timeout: 5) {
                    loops.loops.map { $0.connectionCount.load(ordering: .relaxed) }.reduce(0, +) == 30
                })
            await server.shutdown()
            loops.shutdown()
        }
    }
}
