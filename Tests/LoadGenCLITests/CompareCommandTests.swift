import BenchResults
import Foundation
import Testing

@testable import LoadGenCLI

@Suite struct CompareCommandTests {
    /// The committed `results/bench.csv` as copied into BenchResultsTests' fixtures.
    static let benchHistory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../BenchResultsTests/Fixtures/bench-history.csv").standardized.path

    /// loadgen's results header before the schema was merged (33 columns, no tool/target/status).
    static let oldHeader =
        "time_utc,commit,host_cores,cpu_model,scenario,n,c,rate,method,url_path,body_bytes,duration_s,requests,errors,non_2xx,rps,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,cp50_ms,cp90_ms,cp99_ms,cp999_ms,cmax_ms,behind_schedule,heap_before,heap_after,rss_before,rss_after,verify,loadgen_version"

    static func csv(_ rows: [String]) -> String {
        ([oldHeader] + rows).joined(separator: "\n") + "\n"
    }

    /// A row in loadgen's old 33-column format.
    static func line(
        commit: String, scenario: String, c: Int = 200, rps: Double, p50: Double, p99: Double, heap: String = "",
        verify: String = ""
    ) -> String {
        "2026-11-29T08:00:00Z,\(commit),2,cpu,\(scenario),100000,\(c),,POST,/counter/bench/increment,0,2.0,100000,0,0,\(rps),\(p50),1,\(p99),1,1,,,,,,,,\(heap),,,\(verify),0.1.0"
    }

    static func compare(_ old: [String], _ new: [String]) throws -> BenchComparison {
        BenchComparison(
            base: try BenchHistory(csv: csv(old)).rows, head: try BenchHistory(csv: csv(new)).rows, baseName: "old",
            headName: "new")
    }

    @Test func verdictsOnOldLoadgenFiles() throws {
        let comparison = try Self.compare(
            [
                Self.line(commit: "aaa", scenario: "single", rps: 40000, p50: 4.0, p99: 10.0, heap: "1000000"),
                Self.line(commit: "aaa", scenario: "spread", rps: 30000, p50: 5.0, p99: 12.0),
                Self.line(commit: "aaa", scenario: "flat", rps: 50000, p50: 3.0, p99: 8.0),
                Self.line(commit: "aaa", scenario: "conc", c: 100, rps: 50000, p50: 3.0, p99: 8.0),
            ],
            [
                Self.line(commit: "bbb", scenario: "single", rps: 48000, p50: 3.5, p99: 9.5, heap: "1010000"),
                Self.line(commit: "bbb", scenario: "spread", rps: 25000, p50: 5.0, p99: 15.0),
                Self.line(commit: "bbb", scenario: "flat", rps: 51000, p50: 3.1, p99: 8.2),
                Self.line(commit: "bbb", scenario: "conc", c: 200, rps: 50000, p50: 3.0, p99: 8.0),
            ])
        let verdicts = Dictionary(uniqueKeysWithValues: comparison.lines.map { ($0.key.scenario, $0.verdict) })
        #expect(comparison.lines.allSatisfy { $0.key.tool == "loadgen" })  // migrated: old files are loadgen's
        #expect(verdicts["single"] == .improved)
        #expect(verdicts["spread"] == .regressed)
        #expect(verdicts["flat"] == .unchanged)
        #expect(verdicts["conc"] == .incomparable)
        #expect(
            comparison.lines.first { $0.key.scenario == "conc" }?.note == "sizes differ: c100 n100000 vs c200 n100000")
        let single = try #require(comparison.lines.first { $0.key.scenario == "single" })
        #expect(single.deltas.map(\.metric) == ["rps", "p50_ms", "p99_ms", "heap_after"])
        #expect(single.deltas[0].verdict == .improved && abs(single.deltas[0].change - 0.2) < 1e-9)
        #expect(single.deltas[3].verdict == .unchanged)
        #expect(comparison.exitCode == 1)
        #expect(comparison.table.contains("regressed"))
    }

    @Test func repeatsWidenTheBandAndPlusDirtyIsDirty() throws {
        // Old repeats spread (44 − 36) / 40 = 20 % → band 2 × 20 % = 40 %: a 25 % drop is noise.
        let history = try BenchHistory(
            csv: Self.csv([
                Self.line(commit: "aaa1", scenario: "s", rps: 36000, p50: 4, p99: 10),
                Self.line(commit: "aaa1", scenario: "s", rps: 40000, p50: 4, p99: 10),
                Self.line(commit: "aaa1", scenario: "s", rps: 44000, p50: 4, p99: 10),
                Self.line(commit: "bbb2+dirty", scenario: "s", rps: 30000, p50: 4, p99: 10),
                Self.line(commit: "bbb2+dirty", scenario: "s", rps: 30000, p50: 4, p99: 10),
            ]))
        #expect(history.commits == ["aaa1", "bbb2-dirty"])
        let comparison = try BenchComparison(history: history, base: "aaa1", head: "bbb2")
        #expect(comparison.head == "bbb2-dirty")
        let line = try #require(comparison.lines.first)
        let rps = try #require(line.throughput)
        #expect(abs(rps.band - 0.4) < 1e-9)
        #expect(rps.verdict == .unchanged && line.verdict == .unchanged)
        #expect(comparison.exitCode == 0)
    }

    @Test func failedVerificationIsAFailedHead() throws {
        let comparison = try Self.compare(
            [Self.line(commit: "a", scenario: "s", rps: 1, p50: 1, p99: 1, verify: "PASS")],
            [Self.line(commit: "b", scenario: "s", rps: 1, p50: 1, p99: 1, verify: "FAIL")])
        let line = try #require(comparison.lines.first)
        #expect(line.verdict == .failed)
        #expect(line.note == "1 of 1 head run(s) failed")
        #expect(comparison.exitCode == 1)
    }

    @Test func compareCommandSelectsByCommit() throws {
        let path = NSTemporaryDirectory() + "loadgen-compare-\(getpid())-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.csv([
            Self.line(commit: "aaa1111", scenario: "s", rps: 100, p50: 1, p99: 1),
            Self.line(commit: "bbb2222", scenario: "s", rps: 100, p50: 1, p99: 1),
        ]).write(toFile: path, atomically: true, encoding: .utf8)
        let command = try #require(
            try LoadGenCommand.parseAsRoot(["compare", path, "--base", "aaa1", "--head", "bbb2222"])
                as? CompareCommand)
        let comparison = try command.comparison()
        #expect(comparison.base == "aaa1111" && comparison.head == "bbb2222")
        #expect(comparison.exitCode == 0)
    }

    @Test func compareAcceptsTheCommittedBenchHistory() throws {
        // `loadgen compare results/bench.csv`: the latest commit against the previous one with runs of its size.
        let command = try #require(try LoadGenCommand.parseAsRoot(["compare", Self.benchHistory]) as? CompareCommand)
        let comparison = try command.comparison()
        #expect(comparison.base == "e2e30f6a4e34" && comparison.head == "0ca92c2be623")
        #expect(comparison.lines.count == 11)
        #expect(comparison.lines.allSatisfy { $0.verdict != .incomparable && $0.verdict != .missing })
        #expect(comparison.table.hasPrefix("base e2e30f6a4e34 → head 0ca92c2be623\n"))
        let hot = try #require(
            comparison.lines.first { $0.key == .init(scenario: "hot-key", tool: "loadgen", target: "counter-service") })
        #expect(hot.throughput?.metric == "ratio_vs_nginx")
        #expect(hot.deltas.map(\.metric) == ["ratio_vs_nginx", "p50_ms", "p99_ms", "heap_after"])

        // Two files of bench rows, a commit picked in each; the dirty commit by its -dirty name.
        let twoFiles = try #require(
            try LoadGenCommand.parseAsRoot([
                "compare", Self.benchHistory, Self.benchHistory, "--base", "8e84c44355a2-dirty", "--head", "cb29aa0",
            ]) as? CompareCommand)
        let across = try twoFiles.comparison()
        #expect(across.base.hasSuffix("@8e84c44355a2-dirty") && across.head.hasSuffix("@cb29aa041b89"))
        #expect(across.comparedAnything)
    }

    @Test func compareBandsFromFlags() throws {
        let command = try #require(
            try LoadGenCommand.parseAsRoot(["compare", "--throughput-band", "0.05", "--latency-band", "0.5"])
                as? CompareCommand)
        #expect(command.policy == .init(throughputFloor: 0.05, latencyFloor: 0.5, memoryFloor: 0.25))
        #expect(command.policy.cpuFloor == 0.05 && command.policy.instructionsFloor == 0.02)
        let cost = try #require(
            try LoadGenCommand.parseAsRoot(["compare", "--cpu-band", "0.1", "--instructions-band", "0.01"])
                as? CompareCommand)
        #expect(cost.policy == .init(cpuFloor: 0.1, instructionsFloor: 0.01))
        let all = try #require(try LoadGenCommand.parseAsRoot(["compare", "--threshold", "0.2"]) as? CompareCommand)
        #expect(
            all.policy
                == .init(
                    throughputFloor: 0.2, latencyFloor: 0.2, memoryFloor: 0.2, cpuFloor: 0.2, instructionsFloor: 0.2))
    }
}
