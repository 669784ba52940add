import Synchronization
import TestKit
import Testing

@testable import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

@Suite("MPSCRing")
struct MPSCRingTests {
    @Test(
        "capacity rounds up to a power of two", arguments: [(1, 1), (2, 2), (3, 4), (5, 8), (1000, 1024), (1024, 1024)])
    func capacity(requested: Int, expected: Int) {
        #expect(MPSCRing<Int>(minimumCapacity: requested).capacity == expected)
    }

    @Test("empty ring dequeues nil")
    func empty() {
        let ring = MPSCRing<Int>(minimumCapacity: 4)
        #expect(ring.dequeue() == nil)
        #expect(!ring.hasPublishedElement)
        #expect(ring.approximateCount == 0)
    }

    @Test("capacity 1 and 2: fill, refuse when full, drain, reuse", arguments: [1, 2])
    func smallCapacities(capacity: Int) {
        let ring = MPSCRing<Int>(minimumCapacity: capacity)
        for round in 0..<10 {
            for index in 0..<capacity { #expect(ring.enqueue(round * 10 + index)) }
            #expect(!ring.enqueue(-1), "a full ring refuses")
            #expect(ring.approximateCount == capacity)
            for index in 0..<capacity { #expect(ring.dequeue() == round * 10 + index) }
            #expect(ring.dequeue() == nil)
        }
    }

    @Test("wrap-around keeps FIFO order over many rounds")
    func wrapAround() {
        let ring = MPSCRing<Int>(minimumCapacity: 8)
        var next = 0
        var expected = 0
        for step in 0..<10_000 {
            let burst = step % 7 + 1
            for _ in 0..<burst where ring.enqueue(next) { next += 1 }
            for _ in 0..<(step % 5 + 1) {
                guard let value = ring.dequeue() else { break }
                #expect(value == expected)
                expected += 1
            }
        }
        while let value = ring.dequeue() {
            #expect(value == expected)
            expected += 1
        }
        #expect(expected == next)
    }

    @Test("elements are released when dequeued and when the ring is freed")
    func ownership() {
        final class Token: Sendable {
            let counter: Counter
            init(_ counter: Counter) { self.counter = counter }
            deinit { counter.value.wrappingAdd(1, ordering: .relaxed) }
        }
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let released = Counter()
        do {
            let ring = MPSCRing<Token>(minimumCapacity: 4)
            #expect(ring.enqueue(Token(released)))
            #expect(ring.enqueue(Token(released)))
            _ = ring.dequeue()
            #expect(released.value.load(ordering: .relaxed) == 1)
        }
        #expect(released.value.load(ordering: .relaxed) == 2)
    }

    @Test(
        "many producers at a start barrier: nothing lost, nothing duplicated, per-producer order kept",
        arguments: [1, 2, 4, 8])
    func manyProducers(producers: Int) async throws {
        let perProducer = 50_000
        let ring = MPSCRing<Int>(minimumCapacity: 256)
        let barrier = Atomic<Int>(0)
        let threads = (0..<producers).map { producer in
            TestThread {
                barrier.wrappingAdd(1, ordering: .sequentiallyConsistent)
                while barrier.load(ordering: .sequentiallyConsistent) < producers { sched_yield() }
                for sequence in 0..<perProducer {
                    let value = producer << 32 | sequence
                    while !ring.enqueue(value) { sched_yield() }
                }
            }
        }
        // The consumer spins on a thread of its own, not on one of the cooperative pool's.
        let total = producers * perProducer
        let result = await offPool { () -> (received: Int, lastSeen: [Int], ordered: Bool) in
            var lastSeen = [Int](repeating: -1, count: producers)
            var received = 0
            var ordered = true
            var idleSpins = 0
            while received < total && idleSpins < 50_000_000 {
                if let value = ring.dequeue() {
                    let producer = value >> 32
                    let sequence = value & 0xFFFF_FFFF
                    if sequence != lastSeen[producer] + 1 { ordered = false }
                    lastSeen[producer] = sequence
                    received += 1
                    idleSpins = 0
                } else {
                    idleSpins += 1
                    if idleSpins % 1_024 == 0 { sched_yield() }
                }
            }
            return (received, lastSeen, ordered)
        }
        for thread in threads { await thread.joined() }
        let (received, lastSeen) = (result.received, result.lastSeen)
        #expect(result.ordered, "every producer's values arrived in order")
        #expect(received == total)
        #expect(ring.dequeue() == nil)
        #expect(lastSeen.allSatisfy { $0 == perProducer - 1 })
    }
}

/// A plain pthread for tests that need real threads (not the cooperative pool).
final class TestThread: @unchecked Sendable {
    // @unchecked Sendable: `handle` is written once in init and read by join on the creating thread.
    private var handle = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let box = Unmanaged.passRetained(self)
        precondition(pthread_create(&handle, nil, testThreadMain, box.toOpaque()) == 0)
    }

    fileprivate func run() { body() }

    func join() { pthread_join(handle, nil) }

    /// Joins from an async test without holding a thread of the cooperative pool.
    func joined() async { await offPool { self.join() } }
}

private func testThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<TestThread>.fromOpaque(argument!).takeRetainedValue().run()
    return nil
}
