import Synchronization
import TestKit
import Testing

@testable import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Records every outcome in arrival order (duplicates included), with the delivering thread.
final class OutcomeLog: ReplyHandler, Sendable {
    struct Entry: @unchecked Sendable {
        // @unchecked Sendable: `thread` is an opaque pthread ID only compared, never dereferenced.
        var outcome: Outcome
        var context: UInt64
        var thread: pthread_t
        /// Monotonic nanoseconds at delivery.
        var at: UInt64
    }
    let entries = Locked<[Entry]>([])

    func deliver(_ reply: Outcome, context: UInt64) {
        let thread = pthread_self()
        let now = MonotonicClock.now()
        entries.withLock { $0.append(Entry(outcome: reply, context: context, thread: thread, at: now)) }
    }

    var count: Int { entries.withLock { $0.count } }

    /// Waits (bounded) until `count` outcomes arrived, without blocking a thread of the cooperative pool.
    func arrived(_ count: Int, seconds: Double = 10) async -> Bool {
        await eventually(seconds: seconds) { self.count >= count }
    }

    func error(at index: Int) -> RequestError? {
        entries.withLock { entries -> RequestError? in
            guard index < entries.count, case .failure(let error) = entries[index].outcome else { return nil }
            return error
        }
    }

    func value<T>(at index: Int, as type: T.Type = T.self) -> T? {
        entries.withLock { entries -> T? in
            guard index < entries.count, case .success(let value) = entries[index].outcome else { return nil }
            return value as? T
        }
    }
}

/// A handler that answers at once, with the payload itself (so a test can see it was not copied).
final class EchoHandler: ShardRequestHandler {
    let calls = Atomic<Int>(0)
    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        calls.wrappingAdd(1, ordering: .relaxed)
        guard case .value(let message) = request.payload else {
            return replyTo.deliver(.failure(RequestError(.codec, "expected a typed payload")), context: context)
        }
        replyTo.deliver(.success(message), context: context)
    }
}

/// A handler that keeps every request unanswered until the test answers it.
final class HoldingHandler: ShardRequestHandler {
    struct Held: @unchecked Sendable {
        // @unchecked Sendable: `replyTo` is a Sendable existential; the struct only bundles it with a context.
        var replyTo: any ReplyHandler
        var context: UInt64
    }
    let held = Locked<[Held]>([])
    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        held.withLock { $0.append(Held(replyTo: replyTo, context: context)) }
    }
    func answerAll(_ outcome: Outcome) {
        let all = held.withLock { held -> [Held] in
            defer { held.removeAll() }
            return held
        }
        for entry in all { entry.replyTo.deliver(outcome, context: entry.context) }
    }
}

/// A message passed by reference, to check that the transport does not copy it.
final class Parcel: Sendable {
    let label: String
    init(_ label: String) { self.label = label }
}

func makeRequest(shard: Int, payload: any Sendable = 1, timeout: Duration = .seconds(5)) -> ClusterRequest {
    ClusterRequest(
        shard: shard, key: "k", messageType: "test.echo", payload: .value(payload),
        deadline: MonotonicClock.deadline(after: timeout))
}

@Suite("InMemoryTransport")
struct InMemoryTransportTests {
    @Test("a typed payload reaches the handler by reference and the reply comes back on the same thread")
    func byReferenceNoHop() throws {
        let transport = InMemoryTransport()
        defer { transport.close() }
        let handler = EchoHandler()
        let subscription = try transport.serve(shards: [3], nodeID: "n", handler: handler)
        defer { subscription.cancel() }
        let parcel = Parcel("p")
        let log = OutcomeLog()
        transport.request(makeRequest(shard: 3, payload: parcel), replyTo: log, context: 42)
        // Answered synchronously, on this thread, with the very same object.
        #expect(log.count == 1)
        let entry = try #require(log.entries.withLock { $0.first })
        #expect(entry.context == 42)
        #expect(pthread_equal(entry.thread, pthread_self()) != 0)
        let echoed = try #require(log.value(at: 0, as: Parcel.self))
        #expect(echoed === parcel)
    }

    @Test("no subscriber for the shard → noResponder at once")
    func noResponder() throws {
        let transport = InMemoryTransport()
        defer { transport.close() }
        let subscription = try transport.serve(shards: [0, 1], nodeID: "n", handler: EchoHandler())
        let log = OutcomeLog()
        transport.request(makeRequest(shard: 2), replyTo: log, context: 1)
        transport.request(makeRequest(shard: 100), replyTo: log, context: 2)
        #expect(log.count == 2)
        #expect(log.error(at: 0)?.code == .noResponder)
        #expect(log.error(at: 1)?.code == .noResponder)
        subscription.cancel()
        subscription.cancel()  // idempotent
        transport.request(makeRequest(shard: 0), replyTo: log, context: 3)
        #expect(log.error(at: 2)?.code == .noResponder)
    }

    @Test("a request without a deadline is refused; an expired one fails with deadlineExceeded at once")
    func deadlineChecksAtSend() throws {
        let transport = InMemoryTransport()
        defer { transport.close() }
        let handler = EchoHandler()
        let subscription = try transport.serve(shards: [0], nodeID: "n", handler: handler)
        defer { subscription.cancel() }
        let log = OutcomeLog()
        var request = makeRequest(shard: 0)
        request.deadline = 0
        transport.request(request, replyTo: log, context: 1)
        // Passed longer ago than one sweep interval (the watch's clock may lag by that much).
        request.deadline = MonotonicClock.now() - 1_000_000_000
        transport.request(request, replyTo: log, context: 2)
        #expect(log.error(at: 0)?.code == .badRequest)
        #expect(log.error(at: 1)?.code == .deadlineExceeded)
        #expect(handler.calls.load(ordering: .relaxed) == 0)
    }

    @Test("a handler that never answers: the request ends with deadlineExceeded; the late reply is dropped")
    func deadlineSweep() async throws {
        var options = InMemoryTransportOptions()
        options.deadlineSweepInterval = .milliseconds(2)
        let transport = InMemoryTransport(options: options)
        defer { transport.close() }
        let handler = HoldingHandler()
        let subscription = try transport.serve(shards: [0], nodeID: "n", handler: handler)
        defer { subscription.cancel() }
        let log = OutcomeLog()
        let start = MonotonicClock.now()
        transport.request(makeRequest(shard: 0, timeout: .milliseconds(50)), replyTo: log, context: 7)
        #expect(await log.arrived(1, seconds: 5))
        // Measured to the delivery itself, not to when this task got to run again.
        let elapsed = Double(try #require(log.entries.withLock { $0.first?.at }) - start) / 1e6
        #expect(elapsed >= 50, "answered after \(elapsed) ms, before the deadline")
        #expect(elapsed < 2_000, "answered after \(elapsed) ms")
        #expect(log.error(at: 0)?.code == .deadlineExceeded)
        #expect(log.entries.withLock { $0[0].context } == 7)
        handler.answerAll(.success(1))
        #expect(log.count == 1)
        #expect(transport.statistics.expired == 1)
        #expect(transport.statistics.lateReplies == 1)
    }

    @Test("replies racing the deadline sweep: every request gets exactly one outcome")
    func sweepRace() async throws {
        var options = InMemoryTransportOptions()
        options.deadlineSweepInterval = .milliseconds(1)
        options.pendingCapacity = 64
        let transport = InMemoryTransport(options: options)
        defer { transport.close() }
        let handler = HoldingHandler()
        _ = try transport.serve(shards: [0], nodeID: "n", handler: handler)
        let log = OutcomeLog()
        let total = 3_000
        let sending = Atomic<Bool>(true)
        let replierDone = Atomic<Bool>(false)
        let replier = TestThread {
            defer { replierDone.store(true, ordering: .releasing) }
            while sending.load(ordering: .acquiring) {
                usleep(1_500)  // pacing, not synchronization: lets some requests reach their deadline first
                handler.answerAll(.success(1))
            }
            handler.answerAll(.success(1))
        }
        for index in 0..<total {
            // Deadlines of 1–3 ms: some replies win, some lose to the sweep.
            let timeout = Duration.microseconds(1_000 + (index % 3) * 1_000)
            transport.request(makeRequest(shard: 0, timeout: timeout), replyTo: log, context: UInt64(index))
            if index % 100 == 0 { try await Task.sleep(for: .milliseconds(1)) }
        }
        sending.store(false, ordering: .releasing)
        #expect(await eventually { replierDone.load(ordering: .acquiring) })
        await replier.joined()
        #expect(await log.arrived(total))
        let contexts = log.entries.withLock { $0.map(\.context) }
        #expect(contexts.count == total)
        #expect(Set(contexts).count == total)
        let statistics = transport.statistics
        #expect(statistics.lateReplies == statistics.expired)
        // Both sides of the race happened, or the test proved nothing: some requests expired in the sweep, some
        // were answered by the replier.
        let answered = log.entries.withLock { entries in
            entries.filter { if case .success = $0.outcome { return true } else { return false } }.count
        }
        #expect(statistics.expired > 0, "no request lost the race to the sweep")
        #expect(answered > 0, "no reply won the race")
    }

    @Test("close: new requests fail with transportClosed, serve throws, in-flight requests are still answered")
    func close() throws {
        let transport = InMemoryTransport()
        let handler = HoldingHandler()
        _ = try transport.serve(shards: [0], nodeID: "n", handler: handler)
        let log = OutcomeLog()
        transport.request(makeRequest(shard: 0), replyTo: log, context: 1)
        transport.close()
        transport.close()  // idempotent
        transport.request(makeRequest(shard: 0), replyTo: log, context: 2)
        #expect(log.error(at: 0)?.code == .transportClosed)
        #expect(throws: RequestError.self) { try transport.serve(shards: [1], nodeID: "m", handler: handler) }
        handler.answerAll(.success(5))
        #expect(log.count == 2)
        #expect(log.value(at: 1, as: Int.self) == 5)
        #expect(log.entries.withLock { $0[1].context } == 1)
    }

    @Test("a shard served twice is refused")
    func doubleServe() throws {
        let transport = InMemoryTransport()
        defer { transport.close() }
        _ = try transport.serve(shards: [0, 1], nodeID: "a", handler: EchoHandler())
        let error = #expect(throws: RequestError.self) {
            try transport.serve(shards: [1, 2], nodeID: "b", handler: EchoHandler())
        }
        #expect(error?.code == .badRequest)
        // Nothing of the refused subscription was applied.
        let log = OutcomeLog()
        transport.request(makeRequest(shard: 2), replyTo: log, context: 0)
        #expect(log.error(at: 0)?.code == .noResponder)
    }

    @Test("more requests in flight than the table holds: every one is answered exactly once")
    func overflow() throws {
        var options = InMemoryTransportOptions()
        options.pendingCapacity = 2
        let transport = InMemoryTransport(options: options)
        defer { transport.close() }
        let handler = HoldingHandler()
        _ = try transport.serve(shards: [0], nodeID: "n", handler: handler)
        let log = OutcomeLog()
        for index in 0..<5 { transport.request(makeRequest(shard: 0), replyTo: log, context: UInt64(index)) }
        #expect(transport.statistics.overflowAllocations == 3)
        handler.answerAll(.success(9))
        #expect(log.count == 5)
        #expect(Set(log.entries.withLock { $0.map(\.context) }) == [0, 1, 2, 3, 4])
        // The table's slots are reused afterwards.
        for index in 0..<2 { transport.request(makeRequest(shard: 0), replyTo: log, context: UInt64(10 + index)) }
        #expect(transport.statistics.overflowAllocations == 3)
        handler.answerAll(.success(9))
        #expect(log.count == 7)
    }

    @Test("without the deadline watch the handler gets the requester's receiver directly")
    func noWatch() throws {
        var options = InMemoryTransportOptions()
        options.watchesDeadlines = false
        let transport = InMemoryTransport(options: options)
        defer { transport.close() }
        let handler = HoldingHandler()
        _ = try transport.serve(shards: [0], nodeID: "n", handler: handler)
        let log = OutcomeLog()
        transport.request(makeRequest(shard: 0), replyTo: log, context: 3)
        let held = try #require(handler.held.withLock { $0.first })
        #expect(held.replyTo === log)
        #expect(held.context == 3)
    }

    @Test("concurrent requests from several threads: each answered exactly once with its own context")
    func concurrent() async throws {
        let transport = InMemoryTransport()
        defer { transport.close() }
        _ = try transport.serve(shards: Array(0..<8), nodeID: "n", handler: EchoHandler())
        let threads = 4
        let perThread = 5_000
        let log = OutcomeLog()
        let barrier = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let workers = (0..<threads).map { thread in
            TestThread {
                defer { finished.wrappingAdd(1, ordering: .releasing) }
                barrier.wrappingAdd(1, ordering: .sequentiallyConsistent)
                while barrier.load(ordering: .sequentiallyConsistent) < threads { sched_yield() }
                for index in 0..<perThread {
                    let context = UInt64(thread * perThread + index)
                    transport.request(
                        makeRequest(shard: index % 8, payload: Int(context)), replyTo: log, context: context)
                }
            }
        }
        #expect(await eventually { finished.load(ordering: .acquiring) == threads })
        for worker in workers { await worker.joined() }
        #expect(log.count == threads * perThread)
        let entries = log.entries.withLock { $0 }
        #expect(Set(entries.map(\.context)).count == threads * perThread)
        #expect(
            entries.allSatisfy { entry in
                if case .success(let value) = entry.outcome { return value as? Int == Int(entry.context) }
                return false
            })
        #expect(transport.statistics.overflowAllocations == 0)
    }
}
