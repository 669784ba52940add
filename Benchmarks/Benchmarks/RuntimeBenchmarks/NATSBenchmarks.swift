import Benchmark
import ClstrRuntime
import RuntimeNATS
import Synchronization
import ProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// NATS transport against bare libnats, in the same run, against a nats-server the setup starts on a free port.
///
/// - bare: `natsConnection_Request` on a send-asap connection to an echo responder replying from its libnats
///   callback on another send-asap connection (the floor for one round trip through nats-server).
/// - transport: ``NATSTransport`` request → node handler (replies inline) → reply, awaited on a ``ReplySlot``
///   (spins briefly, then parks), and once more on a condition variable the waiter sleeps on at once, as
///   `natsConnection_Request` does (the like-for-like variant).
/// - throughput: 256 requests kept in flight on one transport (one request connection, one serving connection).
/// - batched: the same with batching on and the requests sent from turns (``TurnBoundary``): the first window as
///   one turn, then each reply batch's handling as one (every reply sends the next request), so requests and
///   replies travel as batches; and a single request per turn (a batch of one: a plain message at the turn's end).
///   The unbatched variants turn batching off.
func registerNATSBenchmarks() {
    let latency = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 200, maxDuration: .seconds(3),
        maxIterations: 20_000)

    Benchmark(
        "NATS bare libnats request/reply (send-asap)", configuration: latency,
        closure: { benchmark, fixture in
            let payload: [UInt8] = [84]
            payload.withUnsafeBytes { bytes in
                for _ in benchmark.scaledIterations {
                    blackHole(
                        try? fixture.bareRequester.requestDiscardingReply(
                            subject: "bench.bare", bytes: bytes, timeoutMilliseconds: 5_000))
                }
            }
        }, setup: { try NATSBenchmarkFixture() }, teardown: { NATSBenchmarkFixture.stopAll() })

    Benchmark(
        "NATS transport request→reply (send-asap)", configuration: latency,
        closure: { benchmark, fixture in
            let slot = ReplySlot()
            measureRequestReply(benchmark, fixture, replyTo: slot) { blackHole(slot.wait()) }
        }, setup: { try NATSBenchmarkFixture(batching: false) }, teardown: { NATSBenchmarkFixture.stopAll() })

    Benchmark(
        "NATS transport request→reply, one request per turn (batching on)", configuration: latency,
        closure: { benchmark, fixture in
            let slot = ReplySlot()
            measureRequestReply(benchmark, fixture, replyTo: slot, inTurns: true) { blackHole(slot.wait()) }
        }, setup: { try NATSBenchmarkFixture(batching: true) }, teardown: { NATSBenchmarkFixture.stopAll() })

    Benchmark(
        "NATS transport request→reply, caller blocks on a condition variable (send-asap)", configuration: latency,
        closure: { benchmark, fixture in
            let slot = BlockingReplySlot()
            measureRequestReply(benchmark, fixture, replyTo: slot) { blackHole(slot.wait()) }
        }, setup: { try NATSBenchmarkFixture() }, teardown: { NATSBenchmarkFixture.stopAll() })

    let throughput = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 2, scalingFactor: .kilo,
        maxDuration: .seconds(4), maxIterations: 200)

    Benchmark(
        "NATS transport throughput, 256 in flight (send-asap)", configuration: throughput,
        closure: { benchmark, fixture in
            blackHole(fixture.pipeline.run(total: benchmark.scaledIterations.count, window: 256))
        }, setup: { try NATSBenchmarkFixture(batching: false) }, teardown: { NATSBenchmarkFixture.stopAll() })

    Benchmark(
        "NATS transport throughput, 256 in flight, batched turns (send-asap)", configuration: throughput,
        closure: { benchmark, fixture in
            blackHole(fixture.pipeline.run(total: benchmark.scaledIterations.count, window: 256, inTurns: true))
        }, setup: { try NATSBenchmarkFixture(batching: true) }, teardown: { NATSBenchmarkFixture.stopAll() })

    Benchmark(
        "NATS transport throughput, 256 in flight (buffered, no send-asap)", configuration: throughput,
        closure: { benchmark, fixture in
            blackHole(fixture.pipeline.run(total: benchmark.scaledIterations.count, window: 256))
        }, setup: { try NATSBenchmarkFixture(sendAsap: false, batching: false) },
        teardown: { NATSBenchmarkFixture.stopAll() })
}

/// nats-server, a bare requester/echo pair and a transport serving shard 0.
final class NATSBenchmarkFixture: Sendable {
    private static let live = Mutex<[NATSBenchmarkFixture]>([])

    let server: NATSServer
    let bareRequester: NATSConnection
    let bareResponder: NATSConnection
    let echo: NATSEchoResponder
    let transport: NATSTransport
    let serving: any TransportSubscription
    let pipeline: NATSPipeline

    init(sendAsap: Bool = true, batching: Bool = false) throws {
        server = try NATSServer()
        var options = NATSConnection.Options(urls: [server.url])
        options.sendAsap = true
        bareRequester = try NATSConnection(options: options)
        bareResponder = try NATSConnection(options: options)
        echo = try bareResponder.serveEcho(subject: "bench.bare")
        var configuration = NATSTransport.Configuration(urls: [server.url], subjectPrefix: "bench")
        configuration.sendAsap = sendAsap
        configuration.batching = batching
        transport = try NATSTransport(configuration: configuration)
        serving = try transport.serve(shards: [0], nodeID: "bench-node", handler: IncrementHandler())
        pipeline = NATSPipeline(transport: transport)
        Self.live.withLock { $0.append(self) }
    }

    /// Closes every fixture's connections and stops its server.
    static func stopAll() {
        for fixture in live.withLock({ list in
            defer { list.removeAll() }; return list
        }) {
            fixture.serving.cancel()
            fixture.echo.cancel()
            fixture.transport.close()
            fixture.bareRequester.close()
            fixture.bareResponder.close()
            fixture.server.stop()
        }
    }
}

/// Replies to an Int payload with the Int + 1, inline on the libnats delivery thread.
final class IncrementHandler: ShardRequestHandler {
    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        guard case .bytes(let bytes) = request.payload, let value = try? WireBytes(bytes).decode(as: Int.self) else {
            return replyTo.deliver(.failure(RequestError(.badRequest, "expected an Int")), context: context)
        }
        replyTo.deliver(.success(value + 1), context: context)
    }
}

/// Keeps `window` requests in flight: each reply (on the inbox thread) sends the next request.
final class NATSPipeline: ReplyHandler {
    private let transport: NATSTransport
    private let total = Atomic<Int>(0)
    private let issued = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)
    private let done = ReplySlot()

    init(transport: NATSTransport) { self.transport = transport }

    /// Sends `total` requests with `window` in flight and waits for the last reply.
    /// - Returns: the number of failed requests (0 expected).
    func run(total count: Int, window: Int, inTurns: Bool = false) -> Int {
        // Relaxed: `run` is not re-entered; the replies of the previous run have all arrived (the slot's wait
        // synchronised with the last of them).
        total.store(count, ordering: .relaxed)
        issued.store(0, ordering: .relaxed)
        completed.store(0, ordering: .relaxed)
        failures.store(0, ordering: .relaxed)
        if inTurns {
            TurnBoundary.run { for _ in 0..<min(window, count) { issueNext() } }
        } else {
            for _ in 0..<min(window, count) { issueNext() }
        }
        _ = done.wait()
        return failures.load(ordering: .relaxed)
    }

    private func issueNext() {
        // Relaxed: a counter that hands out request numbers; no data is published through it.
        let number = issued.wrappingAdd(1, ordering: .relaxed).oldValue
        guard number < total.load(ordering: .relaxed) else { return }
        transport.request(
            ClusterRequest(
                shard: 0, key: "k", messageType: "inc", payload: .value(number),
                deadline: MonotonicClock.now() &+ 10_000_000_000),
            replyTo: self, context: UInt64(number))
    }

    func deliver(_ reply: Outcome, context: UInt64) {
        if case .failure = reply { failures.wrappingAdd(1, ordering: .relaxed) }
        issueNext()
        // Relaxed: the final increment is followed by the slot's sequentially consistent hand-off to the waiter.
        if completed.wrappingAdd(1, ordering: .relaxed).newValue == total.load(ordering: .relaxed) {
            done.deliver(.success(0), context: 0)
        }
    }
}

/// A reply slot whose waiter sleeps on a condition variable at once (no spinning), as `natsConnection_Request`
/// does: the like-for-like comparison with the bare libnats round trip.
final class BlockingReplySlot: ReplyHandler, @unchecked Sendable {
    // @unchecked Sendable: `reply` and `ready` are read and written only with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var reply: Outcome?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    func deliver(_ reply: Outcome, context: UInt64) {
        pthread_mutex_lock(mutex)
        self.reply = reply
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Sleeps until the reply arrives, then returns it and empties the slot.
    func wait() -> Outcome {
        pthread_mutex_lock(mutex)
        while reply == nil { pthread_cond_wait(condition, mutex) }
        let taken = reply!
        reply = nil
        pthread_mutex_unlock(mutex)
        return taken
    }
}

/// Sequential request → reply through the transport: send one, wait for its reply with `wait`, repeat.
func measureRequestReply(
    _ benchmark: Benchmark, _ fixture: NATSBenchmarkFixture, replyTo slot: any ReplyHandler, inTurns: Bool = false,
    wait: () -> Void
) {
    for index in benchmark.scaledIterations {
        let request = ClusterRequest(
            shard: 0, key: "k", messageType: "inc", payload: .value(index),
            deadline: MonotonicClock.now() &+ 5_000_000_000)
        if inTurns {
            TurnBoundary.run { fixture.transport.request(request, replyTo: slot, context: UInt64(index)) }
        } else {
            fixture.transport.request(request, replyTo: slot, context: UInt64(index))
        }
        wait()
    }
}
