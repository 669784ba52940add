import Synchronization
import TestKit
import Testing

@testable import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

struct Add: ActorMessage {
    typealias Reply = Int
    var amount: Int
}

struct Get: ActorMessage {
    typealias Reply = Int
}

struct Fail: ActorMessage {
    typealias Reply = Int
}

struct Block: ActorMessage {
    typealias Reply = Int
    let gate: Gate
}

struct Unhandled: ActorMessage {}

struct InsufficientFunds: CodedError {
    var code: String { "insufficient_funds" }
    var message: String { "balance too low" }
}

/// A latch a handler can wait on, opened from the test. The handler's thread blocks on a condition (a spin would
/// take a core from everything else on a two-core machine).
final class Gate: Sendable {
    /// (open, how many handlers entered)
    private let state = WaitableState((open: false, entered: 0))
    func release() { state.withLock { $0.open = true } }
    func wait() {
        state.withLock { $0.entered += 1 }
        _ = state.blockingWait(seconds: 60) { $0.open }
    }
    /// How many handlers have entered `wait`.
    var entered: Int { state.withLock { $0.entered } }
    /// Waits until `count` handlers have entered (a blocked turn is in place).
    func waitEntered(_ count: Int = 1, seconds: Double = 10) async -> Bool {
        await state.wait(seconds: seconds) { $0.entered >= count }
    }
}

func counterBehavior() -> ActorBehavior<Int> {
    var behavior = ActorBehavior<Int>()
    behavior.on(Add.self) { value, message in
        value += message.amount
        return value
    }
    behavior.on(Get.self) { value, _ in value }
    behavior.on(Fail.self) { _, _ in throw InsufficientFunds() }
    behavior.on(Block.self) { value, message in
        message.gate.wait()
        return value
    }
    return behavior
}

/// Collects replies by context.
final class Collector: ReplyHandler, Sendable {
    let replies = WaitableState<[UInt64: Outcome]>([:])
    func deliver(_ reply: Outcome, context: UInt64) {
        replies.withLock { $0[context] = reply }
    }
    var count: Int { replies.withLock { $0.count } }
    /// Waits, off the cooperative pool, until `count` replies arrived.
    func waitFor(_ count: Int, seconds: Double = 10) async -> Bool {
        await replies.wait(seconds: seconds) { $0.count >= count }
    }
    func error(_ context: UInt64) -> RequestError? {
        if case .failure(let error) = replies.withLock({ $0[context] }) { return error }
        return nil
    }
    func value(_ context: UInt64) -> Int? {
        if case .success(let value) = replies.withLock({ $0[context] }) { return value as? Int }
        return nil
    }
}

/// An actor on a one-thread pool whose turn is held inside a `Block` handler until `gate.release()`, so messages
/// sent meanwhile stay queued. The caller shuts the pool down.
struct BlockedActor {
    let pool = WorkerPool(threadCount: 1)
    let gate = Gate()
    let collector = Collector()
    let actor: ActorRef<Int>

    init(options: ActorOptions = ActorOptions(), behavior: ActorBehavior<Int> = counterBehavior()) async {
        actor = ActorRef(state: 0, behavior: behavior, executor: pool, options: options)
        actor.request(Block(gate: gate), replyTo: collector, context: 0)
        #expect(await gate.waitEntered(), "the actor's turn is blocked")
    }
}

@Suite("Actor")
struct ActorTests {
    @Test("typed request → reply inline")
    func inlineReply() throws {
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: InlineExecutor())
        let slot = ReplySlot()
        actor.request(Add(amount: 5), replyTo: slot, context: 7)
        let (reply, context) = slot.wait()
        #expect(context == 7)
        #expect(try reply.get(as: Int.self).get() == 5)
    }

    @Test("async request on a worker pool")
    func asyncRequest() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: pool)
        for _ in 0..<100 { try actor.tell(Add(amount: 1)) }
        let value = try await actor.request(Get())
        #expect(value == 100)
    }

    @Test("a throwing handler answers with its error and the actor keeps serving")
    func thrownErrors() async throws {
        let pool = WorkerPool(threadCount: 1)
        defer { pool.shutdown() }
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: pool)
        await #expect(throws: RequestError.self) { try await actor.request(Fail()) }
        do {
            _ = try await actor.request(Fail())
        } catch {
            #expect(error.code.rawValue == "insufficient_funds")
            #expect(error.message == "balance too low")
        }
        #expect(try await actor.request(Add(amount: 2)) == 2)
    }

    @Test("a message without a handler gets no_handler")
    func noHandler() async {
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: InlineExecutor())
        do {
            try await actor.request(Unhandled())
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .noHandler)
        }
    }

    @Test("overflow policy .fail refuses at once when the mailbox is full")
    func overflowFail() async throws {
        var options = ActorOptions()
        options.mailboxCapacity = 4
        options.overflow = .fail
        let blocked = await BlockedActor(options: options)
        defer { blocked.pool.shutdown() }
        let (actor, gate, collector) = (blocked.actor, blocked.gate, blocked.collector)
        for index in 1...4 { actor.request(Add(amount: 1), replyTo: collector, context: UInt64(index)) }
        actor.request(Add(amount: 1), replyTo: collector, context: 99)
        #expect(collector.error(99)?.code == .mailboxFull)
        #expect(throws: RequestError.self) { try actor.tell(Add(amount: 1)) }
        gate.release()
        #expect(await collector.waitFor(6))
        #expect(collector.value(4) == 4, "the four queued messages were all handled")
    }

    @Test("overflow policy .wait blocks the sender until there is room; nothing is lost")
    func overflowWait() async throws {
        var options = ActorOptions()
        options.mailboxCapacity = 2
        options.overflow = .wait
        let blocked = await BlockedActor(options: options)
        defer { blocked.pool.shutdown() }
        let (actor, gate, collector) = (blocked.actor, blocked.gate, blocked.collector)
        let sent = Atomic<Int>(0)
        let sender = TestThread {
            for index in 1...10 {
                actor.request(Add(amount: 1), replyTo: collector, context: UInt64(index))
                sent.wrappingAdd(1, ordering: .relaxed)
            }
        }
        #expect(await eventually { sent.load(ordering: .relaxed) == 2 })
        // The mailbox is full and the third send has not returned: it is waiting for room, not lost or failed.
        #expect(actor.mailboxDepth == 2)
        #expect(sent.load(ordering: .relaxed) == 2, "the third send waits for room")
        #expect(collector.count == 0, "nothing was answered (a refused send would be answered at once)")
        gate.release()
        await offPool { sender.join() }
        #expect(await collector.waitFor(11))
        #expect(collector.value(10) == 10)
    }

    @Test("a request whose deadline passed is answered deadline_exceeded without running the handler")
    func expiredDeadline() {
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: InlineExecutor())
        let collector = Collector()
        actor.request(Add(amount: 1), replyTo: collector, context: 1, deadline: MonotonicClock.now() - 1)
        #expect(collector.error(1)?.code == .deadlineExceeded)
        actor.request(Get(), replyTo: collector, context: 2)
        #expect(collector.value(2) == 0, "the expired increment was not applied")
    }

    @Test("the async request gives up at its timeout when the handler is stuck")
    func asyncTimeout() async throws {
        let pool = WorkerPool(threadCount: 1)
        defer { pool.shutdown() }
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: pool)
        let gate = Gate()
        try actor.tell(Block(gate: gate))
        let start = MonotonicClock.now()
        do {
            _ = try await actor.request(Get(), timeout: .milliseconds(100))
            Issue.record("expected a timeout")
        } catch {
            #expect(error.code == .deadlineExceeded)
        }
        // Bounded, not timed: the timer runs on the cooperative pool, which other tests may keep busy.
        let elapsed = Double(MonotonicClock.now() - start) / 1e9
        #expect(elapsed < 60)
        gate.release()
    }

    @Test("stop answers queued requests with stopped, refuses later sends, runs onStop once")
    func stopWithQueued() async throws {
        final class StopCount: Sendable { let value = Atomic<Int>(0) }
        let stopCount = StopCount()
        var behavior = counterBehavior()
        behavior.onStop = { _ in stopCount.value.wrappingAdd(1, ordering: .relaxed) }
        let blocked = await BlockedActor(behavior: behavior)
        defer { blocked.pool.shutdown() }
        let (actor, gate, collector) = (blocked.actor, blocked.gate, blocked.collector)
        for index in 1...5 { actor.request(Add(amount: 1), replyTo: collector, context: UInt64(index)) }
        actor.stop()
        actor.stop()
        gate.release()
        #expect(await collector.waitFor(6))
        for index in 1...5 { #expect(collector.error(UInt64(index))?.code == .stopped) }
        actor.request(Add(amount: 1), replyTo: collector, context: 50)
        #expect(collector.error(50)?.code == .stopped)
        #expect(await eventually { stopCount.value.load(ordering: .relaxed) == 1 })
        // Every turn the stops could still cause has run once the pool's threads are joined: a second onStop
        // would show now.
        blocked.pool.shutdown()
        #expect(stopCount.value.load(ordering: .relaxed) == 1)
    }

    @Test("many producers on a worker pool: every message handled once, per-producer order kept")
    func manyProducersOneActor() async {
        struct Record: ActorMessage {
            var producer: Int
            var sequence: Int
        }
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let producers = 4
        let perProducer = 20_000
        var behavior = ActorBehavior<[Int]>()
        behavior.on(Record.self) { last, message in
            precondition(message.sequence == last[message.producer] + 1, "out of order")
            last[message.producer] = message.sequence
        }
        behavior.on(Get.self) { last, _ in last.reduce(0) { $0 + $1 + 1 } }
        var options = ActorOptions()
        options.mailboxCapacity = 128
        let actor = ActorRef(
            state: [Int](repeating: -1, count: producers), behavior: behavior, executor: pool, options: options)
        let barrier = Atomic<Int>(0)
        let threads = (0..<producers).map { producer in
            TestThread {
                barrier.wrappingAdd(1, ordering: .sequentiallyConsistent)
                while barrier.load(ordering: .sequentiallyConsistent) < producers { sched_yield() }
                for sequence in 0..<perProducer {
                    try? actor.tell(Record(producer: producer, sequence: sequence))
                }
            }
        }
        for thread in threads { await thread.joined() }
        let slot = ReplySlot()
        actor.request(Get(), replyTo: slot)
        #expect((try? slot.wait().reply.get(as: Int.self).get()) == producers * perProducer)
    }
}
