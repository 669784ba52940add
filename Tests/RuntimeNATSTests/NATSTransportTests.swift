import ClstrRuntime
import Synchronization
import Testing
import TestKit

@testable import RuntimeNATS

@Suite("NATSTransport against a real nats-server", .serialized, .timeLimit(.minutes(2)))
struct NATSTransportTests {
    @Test("request → reply through the transport, typed result decoded from WireBytes")
    func requestReply() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = TestShardHandler()
        let serving = try transport.serve(shards: [0, 1, 2, 3], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }

        for shard in 0..<4 {
            let (outcome, _) = await send(transport, shard: shard, value: 40 + shard)
            #expect(outcome.int == 41 + shard)
        }
        #expect(handler.handled.load(ordering: .relaxed) == 4)
    }

    @Test("2,000 requests in flight across 4 shards are all answered with the right values")
    func manyInFlight() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = TestShardHandler()
        let serving = try transport.serve(shards: [0, 1, 2, 3], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }

        let count = 2_000
        let collector = ReplyCollector(expected: count)
        let deadline = MonotonicClock.deadline(after: .seconds(20))
        for index in 0..<count {
            transport.request(
                ClusterRequest(
                    shard: index % 4, key: "key-\(index)", messageType: "inc", payload: .value(index),
                    deadline: deadline),
                replyTo: collector, context: UInt64(index))
        }
        let result = await collector.wait()
        #expect(result.duplicates == 0)
        let wrong = (0..<count).filter { result.outcomes[UInt64($0)]?.int != $0 + 1 }
        #expect(wrong.isEmpty, "wrong or failed replies: \(wrong.prefix(5).map { result.outcomes[UInt64($0)]! })")
        #expect(handler.handled.load(ordering: .relaxed) == count)
    }

    @Test("a shard nobody serves fails with noResponder at once")
    func noResponder() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }

        let (outcome, elapsed) = await send(transport, shard: 99, timeout: .seconds(5))
        #expect(outcome.errorCode == .noResponder)
        #expect(elapsed < .seconds(1), "took \(elapsed)")

        // Once a node stops serving a shard, the next request learns it at once too.
        let serving = try transport.serve(shards: [5], nodeID: "node-0", handler: TestShardHandler())
        #expect(await send(transport, shard: 5).outcome.int == 42)
        serving.cancel()
        let (afterCancel, afterCancelElapsed) = await send(transport, shard: 5, timeout: .seconds(5))
        #expect(afterCancel.errorCode == .noResponder)
        #expect(afterCancelElapsed < .seconds(1), "took \(afterCancelElapsed)")
    }

    @Test("a handler that never replies ends in deadlineExceeded shortly after the deadline")
    func deadline() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        let (outcome, elapsed) = await send(transport, shard: 0, type: "silent", timeout: .milliseconds(300))
        #expect(outcome.errorCode == .deadlineExceeded)
        #expect(elapsed >= .milliseconds(290) && elapsed < .milliseconds(1_000), "took \(elapsed)")
        // The transport still works afterwards.
        #expect(await send(transport, shard: 0).outcome.int == 42)
    }

    @Test("a remote handler's error arrives with its code and message")
    func remoteError() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        let error = try #require(await send(transport, shard: 0, type: "fail").outcome.error)
        #expect(error.code == RequestError.Code(rawValue: "insufficient_funds"))
        #expect(error.message == "balance 3 < 5")

        let opaque = try #require(await send(transport, shard: 0, type: "opaque").outcome.error)
        #expect(opaque.code == .codec)
    }

    @Test("non-codable payloads and reserved headers fail at once, before anything is published")
    func rejectedLocally() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = TestShardHandler()
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }

        let collector = ReplyCollector(expected: 2)
        transport.request(
            ClusterRequest(
                shard: 0, key: "k", messageType: "inc", payload: .value(TestShardHandler.NotCodable()),
                deadline: MonotonicClock.deadline(after: .seconds(5))),
            replyTo: collector, context: 1)
        transport.request(
            ClusterRequest(
                shard: 0, key: "k", messageType: "inc", payload: .value(1),
                deadline: MonotonicClock.deadline(after: .seconds(5)), headers: ["X-Clstr-Key": "k"]),
            replyTo: collector, context: 2)
        let result = await collector.wait()
        #expect(result.outcomes[1]?.errorCode == .codec)
        #expect(result.outcomes[2]?.errorCode == .badRequest)
        // A round trip after the rejections: had they been published, the handler would have seen them first.
        #expect(await send(transport, shard: 0, value: 41).outcome.int == 42)
        #expect(handler.handled.load(ordering: .relaxed) == 1, "only the valid request reached the handler")
    }

    @Test("garbage and unknown-version frames on the shard subject and the inbox are answered or dropped, never crash")
    func garbageFrames() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = TestShardHandler()
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }
        let raw = try NATSConnection(options: .init(urls: [server.url]))
        defer { raw.close() }

        // Requests: empty, unknown version, truncated, reserved header — each gets an error reply.
        let subject = transport.subject(forShard: 0)
        let versionTwo: [UInt8] = [2, 0, 0, 0, 0, 0, 0]
        var reserved = WireWriter()
        try NATSEnvelope.encodeRequest(
            ClusterRequest(shard: 0, key: "k", messageType: "inc", payload: .value(1), deadline: 0),
            remainingMicroseconds: 1_000_000, into: &reserved)
        reserved.bytes = Array(reserved.bytes.prefix(7))  // cut inside the header list
        for frame in [[], versionTwo, [1, 0x80], reserved.bytes] {
            let reply = try raw.request(subject: subject, bytes: frame, timeout: .seconds(2))
            let outcome = reply.withUnsafeBytes { NATSEnvelope.decodeReply($0) }
            #expect(outcome.errorCode == .codec, "frame \(frame) → \(outcome)")
        }
        var withReservedHeader = WireWriter()
        try NATSEnvelope.encodeRequest(
            ClusterRequest(
                shard: 0, key: "k", messageType: "inc", payload: .value(1), deadline: 0,
                headers: ["x-clstr-internal": "1"]),
            remainingMicroseconds: 1_000_000, into: &withReservedHeader)
        let reservedReply = try raw.request(subject: subject, bytes: withReservedHeader.bytes, timeout: .seconds(2))
        #expect(reservedReply.withUnsafeBytes { NATSEnvelope.decodeReply($0) }.errorCode == .badRequest)

        // A request without a reply subject is handled, and its reply dropped.
        var plain = WireWriter()
        try NATSEnvelope.encodeRequest(
            ClusterRequest(shard: 0, key: "no-reply", messageType: "inc", payload: .value(1), deadline: 0),
            remainingMicroseconds: 1_000_000, into: &plain)
        try raw.publish(subject: subject, bytes: plain.bytes)
        // Replies nobody waits for, and garbage, on the transport's inbox (tokens that cannot name a live slot:
        // anyone who can publish to an inbox could otherwise answer a pending request).
        for suffix in ["ffffff", "ffffffffffff", "zz", "1.zz", "123456789abcdef0123", ""] {
            try raw.publish(subject: transport.inboxSubject + "." + suffix, bytes: [1, 0, 1, 2])
            try raw.publish(subject: transport.inboxSubject + "." + suffix, bytes: [9])
        }
        try raw.flush()
        try transport.requestConnection.flush()

        #expect(await send(transport, shard: 0, value: 1).outcome.int == 2)
        #expect(handler.applies.withLock { $0["no-reply"] } == 1)
        #expect(handler.handled.load(ordering: .relaxed) == 2)
    }

    @Test(
        "close fails in-flight requests with outcomeUnknown and later ones with transportClosed; serve after close throws"
    )
    func closeFailsRequests() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        let inFlight = ReplyCollector(expected: 1)
        transport.request(
            ClusterRequest(
                shard: 0, key: "k", messageType: "silent", payload: .value(1),
                deadline: MonotonicClock.deadline(after: .seconds(10))),
            replyTo: inFlight, context: 1)
        try transport.requestConnection.flush()  // the request reached the node
        let start = ContinuousClock.now
        transport.close()
        transport.close()  // idempotent
        let result = await inFlight.wait()
        // It reached the node, which may have applied it: outcome unknown, not "closed" (which promises not sent).
        #expect(result.outcomes[1]?.errorCode == .outcomeUnknown)
        #expect(ContinuousClock.now - start < .seconds(4))  // by the close, not the 10 s deadline (a loose bound)
        #expect(await send(transport, shard: 0).outcome.errorCode == .transportClosed)
        #expect(throws: RequestError.self) {
            _ = try transport.serve(shards: [1], nodeID: "node-0", handler: TestShardHandler())
        }
    }
}
