import Synchronization
import TestKit
import Testing

@testable import ClstrRuntime
import RuntimeMemory

#if canImport(Glibc)
    import Glibc
#endif

@Suite("GrowableMPSCQueue")
struct GrowableMPSCQueueTests {
    @Test("capacities round up to powers of two; the first buffer has at least 2 slots unless it is the cap")
    func capacities() {
        #expect(GrowableMPSCQueue<Int>(capacity: 1000).capacity == 1024)
        #expect(GrowableMPSCQueue<Int>(capacity: 1000, initialCapacity: 1).initialCapacity == 2)
        #expect(GrowableMPSCQueue<Int>(capacity: 1000, initialCapacity: 5).initialCapacity == 8)
        #expect(GrowableMPSCQueue<Int>(capacity: 1, initialCapacity: 4).initialCapacity == 1)
        #expect(GrowableMPSCQueue<Int>(capacity: 4, initialCapacity: 64).initialCapacity == 4)
    }

    @Test("nothing is allocated until the first element")
    func lazyAllocation() {
        let queue = GrowableMPSCQueue<Int>(capacity: 64)
        #expect(queue.allocatedCapacity == 0)
        #expect(queue.dequeue() == nil)
        #expect(!queue.hasPublishedElement)
        #expect(!queue.releaseBuffer(), "nothing to release")
        #expect(queue.enqueue(7))
        #expect(queue.allocatedCapacity == 2)
        #expect(queue.hasPublishedElement)
        #expect(queue.approximateCount == 1)
        #expect(queue.dequeue() == 7)
        #expect(queue.dequeue() == nil)
    }

    @Test(
        "holds exactly `capacity` elements across every growth step, FIFO, then refuses",
        arguments: [(1, 1), (2, 2), (4, 2), (8, 2), (64, 2), (64, 4), (1024, 2), (1024, 1024)])
    func fillToCapacity(capacity: Int, initial: Int) {
        let queue = GrowableMPSCQueue<Int>(capacity: capacity, initialCapacity: initial)
        for round in 0..<3 {
            for index in 0..<capacity { #expect(queue.enqueue(round * 10_000 + index)) }
            #expect(!queue.enqueue(-1), "a full queue refuses")
            #expect(queue.approximateCount == capacity)
            for index in 0..<capacity { #expect(queue.dequeue() == round * 10_000 + index) }
            #expect(queue.dequeue() == nil)
            #expect(queue.allocatedCapacity == capacity, "grown to the cap")
            #expect(queue.releaseBuffer(onlyIfGrown: true) == (capacity > queue.initialCapacity))
        }
    }

    @Test("interleaved enqueues and dequeues keep FIFO order while the buffer grows and is released")
    func interleaved() {
        let queue = GrowableMPSCQueue<Int>(capacity: 256, initialCapacity: 2)
        var next = 0
        var expected = 0
        for step in 0..<20_000 {
            let burst = step % 13 + 1
            for _ in 0..<burst where queue.enqueue(next) { next += 1 }
            for _ in 0..<(step % 7 + 1) {
                guard let value = queue.dequeue() else {
                    queue.releaseBuffer(onlyIfGrown: step % 2 == 0)
                    break
                }
                #expect(value == expected)
                expected += 1
            }
        }
        while let value = queue.dequeue() {
            #expect(value == expected)
            expected += 1
        }
        #expect(expected == next)
    }

    @Test("a grown buffer is released when empty and only then; the next element allocates the first size again")
    func releaseAfterIdle() {
        let queue = GrowableMPSCQueue<Int>(capacity: 64, initialCapacity: 2)
        for value in 0..<40 { #expect(queue.enqueue(value)) }
        #expect(!queue.releaseBuffer(), "not empty: nothing released")
        // Buffers of 2, 4, 8, 16 take 1 + 3 + 7 + 15 elements (one slot each stays free for the jump): 32 slots.
        #expect(queue.allocatedCapacity == 32)
        for value in 0..<40 { #expect(queue.dequeue() == value) }
        #expect(queue.releaseBuffer(onlyIfGrown: true))
        #expect(queue.allocatedCapacity == 0)
        #expect(queue.enqueue(99))
        #expect(queue.allocatedCapacity == 2)
        #expect(queue.dequeue() == 99)
        #expect(!queue.releaseBuffer(onlyIfGrown: true), "the first size is kept")
        #expect(queue.allocatedCapacity == 2)
        #expect(queue.releaseBuffer())
        #expect(queue.allocatedCapacity == 0)
    }

    @Test("elements are released when dequeued and when the queue is freed with buffers still linked")
    func ownership() {
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        final class Token: Sendable {
            let counter: Counter
            init(_ counter: Counter) { self.counter = counter }
            deinit { counter.value.wrappingAdd(1, ordering: .relaxed) }
        }
        let released = Counter()
        do {
            let queue = GrowableMPSCQueue<Token>(capacity: 64, initialCapacity: 2)
            // 10 elements over buffers of 2, 4, 8 and 16 slots, linked by jumps the consumer has not followed.
            for _ in 0..<10 { #expect(queue.enqueue(Token(released))) }
            _ = queue.dequeue()
            #expect(released.value.load(ordering: .relaxed) == 1)
        }
        #expect(released.value.load(ordering: .relaxed) == 10)
    }

    @Test(
        "producers racing through every growth step at a start barrier: nothing lost or duplicated, order kept",
        arguments: [2, 4, 8])
    func racingGrowth(producers: Int) async {
        // Each round the producers fill the queue from nothing to its cap while the consumer waits, so every
        // doubling (2 → 4 → … → 1024) happens under racing producers; then the consumer drains and releases.
        let capacity = 1024
        let perProducer = capacity / producers
        let rounds = 20
        let queue = GrowableMPSCQueue<Int>(capacity: capacity, initialCapacity: 2)
        let round = WaitableState((started: 0, arrived: 0, finished: 0))
        let refused = Atomic<Int>(0)
        let threads = (0..<producers).map { producer in
            TestThread {
                for current in 0..<rounds {
                    round.withLock { $0.arrived += 1 }
                    _ = round.blockingWait(seconds: 60) { $0.started > current }
                    for sequence in 0..<perProducer {
                        let value = producer << 32 | (current * perProducer + sequence)
                        if !queue.enqueue(value) { refused.wrappingAdd(1, ordering: .relaxed) }
                    }
                    round.withLock { $0.finished += 1 }
                }
            }
        }
        let result = await offPool { () -> (lost: Int, disordered: Int, sizes: Set<Int>) in
            var lastSeen = [Int](repeating: -1, count: producers)
            var lost = 0
            var disordered = 0
            var sizes = Set<Int>()
            for current in 0..<rounds {
                _ = round.blockingWait(seconds: 60) { $0.arrived >= producers * (current + 1) }
                // The barrier: every producer is waiting for this round to start.
                round.withLock { $0.started = current + 1 }
                _ = round.blockingWait(seconds: 60) { $0.finished >= producers * (current + 1) }
                sizes.insert(queue.allocatedCapacity)
                var received = 0
                while let value = queue.dequeue() {
                    let producer = value >> 32
                    let sequence = value & 0xFFFF_FFFF
                    if sequence != lastSeen[producer] + 1 { disordered += 1 }
                    lastSeen[producer] = sequence
                    received += 1
                }
                lost += capacity - received
                queue.releaseBuffer()
            }
            return (lost, disordered, sizes)
        }
        for thread in threads { await thread.joined() }
        #expect(refused.load(ordering: .relaxed) == 0, "nothing refused below the cap")
        #expect(result.lost == 0)
        #expect(result.disordered == 0)
        #expect(result.sizes == [capacity], "each round ended at the cap")
        #expect(queue.dequeue() == nil)
    }

    @Test(
        "racing producers and a consumer that releases the buffer whenever it finds the queue empty",
        arguments: [1, 2, 4])
    func racingRelease(producers: Int) async {
        let perProducer = 50_000
        let queue = GrowableMPSCQueue<Int>(capacity: 64, initialCapacity: 2)
        let barrier = Atomic<Int>(0)
        let threads = (0..<producers).map { producer in
            TestThread {
                barrier.wrappingAdd(1, ordering: .sequentiallyConsistent)
                while barrier.load(ordering: .sequentiallyConsistent) < producers { sched_yield() }
                for sequence in 0..<perProducer {
                    while !queue.enqueue(producer << 32 | sequence) { sched_yield() }
                }
            }
        }
        let total = producers * perProducer
        let result = await offPool { () -> (received: Int, ordered: Bool, releases: Int) in
            var lastSeen = [Int](repeating: -1, count: producers)
            var received = 0
            var ordered = true
            var releases = 0
            var idle = 0
            while received < total && idle < 50_000_000 {
                if let value = queue.dequeue() {
                    let producer = value >> 32
                    let sequence = value & 0xFFFF_FFFF
                    if sequence != lastSeen[producer] + 1 { ordered = false }
                    lastSeen[producer] = sequence
                    received += 1
                    idle = 0
                } else {
                    if queue.releaseBuffer() { releases += 1 }
                    idle += 1
                    if idle % 64 == 0 { sched_yield() }
                }
            }
            return (received, ordered, releases)
        }
        for thread in threads { await thread.joined() }
        #expect(result.ordered, "every producer's values arrived in order")
        #expect(result.received == total)
        #expect(result.releases > 0, "the release raced with the producers")
        #expect(queue.dequeue() == nil)
    }
}

/// An executor that queues turns until the test runs them: the test decides when a mailbox is drained.
final class ManualExecutor: ActorExecutor, Sendable {
    private let jobs = Mutex<[any ActorJob]>([])

    func execute(_ job: any ActorJob, affinity: Int) {
        jobs.withLock { $0.append(job) }
    }

    var pending: Int { jobs.withLock { $0.count } }

    /// A sender may wait: turns run only when the test calls ``runAll()``, from the test's own thread.
    func callerMayWait(forAffinity affinity: Int) -> Bool { true }

    /// Runs the queued turns (and those they queue) until none is left.
    /// - Returns: how many turns ran.
    @discardableResult
    func runAll() -> Int {
        var count = 0
        while let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            job.runTurn()
            count += 1
        }
        return count
    }
}

@Suite("Actor mailbox growth")
struct ActorMailboxTests {
    @Test("an actor's mailbox allocates on the first message and keeps its first buffer while messages fit")
    func firstMessage() {
        let executor = ManualExecutor()
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: executor)
        #expect(actor.mailbox.allocatedCapacity == 0)
        try? actor.tell(Add(amount: 1))
        #expect(actor.mailbox.allocatedCapacity == 2)
        #expect(executor.runAll() == 1)
        #expect(actor.mailbox.allocatedCapacity == 2, "the first size is kept")
        let slot = ReplySlot()
        actor.request(Get(), replyTo: slot)
        executor.runAll()
        #expect((try? slot.wait().reply.get(as: Int.self).get()) == 1)
    }

    @Test("a burst grows the mailbox; the turn that empties it gives the buffer back")
    func shrinkWhenIdle() {
        let executor = ManualExecutor()
        var options = ActorOptions()
        options.mailboxCapacity = 256
        options.throughput = 64
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: executor, options: options)
        for _ in 0..<100 { try? actor.tell(Add(amount: 1)) }
        // 1 + 3 + 7 + 15 + 31 elements in buffers of 2 … 32 slots, the remaining 43 in one of 64.
        #expect(actor.mailbox.allocatedCapacity == 64)
        #expect(executor.pending == 1)
        // The first turn handles 64 (its throughput) and reschedules itself; the second empties the mailbox.
        #expect(executor.runAll() == 2)
        #expect(actor.mailbox.allocatedCapacity == 0, "the grown buffer was given back")
        let slot = ReplySlot()
        actor.request(Get(), replyTo: slot)
        executor.runAll()
        #expect((try? slot.wait().reply.get(as: Int.self).get()) == 100)
        #expect(actor.mailbox.allocatedCapacity == 2)
    }

    @Test("a stopped actor answers what was queued and holds no buffer")
    func stoppedReleases() {
        let executor = ManualExecutor()
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: executor)
        let collector = Collector()
        for index in 0..<10 { actor.request(Add(amount: 1), replyTo: collector, context: UInt64(index)) }
        actor.stop()
        executor.runAll()
        #expect(collector.count == 10)
        #expect(collector.error(9)?.code == .stopped)
        #expect(actor.mailbox.allocatedCapacity == 0)
    }

    @Test(
        "10,000 counter actors that each got one message hold at most 10 MiB (≤ 1 KiB each, registry entry included)",
        .enabled(if: HeapStatistics.isJemalloc))
    func footprint() {
        // The counter service's registry (256-message mailboxes, .fail, keys like its spread scenario's), with
        // passivation off. Everything runs on this thread (inline executor), whose own allocation counters are read:
        // other tests allocating meanwhile do not show.
        var options = ActorRegistryOptions()
        options.actor.mailboxCapacity = 256
        options.actor.overflow = .fail
        // Two handlers, like the counter service's behavior (each bound handler costs an actor ~70 bytes).
        var behavior = ActorBehavior<Int>()
        behavior.on(Add.self) { value, message in
            value += message.amount
            return value
        }
        behavior.on(Get.self) { value, _ in value }
        let twoHandlers = behavior
        let registry = ActorRegistry<String, Int>(
            executor: InlineExecutor(), options: options, factory: { _ in (0, twoHandlers) })
        let count = 10_000
        let before = HeapStatistics.threadNetAllocated()
        // Each key is made here, as a request's path would be: the copy the table keeps is counted.
        for index in 0..<count { try? registry.tell(Add(amount: 1), to: "spread-1764892800-12345-1-\(index)") }
        let held = HeapStatistics.threadNetAllocated() - before
        #expect(registry.count == count)
        #expect(held <= 10 << 20, "\(held) bytes for \(count) actors")
        #expect(held / count <= 1024, "\(held / count) bytes per actor")
        registry.shutdown()
    }

    @Test("policy .fail at the cap, reached through growth: the send fails, nothing queued is lost")
    func failAtCap() {
        let executor = ManualExecutor()
        var options = ActorOptions()
        options.mailboxCapacity = 8
        options.overflow = .fail
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: executor, options: options)
        let collector = Collector()
        for index in 1...8 { actor.request(Add(amount: 1), replyTo: collector, context: UInt64(index)) }
        #expect(actor.mailbox.allocatedCapacity == 8)
        actor.request(Add(amount: 1), replyTo: collector, context: 99)
        #expect(collector.error(99)?.code == .mailboxFull)
        executor.runAll()
        #expect(collector.count == 9)
        #expect(collector.value(8) == 8, "the eight queued messages were all handled, in order")
    }

    @Test("policy .wait at the cap, reached through growth: the sender waits for room, nothing is lost")
    func waitAtCap() async {
        let executor = ManualExecutor()
        var options = ActorOptions()
        options.mailboxCapacity = 8
        options.overflow = .wait
        let actor = ActorRef(state: 0, behavior: counterBehavior(), executor: executor, options: options)
        let collector = Collector()
        let sent = WaitableState(0)
        let sender = TestThread {
            for index in 1...20 {
                actor.request(Add(amount: 1), replyTo: collector, context: UInt64(index))
                sent.withLock { $0 += 1 }
            }
        }
        #expect(await sent.wait { $0 >= 8 })
        #expect(actor.mailboxDepth == 8)
        #expect(collector.count == 0, "nothing was refused")
        // Drain from this side until the sender is done; each drain makes room for the waiting send.
        while await !sent.wait(seconds: 0.01, until: { $0 == 20 }) {
            executor.runAll()
        }
        await sender.joined()
        executor.runAll()
        #expect(collector.count == 20)
        #expect(collector.value(20) == 20)
    }
}
