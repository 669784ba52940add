// swift-tools-version: 6.1
import Foundation
import PackageDescription

// `CLSTR_SYSTEM_MALLOC=1` builds without jemalloc (the thread sanitizer replaces malloc itself and cannot run with
// jemalloc linked); `make tsan` sets it, in a build folder of its own.
let systemMalloc = ProcessInfo.processInfo.environment["CLSTR_SYSTEM_MALLOC"] != nil

// `CLSTR_FUZZ=1` adds the libFuzzer targets (`make fuzz`, scratch path .build-fuzz). They have no `main` of their
// own — libFuzzer's runtime, linked by `-sanitize=fuzzer`, provides it — so they cannot link in a normal build.
let fuzzing = ProcessInfo.processInfo.environment["CLSTR_FUZZ"] != nil

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

// Linux only: the HTTP engine and loadgen run on epoll/eventfd/timerfd, the services link Debian's jemalloc, libb2 and
// libnats. (No `platforms:` line: one would suggest an Apple build that cannot work.)
let package = Package(
    name: "swift-clstr",
    products: [
        .library(name: "ClstrRuntime", targets: ["ClstrRuntime"]),
        .library(name: "RuntimeMemory", targets: ["RuntimeMemory"]),
        .library(name: "EventSourcing", targets: ["EventSourcing"]),
        .library(name: "EventSourcingTestKit", targets: ["EventSourcingTestKit"]),
        .library(name: "RuntimeNATS", targets: ["RuntimeNATS"]),
        .library(name: "HTTPFront", targets: ["HTTPFront"]),
        .library(name: "LoadGenCore", targets: ["LoadGenCore"]),
        // For the nested benchmark package, which starts its own nats-server.
        .library(name: "ProcessKit", targets: ["ProcessKit"]),
        .executable(name: "counter-service", targets: ["CounterService"]),
        .executable(name: "accounting", targets: ["AccountingService"]),
        .executable(name: "loadgen", targets: ["LoadGen"]),
        .executable(name: "faultclient", targets: ["FaultClient"]),
        .library(name: "EventStoreSQLite", targets: ["EventStoreSQLite"]),
        .executable(name: "es-crash-probe", targets: ["EventStoreCrashProbe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // SQLite event store. 7.10 links against Debian 12's libsqlite3 (7.8 referenced sqlite3_snapshot_*).
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        // C libraries from Debian, each wrapped by exactly one Swift target.
        .systemLibrary(name: "CJemalloc", pkgConfig: "jemalloc", providers: [.apt(["libjemalloc-dev"])]),
        .systemLibrary(name: "CBlake2", pkgConfig: "libb2", providers: [.apt(["libb2-dev"])]),
        .systemLibrary(name: "CNATS", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        // Linux epoll/timerfd headers for loadgen's engine (part of libc: nothing to link).
        .systemLibrary(name: "CEpoll"),

        // The runtime core: actors, cluster routing, in-memory transport, metrics. Opens no sockets.
        // The module is `ClstrRuntime`, not `Runtime`: Swift ships a `Runtime` module of its own (backtraces), which
        // package-benchmark imports; a module of ours with that name shadows it and breaks the benchmark build.
        .target(
            name: "ClstrRuntime",
            dependencies: [
                "CBlake2",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Runtime",
            swiftSettings: strict + (systemMalloc ? [.define("CLSTR_PTHREAD_LOCKS")] : [])
        ),
        // Event sourcing core: events, records, store/snapshot/checkpoint protocols, aggregates, the event-sourced
        // actor, consumers, the in-memory stores. Opens no files or sockets.
        .target(
            name: "EventSourcing",
            dependencies: [
                "ClstrRuntime",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The conformance suite every store runs (test bodies taking a store factory), for the stores' test targets.
        .target(
            name: "EventSourcingTestKit",
            dependencies: ["EventSourcing", "ClstrRuntime"],
            swiftSettings: strict
        ),
        // The accounting example's domain: the `Account` aggregate (decide/evolve), its events and their binary
        // payloads. Pure values, no I/O.
        .target(
            name: "AccountingDomain",
            dependencies: ["EventSourcing"],
            swiftSettings: strict
        ),
        // jemalloc as the process allocator plus its heap statistics. Kept out of `Runtime` so that a process can
        // choose its allocator: the services link it; the micro benchmarks must not, because package-benchmark
        // counts mallocs by interposing malloc, and jemalloc linked first would bypass the interposer.
        .target(
            name: "RuntimeMemory",
            dependencies: systemMalloc ? [] : ["CJemalloc"],
            swiftSettings: strict
        ),
        // NATS transport over libnats.
        .target(
            name: "RuntimeNATS",
            dependencies: [
                "ClstrRuntime", "CNATS", "EventSourcing",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // HTTP/1.1 serving shared by the example services: a raw-epoll engine (the default) and a SwiftNIO one, both
        // over one engine-neutral session and state machine; the path router.
        // The JSON string escaper and a minimal writer: one for the HTTP answers and loadgen's JSON report.
        .target(name: "JSONText", swiftSettings: strict),
        .target(
            name: "HTTPFront",
            dependencies: [
                "JSONText",
                "ClstrRuntime", "CEpoll", "EventSourcing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // What counter-service and accounting share: flags, loops, start-up and graceful shutdown, metrics endpoint.
        .target(
            name: "ServiceKit",
            dependencies: [
                "ClstrRuntime", "RuntimeNATS", "HTTPFront", "RuntimeMemory", "ProcessKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "AccountingService",
            dependencies: [
                "AccountingDomain", "EventSourcing", "EventStoreSQLite", "ServiceKit", "ClstrRuntime", "HTTPFront",
                "RuntimeNATS",
                "RuntimeMemory", "ProcessKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "CounterService",
            dependencies: [
                "ServiceKit", "ClstrRuntime", "RuntimeNATS", "HTTPFront", "RuntimeMemory", "ProcessKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The load generation engine: options, connections (epoll and NIO), statistics, a run's summary/JSON/CSV
        // output. No command line, no results files: testable without either.
        .target(
            name: "LoadGenCore",
            dependencies: [
                "JSONText",
                "CEpoll",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),
        // The one home of benchmark results: the row schema, the results CSV reader/writer, the commit rule, the
        // comparer and its noise rule, wrk/hey ingest, the HTML/SVG report. Foundation only: no engine, no CLI.
        .target(
            name: "BenchResults",
            swiftSettings: strict
        ),
        // loadgen's command line (hey flags as the default subcommand, `compare`, `report`) as a library, and
        // `LoadGen` a two-line main: tests import a library module, and importing an executable target's module
        // into a test target is what SwiftPM supports least (it needs the `main` symbol renamed, and is not
        // supported on every platform), so the parsing and the dispatch live where a test can reach them.
        .target(
            name: "LoadGenCLI",
            dependencies: [
                "LoadGenCore", "BenchResults",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "LoadGen",
            dependencies: ["LoadGenCLI", "ProcessKit"],
            swiftSettings: strict
        ),
        // The hostile clients of `make faults` (idle keep-alive, slow-header and garbage connections).
        .executableTarget(
            name: "FaultClient",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        // The SQLite event store (embedded durable default): WAL, synchronous=FULL, one group-commit writer.
        .target(
            name: "EventStoreSQLite",
            dependencies: [
                "EventSourcing", "ClstrRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // Appends in a loop and prints each acknowledged append, for the SQLite crash test (killed with SIGKILL).
        .executableTarget(
            name: "EventStoreCrashProbe",
            dependencies: ["EventSourcing", "EventStoreSQLite"],
            swiftSettings: strict
        ),
        // Process helpers: free ports, child processes, a real nats-server child (the tests', the benchmarks' and
        // `--nats-server auto`'s). Production code may link it.
        .target(
            name: "ProcessKit",
            dependencies: [],
            swiftSettings: strict
        ),
        // Test-only helpers (raw HTTP client, blocking executor); re-exports ProcessKit. No executable links it.
        .target(
            name: "TestKit",
            dependencies: ["ProcessKit"],
            resources: [.copy("Resources/vectors")],
            swiftSettings: strict
        ),

        .testTarget(
            name: "RuntimeTests", dependencies: ["ClstrRuntime", "CBlake2", "RuntimeMemory", "TestKit"],
            swiftSettings: strict),
        .testTarget(
            name: "RuntimeNATSTests", dependencies: ["RuntimeNATS", "ClstrRuntime", "TestKit"], swiftSettings: strict),
        .testTarget(
            name: "HTTPFrontTests",
            dependencies: [
                "HTTPFront", "ClstrRuntime", "TestKit", "EventSourcing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EventSourcingTests",
            dependencies: ["EventSourcing", "EventSourcingTestKit", "ClstrRuntime"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EventStoreSQLiteTests",
            dependencies: [
                "EventStoreSQLite", "EventSourcing", "EventSourcingTestKit", "ClstrRuntime", "TestKit",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AccountingDomainTests", dependencies: ["AccountingDomain", "EventSourcing"], swiftSettings: strict),
        .testTarget(
            name: "AccountingServiceTests", dependencies: ["TestKit", "AccountingService"], swiftSettings: strict),
        // The JetStream event store against a real `nats-server -js`: the conformance suite and the restart test.
        .testTarget(
            name: "EventStoreJetStreamTests",
            dependencies: ["RuntimeNATS", "EventSourcing", "EventSourcingTestKit", "TestKit"],
            swiftSettings: strict
        ),
        .testTarget(name: "CounterServiceTests", dependencies: ["TestKit"], swiftSettings: strict),
        .testTarget(
            name: "LoadGenCoreTests",
            dependencies: [
                "LoadGenCore", "TestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BenchResultsTests",
            dependencies: ["BenchResults"],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LoadGenCLITests",
            dependencies: ["LoadGenCLI", "LoadGenCore", "BenchResults", "TestKit"],
            swiftSettings: strict
        ),
    ]
)

// The fuzz targets: one executable per harness, `@_cdecl("LLVMFuzzerTestOneInput")`, seed corpora in Fuzz/corpus/.
if fuzzing {
    let harnesses: [(product: String, target: String, dependencies: [Target.Dependency])] = [
        ("fuzz-http-parser", "FuzzHTTPParser", ["HTTPFront"]),
        ("fuzz-json-amount", "FuzzJSONAmount", ["HTTPFront"]),
        ("fuzz-nats-envelope", "FuzzNATSEnvelope", ["RuntimeNATS", "ClstrRuntime"]),
        ("fuzz-event-decoders", "FuzzEventDecoders", ["AccountingDomain", "EventSourcing"]),
    ]
    package.targets.append(.target(name: "CLibFuzzer", path: "Fuzz/Sources/CLibFuzzer"))
    for harness in harnesses {
        package.products.append(.executable(name: harness.product, targets: [harness.target]))
        package.targets.append(
            .executableTarget(
                name: harness.target, dependencies: harness.dependencies + ["CLibFuzzer"],
                path: "Fuzz/Sources/\(harness.target)",
                swiftSettings: strict))
    }
}
