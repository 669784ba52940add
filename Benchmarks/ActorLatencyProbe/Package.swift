// swift-tools-version: 6.1
import Foundation
import PackageDescription

// A path dependency is named after its folder, which differs between clones: derive it.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent

// The actor request→reply loops of `make bench-micro` ("Actor request→reply (inline)" and "(across threads)") as a
// plain executable: timed without the benchmark harness, and small enough to run under callgrind for an
// instruction count that does not move with the machine's load. It builds against any commit's ClstrRuntime
// (copy this folder into that tree's Benchmarks/): see scripts/actor-latency-ab.sh.
let package = Package(
    name: "actor-latency-probe",
    dependencies: [.package(path: "../../")],
    targets: [
        .executableTarget(
            name: "ActorLatencyProbe",
            dependencies: [.product(name: "ClstrRuntime", package: root)],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
