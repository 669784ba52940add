import Benchmark
import Foundation

// Heap per live, idle actor. The measurement runs in a child process, ActorHeapProbe, built beside this executable
// (`make bench-micro` builds it) and started without the LD_PRELOAD the tool sets: this process has the benchmark
// tool's malloc interposer (linked, and preloaded by the tool), whose Linux `free`
// faults on a pointer it did not allocate when that pointer starts a mapping (the 100,000-actor case died so,
// freeing a mailbox buffer at shutdown), and whose 16-byte header on every `malloc` would inflate the figure.
// The child links jemalloc and reads its `stats.allocated` before and after `count` keys each got one message.

let heapPerActor = BenchmarkMetric.custom(
    "heap bytes per live actor", polarity: .prefersSmaller, useScalingFactor: false)
let spawnRate = BenchmarkMetric.custom("actors spawned per second", polarity: .prefersLarger, useScalingFactor: false)

/// Runs ActorHeapProbe for `count` actors.
/// - Returns: heap bytes per live actor and actors spawned per second.
func probeHeap(actors count: Int) throws -> (heapPerActor: Int, spawnRate: Int) {
    // This executable's directory (the tool starts it by a name that need not hold one).
    let this =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let directory = URL(fileURLWithPath: this).deletingLastPathComponent()
    let executable = directory.appendingPathComponent("ActorHeapProbe")
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
        throw ProbeError(message: "\(executable.path) missing: swift build -c release --product ActorHeapProbe")
    }
    let process = Process()
    process.executableURL = executable
    process.arguments = [String(count)]
    // The tool preloads its interposer into the benchmark (LD_PRELOAD): not into the probe.
    process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "LD_PRELOAD" }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let fields = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    guard process.terminationStatus == 0, fields.count == 2 else {
        throw ProbeError(message: "ActorHeapProbe \(count) exited \(process.terminationStatus): \(fields)")
    }
    return (fields[0], fields[1])
}

struct ProbeError: Error {
    var message: String
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // No ARC metrics: they crash without the runtime interposer (see the README).
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 2,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // Passivation is off; spawn, first mailbox buffer, registry entry, actor, bound behavior and state box are all
    // counted (see ActorHeapProbe).
    for count in [1_000, 100_000, 1_000_000] {
        Benchmark(
            "Heap per live idle actor, \(count) actors",
            configuration: .init(
                metrics: [heapPerActor, spawnRate],
                warmupIterations: 0,
                maxDuration: .seconds(60),
                maxIterations: count >= 100_000 ? 1 : 5)
        ) { benchmark in
            let measured = try probeHeap(actors: count)
            benchmark.measurement(heapPerActor, measured.heapPerActor)
            benchmark.measurement(spawnRate, measured.spawnRate)
        }
    }
}
