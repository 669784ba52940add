import ClstrRuntime
import Testing
import TestKit

@testable import RuntimeNATS

@Suite("NATSTransport across a nats-server restart", .serialized, .timeLimit(.minutes(2)))
struct NATSTransportRestartTests {
    @Test(
        "requests during an outage fail cleanly within their deadline; after restart they succeed; none applied twice")
    func serverRestart() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = TestShardHandler()
        let serving = try transport.serve(shards: [0, 1], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }

        var sent = 0
        func request(timeout: Duration) async -> (outcome: Outcome, elapsed: Duration) {
            sent += 1
            return await send(transport, shard: sent % 2, value: sent, key: "key-\(sent)", timeout: timeout)
        }

        for _ in 0..<20 {
            #expect(await request(timeout: .seconds(2)).outcome.int != nil)
        }

        server.stop()
        // During the outage: every request ends within its deadline (plus the sweep), with a clean error.
        var outageCodes: [RequestError.Code] = []
        for _ in 0..<10 {
            let (outcome, elapsed) = await request(timeout: .milliseconds(300))
            if let code = outcome.errorCode { outageCodes.append(code) }
            #expect(elapsed < .milliseconds(1_000), "took \(elapsed)")
        }
        #expect(outageCodes.count >= 9, "almost every outage request fails: \(outageCodes)")
        #expect(
            outageCodes.allSatisfy { [.disconnected, .outcomeUnknown, .deadlineExceeded, .noResponder].contains($0) },
            "\(outageCodes)")
        #expect(outageCodes.contains(.disconnected))

        // A node can start serving during the outage: its subscriptions are sent when the connection is back.
        let lateServing = try transport.serve(shards: [2], nodeID: "node-late", handler: handler)
        defer { lateServing.cancel() }

        try server.start()
        // Both connections reconnect on their own (250 ms reconnect wait); wait for the first success.
        let recoveryStart = ContinuousClock.now
        var recovered = false
        while ContinuousClock.now - recoveryStart < .seconds(15) {
            if await request(timeout: .milliseconds(500)).outcome.int != nil {
                recovered = true
                break
            }
            try await Task.sleep(for: .milliseconds(50))  // pacing between probes, not synchronisation
        }
        #expect(recovered, "no request succeeded within 15 s of the restart")

        for _ in 0..<20 {
            let outcome = await request(timeout: .seconds(2)).outcome
            #expect(outcome.int != nil, "after reconnect: \(outcome)")
        }

        #expect(await send(transport, shard: 2, value: 1, key: "late-shard").outcome.int == 2)

        let applies = handler.applies.withLock { $0 }
        #expect(applies.values.allSatisfy { $0 == 1 }, "applied twice: \(applies.filter { $0.value > 1 })")
    }

    @Test(
        "a request in flight when the connection drops ends with outcomeUnknown (it may have been applied), never disconnected"
    )
    func inFlightAtDisconnect() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = TestShardHandler()
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }
        #expect(await send(transport, shard: 0).outcome.int == 42)

        // `silent`: the node receives the request (and could have applied it) but never answers.
        let collector = ReplyCollector(expected: 1)
        transport.request(
            ClusterRequest(
                shard: 0, key: "k", messageType: "silent", payload: .value(1),
                deadline: MonotonicClock.deadline(after: .seconds(30))),
            replyTo: collector, context: 1)
        #expect(await eventually { handler.handled.load(ordering: .relaxed) == 2 }, "the node got the request")
        let stoppedAt = ContinuousClock.now
        server.stop()
        let result = await collector.wait()
        let outcome = try #require(result.outcomes[1])
        #expect(outcome.errorCode == .outcomeUnknown, "\(outcome)")
        #expect(result.arrival[1]! - stoppedAt < .seconds(10), "ended with the connection, not at the 30 s deadline")

        // A request sent while the connection is down was certainly not sent: `disconnected`.
        #expect(await eventually { !transport.isConnected })
        #expect(await send(transport, shard: 0, timeout: .seconds(1)).outcome.errorCode == .disconnected)
    }
}
