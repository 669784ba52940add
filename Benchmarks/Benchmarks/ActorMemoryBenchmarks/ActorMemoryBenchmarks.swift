import Benchmark
import ClstrRuntime
import RuntimeMemory

// A target of its own because it links jemalloc (RuntimeMemory) as the process allocator, for its heap statistics:
// the other suites keep the allocator they were measured with. Under the benchmark tool's malloc interposer this
// process sometimes dies with SIGSEGV (seen at the base commit too, for every case): rerun the case alone
// (`--filter "Heap per live idle actor, 1000000 actors"`); RuntimeTests' footprint test checks the 10,000 case.

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

let heapPerActor = BenchmarkMetric.custom(
    "heap bytes per live actor", polarity: .prefersSmaller, useScalingFactor: false)
let spawnRate = BenchmarkMetric.custom("actors spawned per second", polarity: .prefersLarger, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // No ARC metrics: they crash without the runtime interposer (see the README).
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 2,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // Heap per live, idle actor: jemalloc's allocated bytes before and after `count` keys each got one message
    // (spawn, first mailbox buffer, registry entry, actor, bound behavior and state box all counted), divided by
    // `count`. Passivation is off.
    for count in [1_000, 100_000, 1_000_000] {
        Benchmark(
            "Heap per live idle actor, \(count) actors",
            configuration: .init(
                metrics: [heapPerActor, spawnRate],
                warmupIterations: count >= 100_000 ? 0 : 1,
                maxDuration: .seconds(60),
                maxIterations: count >= 100_000 ? 1 : 5)
        ) { benchmark in
            let behavior = touchBehavior()
            let registry = ActorRegistry<Int, Int>(
                executor: InlineExecutor(), options: counterLikeOptions(), factory: { _ in (0, behavior) })
            let before = HeapStatistics.current().allocated
            let start = MonotonicClock.now()
            for key in 0..<count {
                try? registry.tell(Touch(), to: key)
            }
            let elapsed = max(1, MonotonicClock.now() &- start)
            let after = HeapStatistics.current().allocated
            precondition(registry.count == count)
            benchmark.measurement(heapPerActor, (after - before) / count)
            benchmark.measurement(spawnRate, Int(Double(count) * 1e9 / Double(elapsed)))
            registry.shutdown()
        }
    }
}
