import Benchmark
import ClstrRuntime

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // No ARC metrics: they crash without the runtime interposer (see the README).
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 2,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )
    registerActorBenchmarks()
    registerClusterBenchmarks()
    registerNATSBenchmarks()
    registerJetStreamEventStoreBenchmarks()
}
