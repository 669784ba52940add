import Benchmark
import ClstrRuntime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

struct Bump: ActorMessage {
    typealias Reply = Int
    var amount: Int
}

func bumpBehavior() -> ActorBehavior<Int> {
    var behavior = ActorBehavior<Int>()
    behavior.on(Bump.self) { value, message in
        value &+= message.amount
        return value
    }
    return behavior
}

/// The two multi-producer queues, measured side by side.
protocol BenchmarkQueue: AnyObject, Sendable {
    func enqueue(_ value: Int) -> Bool
    func dequeue() -> Int?
}

extension MPSCRing<Int>: BenchmarkQueue {}

extension GrowableMPSCQueue<Int>: BenchmarkQueue {}

/// Producer threads created once (outside the measured region) that each push `count` values per round.
final class ProducerGang<Queue: BenchmarkQueue>: @unchecked Sendable {
    // @unchecked Sendable: `ring` is only produced into by the gang and consumed by the benchmark thread.
    let ring: Queue
    let producers: Int
    let perRound: Int
    private let round = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let running = Atomic<Bool>(true)
    private var threads: [pthread_t] = []

    init(producers: Int, perRound: Int, ring: Queue) {
        self.ring = ring
        self.producers = producers
        self.perRound = perRound
        for _ in 0..<producers {
            var handle = pthread_t()
            let body: @Sendable () -> Void = { self.produce() }
            pthread_create(&handle, nil, gangMain, Unmanaged.passRetained(GangBody(body)).toOpaque())
            threads.append(handle)
        }
    }

    func produce() {
        var seen = 0
        while running.load(ordering: .relaxed) {
            let current = round.load(ordering: .acquiring)
            if current == seen {
                sched_yield()
                continue
            }
            seen = current
            for value in 0..<perRound {
                while !ring.enqueue(value) {}
            }
            done.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// Runs one round: all producers push `perRound` values, the caller consumes them all.
    func runRound() -> Int {
        done.store(0, ordering: .relaxed)
        round.wrappingAdd(1, ordering: .releasing)
        let expected = producers * perRound
        var received = 0
        var sum = 0
        while received < expected {
            if let value = ring.dequeue() {
                sum &+= value
                received += 1
            }
        }
        while done.load(ordering: .acquiring) < producers {}
        return sum
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        for thread in threads { pthread_join(thread, nil) }
    }
}

/// A gang thread's body, boxed for `pthread_create` (a generic class cannot be recovered from a raw pointer in a
/// C callback).
final class GangBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

private func gangMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<GangBody>.fromOpaque(argument!).takeRetainedValue().run()
    return nil
}

/// A class whose allocation the baseline benchmark counts.
final class Allocated: Sendable {
    let value: Int
    init(_ value: Int) { self.value = value }
}

func registerActorBenchmarks() {
    // Proves the malloc counter sees Swift allocations in this binary: expect 1 malloc per operation.
    Benchmark("Baseline: one class allocation", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(Allocated(index))
        }
    }

    Benchmark("Ring enqueue+dequeue (1 thread)", configuration: .init(scalingFactor: .mega)) { benchmark in
        let ring = MPSCRing<Int>(minimumCapacity: 1024)
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            _ = ring.enqueue(index)
            blackHole(ring.dequeue())
        }
    }

    // The actor mailbox: steady state (its buffer stays allocated while it is never found empty and grown).
    Benchmark("Growable queue enqueue+dequeue (1 thread)", configuration: .init(scalingFactor: .mega)) { benchmark in
        let queue = GrowableMPSCQueue<Int>(capacity: 1024)
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            _ = queue.enqueue(index)
            blackHole(queue.dequeue())
        }
    }

    for producers in [1, 2, 4] {
        let perRound = 100_000 / producers
        nonisolated(unsafe) var gang: ProducerGang<MPSCRing<Int>>?
        Benchmark(
            "Ring MPSC \(producers) producer(s), 100k msgs per iteration",
            configuration: .init(
                scalingFactor: .one,
                setup: {
                    gang = ProducerGang(
                        producers: producers, perRound: perRound, ring: MPSCRing<Int>(minimumCapacity: 4096))
                },
                teardown: {
                    gang?.stop()
                    gang = nil
                })
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(gang!.runRound())
            }
        }
        nonisolated(unsafe) var growable: ProducerGang<GrowableMPSCQueue<Int>>?
        Benchmark(
            "Growable queue MPSC \(producers) producer(s), 100k msgs per iteration",
            configuration: .init(
                scalingFactor: .one,
                setup: {
                    growable = ProducerGang(
                        producers: producers, perRound: perRound, ring: GrowableMPSCQueue<Int>(capacity: 4096))
                },
                teardown: {
                    growable?.stop()
                    growable = nil
                })
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(growable!.runRound())
            }
        }
    }

    Benchmark("Actor tell (inline executor)", configuration: .init(scalingFactor: .mega)) { benchmark in
        let actor = ActorRef(state: 0, behavior: bumpBehavior(), executor: InlineExecutor())
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try? actor.tell(Bump(amount: 1))
        }
    }

    // The pool's threads are started in setup: threads started inside the measured closure crash the
    // benchmark tool's malloc interposer here (SIGSEGV in the child), while the same binary runs cleanly alone.
    nonisolated(unsafe) var pool: WorkerPool?
    let poolSetup: @Sendable () async throws -> Void = { pool = WorkerPool(threadCount: 1) }
    let poolTeardown: @Sendable () async throws -> Void = {
        pool?.shutdown()
        pool = nil
    }

    Benchmark(
        "Actor tell (worker pool, 1k per iteration)",
        configuration: .init(scalingFactor: .kilo, setup: poolSetup, teardown: poolTeardown)
    ) { benchmark in
        let actor = ActorRef(state: 0, behavior: bumpBehavior(), executor: pool!)
        let slot = ReplySlot()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for _ in 0..<1_000 { try? actor.tell(Bump(amount: 1)) }
            actor.request(Bump(amount: 0), replyTo: slot)
            blackHole(slot.wait())
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Actor request→reply (inline)", configuration: .init(scalingFactor: .mega)) { benchmark in
        let actor = ActorRef(state: 0, behavior: bumpBehavior(), executor: InlineExecutor())
        let slot = ReplySlot()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            actor.request(Bump(amount: 1), replyTo: slot)
            blackHole(slot.wait())
        }
    }

    Benchmark(
        "Actor request→reply (across threads)",
        configuration: .init(scalingFactor: .kilo, setup: poolSetup, teardown: poolTeardown)
    ) { benchmark in
        let actor = ActorRef(state: 0, behavior: bumpBehavior(), executor: pool!)
        let slot = ReplySlot()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            actor.request(Bump(amount: 1), replyTo: slot)
            blackHole(slot.wait())
        }
        benchmark.stopMeasurement()
    }
}
