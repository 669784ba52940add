import Benchmark
import ClstrRuntime

struct Touch: ActorMessage {
    typealias Reply = Int
}

func touchBehavior() -> ActorBehavior<Int> {
    var behavior = ActorBehavior<Int>()
    behavior.on(Touch.self) { value, _ in
        value &+= 1
        return value
    }
    return behavior
}

/// The counter service's registry settings, with passivation off: every actor stays live.
func counterLikeOptions() -> ActorRegistryOptions {
    var options = ActorRegistryOptions()
    options.actor.mailboxCapacity = 256
    options.actor.overflow = .fail
    return options
}

/// Spawn rate and first-message latency of new actors (here, not in ActorMemoryBenchmarks: with jemalloc linked,
/// the malloc interposer crashes the worker-pool case).
func registerActorSpawnBenchmarks() {
    // Spawn rate through the registry: each operation spawns an actor for a new key and hands it its first
    // message (inline executor); the table keeps growing across iterations.
    nonisolated(unsafe) var spawning: ActorRegistry<Int, Int>?
    nonisolated(unsafe) var nextKey = 0
    Benchmark(
        "Spawn: first message to a new key (inline)",
        configuration: .init(
            scalingFactor: .kilo,
            setup: {
                let behavior = touchBehavior()
                spawning = ActorRegistry(
                    executor: InlineExecutor(), options: counterLikeOptions(), factory: { _ in (0, behavior) })
            },
            teardown: {
                spawning?.shutdown()
                spawning = nil
            })
    ) { benchmark in
        let registry = spawning!
        for _ in benchmark.scaledIterations {
            try? registry.tell(Touch(), to: nextKey)
            nextKey &+= 1
        }
    }

    // First-message latency of a new actor: request to a new key until its reply is in hand, on the caller's
    // thread (inline) and across threads (worker pool).
    let slot = ReplySlot()
    Benchmark(
        "First message latency: request→reply to a new key (inline)",
        configuration: .init(
            scalingFactor: .kilo,
            setup: {
                let behavior = touchBehavior()
                spawning = ActorRegistry(
                    executor: InlineExecutor(), options: counterLikeOptions(), factory: { _ in (0, behavior) })
            },
            teardown: {
                spawning?.shutdown()
                spawning = nil
            })
    ) { benchmark in
        let registry = spawning!
        for _ in benchmark.scaledIterations {
            registry.request(Touch(), to: nextKey, replyTo: slot)
            blackHole(slot.wait())
            nextKey &+= 1
        }
    }

    // The pool's threads are started in setup (see RuntimeBenchmarks: threads started in the measured closure
    // crash the malloc interposer).
    nonisolated(unsafe) var pool: WorkerPool?
    Benchmark(
        "First message latency: request→reply to a new key (worker pool)",
        configuration: .init(
            scalingFactor: .kilo,
            setup: {
                let workers = WorkerPool(threadCount: 1)
                pool = workers
                let behavior = touchBehavior()
                spawning = ActorRegistry(
                    executor: workers, options: counterLikeOptions(), factory: { _ in (0, behavior) })
            },
            teardown: {
                spawning?.shutdown()
                spawning = nil
                pool?.shutdown()
                pool = nil
            })
    ) { benchmark in
        let registry = spawning!
        for _ in benchmark.scaledIterations {
            registry.request(Touch(), to: nextKey, replyTo: slot)
            blackHole(slot.wait())
            nextKey &+= 1
        }
    }
}
