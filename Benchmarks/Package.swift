// swift-tools-version: 6.1
import Foundation
import PackageDescription

// A path dependency is named after its folder, which differs between clones: derive it.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "benchmarks",
    dependencies: [
        .package(path: "../"),
        // MallocInterposer only: the default RuntimeInterposer trait needs a package that is not available offline.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "RuntimeBenchmarks",
            dependencies: [
                .product(name: "ClstrRuntime", package: root),
                .product(name: "EventSourcing", package: root),
                .product(name: "RuntimeNATS", package: root),
                .product(name: "ProcessKit", package: root),
                .product(name: "EventStoreSQLite", package: root),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/RuntimeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The HTTP request path without a socket: parse → route → render, mallocs counted.
        .executableTarget(
            name: "HTTPBenchmarks",
            dependencies: [
                .product(name: "HTTPFront", package: root),
                .product(name: "ClstrRuntime", package: root),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HTTPBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Heap per live actor: measured in a child process, ActorHeapProbe (see there why), started by the cases.
        .executableTarget(
            name: "ActorMemoryBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark")
            ],
            path: "Benchmarks/ActorMemoryBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Links jemalloc (RuntimeMemory) for its heap statistics and not the benchmark library (no malloc
        // interposer). Not under Benchmarks/: package-benchmark runs every executable target there as a suite. Built by `make bench-micro` before the suites run: `swift build -c release --product
        // ActorHeapProbe`.
        .executableTarget(
            name: "ActorHeapProbe",
            dependencies: [
                .product(name: "ClstrRuntime", package: root),
                .product(name: "RuntimeMemory", package: root),
            ],
            path: "Probes/ActorHeapProbe"
        ),
    ]
)
