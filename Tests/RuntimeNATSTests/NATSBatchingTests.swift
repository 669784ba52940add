import ClstrRuntime
import Dispatch
import Synchronization
import Testing
import TestKit

@testable import RuntimeNATS

/// Records the order in which each key's requests reach the node (their Int payloads) and answers them like `inc`.
final class OrderRecordingHandler: ShardRequestHandler {
    let seen = Locked<[String: [Int]]>([:])

    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        guard case .bytes(let bytes) = request.payload, let value = try? WireBytes(bytes).decode(as: Int.self) else {
            return replyTo.deliver(.failure(RequestError(.badRequest, "expected an Int")), context: context)
        }
        seen.withLock { $0[request.key, default: []].append(value) }
        replyTo.deliver(.success(value + 1), context: context)
    }
}

/// Issues requests as one loop turn (``TurnBoundary/run(_:)``): everything for one shard leaves as one message
/// when the turn ends.
func sendTurn(
    _ transport: NATSTransport, to collector: ReplyCollector, _ requests: [(context: UInt64, request: ClusterRequest)]
) {
    TurnBoundary.run {
        for (context, request) in requests { transport.request(request, replyTo: collector, context: context) }
    }
}

func incRequest(
    shard: Int, key: String, value: Int, type: String = "inc", timeout: Duration = .seconds(5)
)
    -> ClusterRequest
{
    ClusterRequest(
        shard: shard, key: key, messageType: type, payload: .value(value),
        deadline: MonotonicClock.deadline(after: timeout))
}

@Suite("NATSTransport batching against a real nats-server", .serialized, .timeLimit(.minutes(2)))
struct NATSBatchingTests {
    @Test("a batch of one goes out at the end of its turn as a plain message and is answered")
    func batchOfOne() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        let collector = ReplyCollector(expected: 1)
        let start = ContinuousClock.now
        sendTurn(transport, to: collector, [(1, incRequest(shard: 0, key: "a", value: 1))])
        let result = await collector.wait()
        #expect(result.outcomes[1]?.int == 2)
        // Answered well inside its 5 s deadline: nothing held it back for a later turn (a loose bound, not a timing
        // figure: this machine's load can stretch a round trip past a second).
        #expect(ContinuousClock.now - start < .seconds(4))
        let statistics = transport.batchStatistics
        #expect(statistics.requestBatches == 0 && statistics.replyBatches == 0, "\(statistics)")
    }

    @Test("many requests in one turn travel as one message per shard; replies come back batched; all correct")
    func batchOfMany() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = TestShardHandler()
        let serving = try transport.serve(shards: [0, 1], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }

        let count = 200
        let collector = ReplyCollector(expected: count)
        sendTurn(
            transport, to: collector,
            (0..<count).map { (UInt64($0), incRequest(shard: $0 % 2, key: "key-\($0)", value: $0)) })
        let result = await collector.wait()
        #expect(result.duplicates == 0)
        let wrong = (0..<count).filter { result.outcomes[UInt64($0)]?.int != $0 + 1 }
        #expect(wrong.isEmpty, "\(wrong.prefix(5).map { result.outcomes[UInt64($0)]! })")
        let statistics = transport.batchStatistics
        #expect(statistics.requestBatches == 2 && statistics.requests == count, "\(statistics)")
        // The test handler answers inline, during the node's turn over each batch: one reply batch per batch.
        #expect(statistics.replyBatches == 2 && statistics.replies == count, "\(statistics)")
        #expect(handler.handled.load(ordering: .relaxed) == count)
    }

    @Test("a batch bigger than the count bound leaves in several messages before the turn ends")
    func countBound() async throws {
        let server = try NATSServer()
        var configuration = NATSTransport.Configuration(urls: [server.url], subjectPrefix: "test")
        configuration.maxBatchCount = 16
        let transport = try NATSTransport(configuration: configuration)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        let collector = ReplyCollector(expected: 100)
        sendTurn(transport, to: collector, (0..<100).map { (UInt64($0), incRequest(shard: 0, key: "k", value: $0)) })
        let result = await collector.wait()
        #expect((0..<100).allSatisfy { result.outcomes[UInt64($0)]?.int == $0 + 1 })
        // 6 full batches of 16 and a last one of 4.
        #expect(transport.batchStatistics.requestBatches == 7, "\(transport.batchStatistics)")
    }

    @Test("mixed deadlines in one batch: each request ends by its own deadline, the answered ones at once")
    func mixedDeadlines() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        var requests: [(UInt64, ClusterRequest)] = []
        for index in 0..<5 {
            requests.append(
                (UInt64(index), incRequest(shard: 0, key: "s", value: 0, type: "silent", timeout: .milliseconds(200))))
            requests.append((UInt64(10 + index), incRequest(shard: 0, key: "i", value: index)))
            requests.append(
                (
                    UInt64(20 + index),
                    incRequest(shard: 0, key: "s", value: 0, type: "silent", timeout: .milliseconds(700))
                ))
        }
        let collector = ReplyCollector(expected: requests.count)
        let start = ContinuousClock.now
        sendTurn(transport, to: collector, requests)
        let result = await collector.wait()
        #expect(transport.batchStatistics.requests == requests.count)
        for index in 0..<5 {
            #expect(result.outcomes[UInt64(10 + index)]?.int == index + 1)
            #expect(result.arrival[UInt64(10 + index)]! - start < .milliseconds(200))
            #expect(result.outcomes[UInt64(index)]?.errorCode == .deadlineExceeded)
            let short = result.arrival[UInt64(index)]! - start
            #expect(short >= .milliseconds(200) && short < .milliseconds(600), "\(short)")
            #expect(result.outcomes[UInt64(20 + index)]?.errorCode == .deadlineExceeded)
            let long = result.arrival[UInt64(20 + index)]! - start
            #expect(long >= .milliseconds(700) && long < .milliseconds(1_200), "\(long)")
        }
    }

    @Test("a batch whose node stopped serving fails every request with noResponder at once")
    func destinationVanishes() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0, 1], nodeID: "node-0", handler: TestShardHandler())
        let warm = ReplyCollector(expected: 10)
        sendTurn(transport, to: warm, (0..<10).map { (UInt64($0), incRequest(shard: 0, key: "w", value: $0)) })
        #expect(await warm.wait().outcomes.values.allSatisfy { $0.int != nil })
        serving.cancel()

        let collector = ReplyCollector(expected: 50)
        let start = ContinuousClock.now
        sendTurn(
            transport, to: collector,
            (0..<50).map { (UInt64($0), incRequest(shard: $0 % 2, key: "k\($0)", value: $0)) })
        let result = await collector.wait()
        #expect(result.duplicates == 0)
        let codes = Set(result.outcomes.values.map(\.errorCode))
        #expect(codes == [.noResponder], "\(codes)")
        #expect(ContinuousClock.now - start < .seconds(4))  // well before the 5 s deadlines (a loose bound)
    }

    @Test("with the shard map known, a turn's requests go as one message per owner node; a stopped node's fail")
    func nodeSubjects() async throws {
        let server = try NATSServer()
        var configuration = NATSTransport.Configuration(urls: [server.url], subjectPrefix: "test")
        configuration.shardOwners = ["node-a", "node-a", "node-b", "node-c"]
        let transport = try NATSTransport(configuration: configuration)
        defer { transport.close() }
        #expect(transport.batchesToNodeSubjects)
        let handler = OrderRecordingHandler()
        let servingA = try transport.serve(shards: [0, 1], nodeID: "node-a", handler: handler)
        defer { servingA.cancel() }
        let servingB = try transport.serve(shards: [2], nodeID: "node-b", handler: handler)
        defer { servingB.cancel() }
        // node-c serves nothing: its requests fail at once.

        let count = 120
        let collector = ReplyCollector(expected: count)
        sendTurn(
            transport, to: collector,
            (0..<count).map { (UInt64($0), incRequest(shard: $0 % 4, key: "key-\($0 % 4)", value: $0)) })
        let result = await collector.wait()
        for index in 0..<count {
            if index % 4 == 3 {
                #expect(result.outcomes[UInt64(index)]?.errorCode == .noResponder)
            } else {
                #expect(result.outcomes[UInt64(index)]?.int == index + 1)
            }
        }
        let statistics = transport.batchStatistics
        // node-a (shards 0 and 1) and node-b each got one message; node-c's was refused.
        #expect(statistics.requestBatches == 3 && statistics.requests == count, "\(statistics)")
        let seen = handler.seen.withLock { $0 }
        for key in 0..<3 { #expect(seen["key-\(key)"] == Array(stride(from: key, to: count, by: 4))) }
    }

    @Test("requests of one key keep their order within and across batches")
    func orderPerKey() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = OrderRecordingHandler()
        let serving = try transport.serve(shards: [0, 1, 2], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }

        let turns = 10
        let perTurn = 90
        let collector = ReplyCollector(expected: turns * perTurn)
        for turn in 0..<turns {
            sendTurn(
                transport, to: collector,
                (0..<perTurn).map { index in
                    let value = turn * perTurn + index
                    return (UInt64(value), incRequest(shard: index % 3, key: "key-\(index % 3)", value: value))
                })
        }
        let result = await collector.wait()
        #expect(result.outcomes.values.allSatisfy { $0.int != nil })
        let seen = handler.seen.withLock { $0 }
        for key in 0..<3 {
            let values = seen["key-\(key)"] ?? []
            #expect(values.count == turns * perTurn / 3)
            #expect(values == values.sorted(), "key-\(key) out of order")
        }
    }

    @Test("with batching off, a turn's requests leave one by one and are all answered")
    func unbatched() async throws {
        let server = try NATSServer()
        var configuration = NATSTransport.Configuration(urls: [server.url], subjectPrefix: "test")
        configuration.batching = false
        let transport = try NATSTransport(configuration: configuration)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        let collector = ReplyCollector(expected: 100)
        sendTurn(transport, to: collector, (0..<100).map { (UInt64($0), incRequest(shard: 0, key: "k", value: $0)) })
        let result = await collector.wait()
        #expect((0..<100).allSatisfy { result.outcomes[UInt64($0)]?.int == $0 + 1 })
        let statistics = transport.batchStatistics
        #expect(statistics.requestBatches == 0 && statistics.replyBatches == 0, "\(statistics)")
    }

    @Test(
        "nats-server restart with batches in flight: every request ends (applied and answered, or a clean error); none hang or apply twice"
    )
    func restartWithBatchesInFlight() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let handler = TestShardHandler()
        let serving = try transport.serve(shards: [0, 1], nodeID: "node-0", handler: handler)
        defer { serving.cancel() }

        let perTurn = 50
        func turn(_ turn: Int, _ collector: ReplyCollector) {
            sendTurn(
                transport, to: collector,
                (0..<perTurn).map { index in
                    let value = turn * perTurn + index
                    return (
                        UInt64(value),
                        incRequest(shard: index % 2, key: "key-\(value)", value: value, timeout: .milliseconds(1_500))
                    )
                })
        }
        // Before the outage: every batch is answered.
        let before = ReplyCollector(expected: 10 * perTurn)
        for index in 0..<10 { turn(index, before) }
        #expect(await before.wait().outcomes.values.allSatisfy { $0.int != nil })

        let turns = 30
        let collector = ReplyCollector(expected: turns * perTurn)
        server.stop()
        for index in 0..<turns {
            if index == 15 { try server.start() }
            turn(index + 10, collector)
            try await Task.sleep(for: .milliseconds(20))  // pacing the turns over the outage, not synchronisation
        }
        let result = await collector.wait()
        #expect(result.duplicates == 0)
        #expect(result.outcomes.count == turns * perTurn)
        let applies = handler.applies.withLock { $0 }
        var codes: [RequestError.Code: Int] = [:]
        for (context, outcome) in result.outcomes {
            let key = "key-\(context)"
            #expect((applies[key] ?? 0) <= 1, "\(key) applied twice")
            if let value = outcome.int {
                #expect(value == Int(context) + 1)
                #expect(applies[key] == 1, "\(key) answered but not applied")
            } else if let code = outcome.errorCode {
                codes[code, default: 0] += 1
                if code == .disconnected || code == .transportClosed || code == .noResponder {
                    #expect(applies[key] == nil, "\(key) failed as not sent but was applied")
                }
            }
        }
        let allowed: Set<RequestError.Code> = [.disconnected, .outcomeUnknown, .deadlineExceeded, .noResponder]
        #expect(Set(codes.keys).isSubset(of: allowed), "\(codes)")
        #expect(codes[.disconnected, default: 0] > 0, "\(codes)")
    }

    @Test("node IDs that are not subject tokens (10.0.0.1): batches go to the shard subjects and are answered")
    func nodeIDsWithDots() async throws {
        let server = try NATSServer()
        var configuration = NATSTransport.Configuration(urls: [server.url], subjectPrefix: "test")
        configuration.shardOwners = ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"]
        let transport = try NATSTransport(configuration: configuration)
        defer { transport.close() }
        #expect(!transport.batchesToNodeSubjects)
        let handler = TestShardHandler()
        let servingA = try transport.serve(shards: [0, 2], nodeID: "10.0.0.1", handler: handler)
        defer { servingA.cancel() }
        let servingB = try transport.serve(shards: [1, 3], nodeID: "10.0.0.2", handler: handler)
        defer { servingB.cancel() }

        let count = 80
        let collector = ReplyCollector(expected: count)
        sendTurn(
            transport, to: collector,
            (0..<count).map { (UInt64($0), incRequest(shard: $0 % 4, key: "key-\($0)", value: $0)) })
        let result = await collector.wait()
        let wrong = (0..<count).filter { result.outcomes[UInt64($0)]?.int != $0 + 1 }
        #expect(wrong.isEmpty, "\(wrong.prefix(5).map { result.outcomes[UInt64($0)]! })")
        // One message per shard subject.
        #expect(transport.batchStatistics.requestBatches == 4, "\(transport.batchStatistics)")
    }

    @Test("a large request after a batch near the byte bound leaves alone: the batch and it are both answered")
    func largeRequestAfterBatch() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        // 30 requests of ~1 KB (under the 32 KiB bound together), then one of ~1 MB: each fits the server's
        // 1 MiB max_payload, the two together do not.
        let lengths = Array(repeating: 1_000, count: 30) + [1_030_000, 1_000]
        let requests = lengths.enumerated().map { index, length in
            (
                UInt64(index),
                ClusterRequest(
                    shard: 0, key: "k", messageType: "length", payload: .value(String(repeating: "r", count: length)),
                    deadline: MonotonicClock.deadline(after: .seconds(10)))
            )
        }
        let collector = ReplyCollector(expected: requests.count)
        sendTurn(transport, to: collector, requests)
        let result = await collector.wait()
        for (index, length) in lengths.enumerated() {
            #expect(result.outcomes[UInt64(index)]?.int == length, "\(index): \(result.outcomes[UInt64(index)]!)")
        }
    }

    @Test(
        "large replies to one batch: the reply batch is sent before it would pass the bound; a reply over max_payload ends outcomeUnknown at once"
    )
    func largeReplies() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }

        // Small requests in one batch; the node answers them in one turn: ~30 KB of replies, one of ~1 MB (fits
        // alone), one over the server's 1 MiB max_payload, then small ones again.
        let sizes = Array(repeating: 1_000, count: 30) + [1_030_000, 1_100_000] + Array(repeating: 1_000, count: 5)
        let collector = ReplyCollector(expected: sizes.count)
        let start = ContinuousClock.now
        sendTurn(
            transport, to: collector,
            sizes.enumerated().map { index, size in
                (UInt64(index), incRequest(shard: 0, key: "k", value: size, type: "big", timeout: .seconds(10)))
            })
        let result = await collector.wait()
        for (index, size) in sizes.enumerated() where size != 1_100_000 {
            #expect(result.outcomes[UInt64(index)]?.string?.utf8.count == size, "\(index)")
        }
        let oversized = try #require(result.outcomes[31]?.error)
        #expect(oversized.code == .outcomeUnknown && oversized.message.contains("max_payload"), "\(oversized)")
        #expect(ContinuousClock.now - start < .seconds(8), "ended by a reply, not by the 10 s deadline")
        #expect(transport.replyFailures.oversized == 1, "\(transport.replyFailures)")
    }

    @Test(
        "a batch to a destination nobody serves, whose last request expired before the batch left: the others still end noResponder"
    )
    func noRespondersAfterLastExpired() async throws {
        let server = try NATSServer()
        let transport = try makeTransport(server)
        defer { transport.close() }
        // Shard 0 is served by nobody.
        let last: UInt64 = 9
        let lastEnded = DispatchSemaphore(value: 0)
        let collector = ReplyCollector(expected: 10)
        let signalling = SignallingHandler(collector, context: last, semaphore: lastEnded)
        let requests = (0..<10).map { index in
            (
                UInt64(index),
                incRequest(
                    shard: 0, key: "k\(index)", value: index,
                    timeout: UInt64(index) == last ? .milliseconds(30) : .seconds(5))
            )
        }
        let start = ContinuousClock.now
        // The turn (on a thread of its own: it blocks) ends only once the sweep has expired the last request.
        let thread = DedicatedThread.start {
            TurnBoundary.run {
                for (context, request) in requests { transport.request(request, replyTo: signalling, context: context) }
                lastEnded.wait()
            }
        }
        let result = await collector.wait()
        thread.join()
        #expect(result.outcomes[last]?.errorCode == .deadlineExceeded)
        for index in 0..<9 {
            #expect(result.outcomes[UInt64(index)]?.errorCode == .noResponder, "\(index)")
        }
        #expect(ContinuousClock.now - start < .seconds(4))  // well before the 5 s deadlines (a loose bound)
    }

    @Test("after close, a thread's batcher is dropped at the end of its next turn")
    func batcherDroppedAfterClose() async throws {
        let server = try NATSServer()
        let dropped = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            DedicatedThread.start {
                weak var batcher: NATSBatcher?
                do {
                    guard let transport = try? makeTransport(server) else {
                        return continuation.resume(returning: false)
                    }
                    let collector = ReplyCollector(expected: 1)
                    TurnBoundary.run {
                        transport.request(incRequest(shard: 0, key: "k", value: 1), replyTo: collector, context: 0)
                        batcher = transport.batchingState.batcher(on: TurnBoundary.current!)
                    }
                    transport.close()
                }
                let alive = batcher != nil
                TurnBoundary.run {}  // a later turn on this thread ends
                continuation.resume(returning: alive && batcher == nil)
            }.detach()
        }
        #expect(dropped, "the batcher lived through the turn and was dropped after the close")
    }
}

/// Forwards to a collector and signals `semaphore` when the outcome for `context` arrives.
final class SignallingHandler: ReplyHandler {
    let collector: ReplyCollector
    let context: UInt64
    let semaphore: DispatchSemaphore

    init(_ collector: ReplyCollector, context: UInt64, semaphore: DispatchSemaphore) {
        self.collector = collector
        self.context = context
        self.semaphore = semaphore
    }

    func deliver(_ reply: Outcome, context: UInt64) {
        collector.deliver(reply, context: context)
        if context == self.context { semaphore.signal() }
    }
}
