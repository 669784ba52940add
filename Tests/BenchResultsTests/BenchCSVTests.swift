import Foundation
import Testing

@testable import BenchResults

@Suite("bench.csv rows, run assembly and comparison")
struct BenchCSVTests {
    @Test("the header is loadgen's columns followed by the bench columns")
    func header() {
        #expect(
            BenchRow.header
                == "time_utc,commit,host_cores,cpu_model,scenario,n,c,rate,method,url_path,body_bytes,duration_s,"
                + "requests,errors,non_2xx,rps,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,cp50_ms,cp90_ms,cp99_ms,cp999_ms,"
                + "cmax_ms,behind_schedule,heap_before,heap_after,rss_before,rss_after,verify,loadgen_version,"
                + "tool,target,ratio_vs_nginx,ratio_vs_wrk,status,"
                + "server_cpu_s,cpu_us_per_req,cpu_ratio_vs_nginx,instructions_per_req,instructions_ratio_vs_nginx")
        #expect(BenchRow.columns.count == 43)
        #expect(BenchRow().csvLine() == String(repeating: ",", count: 42))
    }

    @Test("fields with commas, quotes and line breaks round-trip through a line")
    func quoting() {
        let fields = ["plain", "a,b", "say \"hi\"", "two\nlines", "", "{rand:100}"]
        let line = BenchCSV.line(fields)
        #expect(line == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,{rand:100}")
        #expect(BenchCSV.parse(line + "\n") == [fields])
        #expect(BenchCSV.parse("a,b\r\n\r\nc,\"\"\n") == [["a", "b"], ["c", ""]])
    }

    @Test("a row is read by column name, whatever the file's column order; unknown columns are kept")
    func readByName() throws {
        let row = BenchRow(record: ["x", "200", "hot-key", "extra"], header: ["status", "c", "scenario", "unknown"])
        #expect(row.scenario == "hot-key")
        #expect(row["c"] == "200")
        #expect(row["status"] == "x")
        #expect(row["unknown"] == "extra")
        #expect(row.unknownColumns == ["unknown"])
        #expect(row.number("c") == 200)
        #expect(row.number("rps") == nil)
    }

    @Test("appending writes the header once and keeps earlier rows")
    func appendKeepsRows() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/sub/bench.csv"
        try BenchHistory.append([BenchRow(["scenario": "a", "commit": "c1", "cpu_model": "x, y"])], to: path)
        try BenchHistory.append([BenchRow(["scenario": "b", "commit": "c2"])], to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.components(separatedBy: "\n").filter { $0.hasPrefix("time_utc,") }.count == 1)
        let results = try BenchHistory(contentsOf: path)
        #expect(results.rows.map(\.scenario) == ["a", "b"])
        #expect(results.rows[0]["cpu_model"] == "x, y")
        #expect(results.commits == ["c1", "c2"])
    }

    @Test("wrk's WRK_RESULT line becomes milliseconds and req/s")
    func wrkOutput() throws {
        let values = try ToolOutput.wrk(
            "noise\nWRK_RESULT requests=1000 duration_us=2000000 connect=1 read=2 write=0 status=3 timeout=4 "
                + "p50_us=1500 p90_us=2000 p99_us=2500 p999_us=3000 max_us=4000.5\n")
        #expect(values["rps"] == "500.0")
        #expect(values["errors"] == "7")
        #expect(values["non_2xx"] == "3")
        #expect(values["p50_ms"] == "1.500")
        #expect(values["max_ms"] == "4.000")
        #expect(values["duration_s"] == "2.000")
        #expect(throws: BenchResultsError.self) { try ToolOutput.wrk("Running 5s test\n") }
    }

    @Test("hey's CSV gives exact percentiles, non-2xx and missing requests as errors")
    func heyOutput() throws {
        let output = try String(contentsOfFile: Fixture.path("run/hey-counter-1.csv"), encoding: .utf8)
        let values = try ToolOutput.hey(output, expected: 12)
        #expect(values["requests"] == "10")
        #expect(values["errors"] == "2")
        #expect(values["non_2xx"] == "1")
        #expect(values["p50_ms"] == "5.000")
        #expect(values["p90_ms"] == "9.000")
        #expect(values["p99_ms"] == "20.000")
        #expect(values["max_ms"] == "20.000")
        #expect(values["rps"] == "83.3")
    }

    @Test("a run is judged and gets ratios to the anchors of the same run")
    func assembleRun() throws {
        let assembler = BenchRunAssembler(
            stamp: .init(commit: "feedbee", timeUTC: "2026-11-29T08:00:00Z", hostCores: 2, cpuModel: "Some CPU"))
        let rows = try assembler.assemble(manifestPath: Fixture.path("run/manifest.tsv"))
        #expect(rows.count == 7)
        #expect(rows.allSatisfy { $0.commit == "feedbee" && $0["host_cores"] == "2" && $0["cpu_model"] == "Some CPU" })

        let hot = rows[0]
        #expect(hot.status == "PASS")
        #expect(hot["ratio_vs_nginx"] == "0.500")  // 10,000 ÷ loadgen→nginx 20,000
        #expect(hot["ratio_vs_wrk"] == "0.800")  // 10,000 ÷ wrk→counter 12,500
        #expect(hot["heap_after"] == "1100000")
        #expect(hot["time_utc"] == "2026-11-29T08:00:01Z")

        // CPU per request: server_cpu_s × 10⁶ ÷ requests; the ratio to the same tool's nginx figure (lower is better).
        #expect(hot["server_cpu_s"] == "0.009")
        #expect(hot["cpu_us_per_req"] == "9.000")  // 0.009 s ÷ 1,000 requests
        #expect(hot["cpu_ratio_vs_nginx"] == "1.500")  // ÷ loadgen→nginx 6 µs

        let nginx = rows[1]
        #expect(nginx.status == "PASS")
        #expect(nginx["ratio_vs_nginx"] == "")
        #expect(nginx["cpu_us_per_req"] == "6.000" && nginx["cpu_ratio_vs_nginx"] == "")
        #expect(nginx["ratio_vs_wrk"] == "0.800")  // 20,000 ÷ wrk→nginx 25,000

        let wrk = rows[2]
        #expect(wrk.tool == "wrk" && wrk.rps == 12_500)
        #expect(wrk["ratio_vs_nginx"] == "0.500")  // ÷ wrk→nginx 25,000
        #expect(wrk["ratio_vs_wrk"] == "")
        #expect(wrk["time_utc"] == "2026-11-29T08:00:00Z")
        #expect(wrk["method"] == "POST" && wrk["c"] == "20")
        #expect(wrk["cpu_us_per_req"] == "9.000")  // 0.5625 s ÷ 62,500 requests
        #expect(wrk["cpu_ratio_vs_nginx"] == "1.286")  // ÷ wrk→nginx 0.875 s ÷ 125,000 = 7 µs

        let hey = rows[4]
        #expect(hey.status == "FAILED: non-2xx 1")
        #expect(hey["cpu_us_per_req"] == "")  // not sampled: no CPU figure rather than a wrong one
        #expect(hey["verify"] == "PASS")

        let spread = rows[5]
        #expect(!spread.passed)
        #expect(spread.status.hasPrefix("FAILED: exit 1; server died; errors 10; verify FAIL"))

        let read = rows[6]
        #expect(read.status.hasPrefix("FAILED: no result"))
        #expect(read.status.contains("no output"))
        #expect(read.status.contains("exit 2"))
        #expect(read["method"] == "GET" && read.scenario == "read")
    }

    @Test("a soak whose heap grows past the limit fails")
    func soakFlatness() {
        let assembler = BenchRunAssembler(
            stamp: .init(commit: "c", timeUTC: "t", hostCores: 2, cpuModel: "m"))
        let header = BenchRow.loadgenColumns
        func output(heapAfter: Int) -> String {
            var row = BenchRow([
                "scenario": "soak", "rps": "1000", "errors": "0", "non_2xx": "0", "verify": "PASS",
                "heap_before": "100000000", "heap_after": String(heapAfter),
                "rss_before": "200000000", "rss_after": "210000000",
            ])
            row["tool"] = ""
            return BenchCSV.line(header) + "\n" + BenchCSV.line(header.map { row[$0] }) + "\n"
        }
        let entry = [
            "kind": "loadgen", "scenario": "soak", "tool": "loadgen", "target": "counter-service", "exit_code": "0",
            "server_alive": "1",
        ]
        #expect(assembler.row(entry: entry, output: output(heapAfter: 110_000_000)).passed)
        let grown = assembler.row(entry: entry, output: output(heapAfter: 150_000_000))
        #expect(grown.status.hasPrefix("FAILED: heap grew 50000000 B"))
    }

    @Test("verify values are read as passed, failed or not verified")
    func verification() {
        #expect(BenchRow.verification("PASS") == .passed)
        #expect(BenchRow.verification("pass: 100000") == .passed)
        #expect(BenchRow.verification("") == .notVerified)
        #expect(BenchRow.verification("-") == .notVerified)
        #expect(BenchRow.verification("FAIL expected 10 got 9") == .failed)
    }

    @Test("the summary folds repeats into medians and marks failures")
    func summary() throws {
        let results = try BenchHistory(contentsOf: Fixture.path("bench-head-failed.csv"))
        let summary = BenchSummary(rows: results.rows(of: "ccccccc3333"))
        let line = try #require(summary.lines.first)
        #expect(summary.lines.count == 1)
        #expect(line.runs == 3 && line.failed == 1)
        #expect(line.rps == 20_000)
        #expect(line.status == "FAILED 1/3")
        #expect(line.verify == "FAIL 2/3")
        #expect(!summary.allPassed)
        #expect(summary.table.contains("FAILED hot-key: verify FAIL expected 100000 got 99998"))

        let base = BenchSummary(rows: results.rows(of: "aaaaaaa1111"))
        #expect(base.allPassed)
        // The header, the rule, a line per series, then the verdicts against nginx under their heading.
        #expect(base.table.split(separator: "\n").count == 2 + base.lines.count + 1 + base.verdicts.count)
    }

    @Test("compare: verdicts per scenario on fixed files, regression exits non-zero")
    func compareVerdicts() throws {
        let results = try BenchHistory(contentsOf: Fixture.path("bench-two-commits.csv"))
        let comparison = try BenchComparison(history: results)
        #expect(comparison.base == "aaaaaaa1111" && comparison.head == "bbbbbbb2222")
        func verdict(
            _ scenario: String, _ tool: String = "loadgen", _ target: String = "counter-service"
        )
            -> BenchComparison.Verdict?
        {
            comparison.lines.first { $0.key == .init(scenario: scenario, tool: tool, target: target) }?.verdict
        }
        #expect(verdict("hot-key") == .regressed)
        #expect(verdict("spread") == .unchanged)
        #expect(verdict("read") == .improved)
        #expect(verdict("rate") == .regressed)
        #expect(verdict("hot-key", "wrk", "nginx") == .unchanged)
        #expect(comparison.hasRegression)

        let hot = try #require(
            comparison.lines.first {
                $0.key.scenario == "hot-key" && $0.key.tool == "loadgen" && $0.key.target == "counter-service"
            })
        #expect(hot.throughput?.metric == "ratio_vs_nginx")
        #expect(abs((hot.throughput?.change ?? 0) + 0.30) < 0.01)
        let rate = try #require(comparison.lines.first { $0.key.scenario == "rate" })
        #expect(rate.latency?.metric == "cp99_ms")
        #expect(rate.throughput?.verdict == .unchanged)
        #expect(comparison.table.contains("regressed"))
        #expect(!comparison.anchorsMoved)
        #expect(!comparison.table.contains("note: an nginx anchor"))

        // Head against itself: nothing moves.
        let same = try BenchComparison(history: results, base: "bbbbbbb", head: "bbbbbbb2222")
        #expect(!same.hasRegression)
        #expect(same.lines.allSatisfy { $0.verdict == .unchanged })

        // Reversed: what regressed now improved.
        let reversed = try BenchComparison(history: results, base: "bbbbbbb2222", head: "aaaaaaa1111")
        #expect(
            reversed.lines.first {
                $0.key.scenario == "hot-key" && $0.key.tool == "loadgen" && $0.key.target == "counter-service"
            }?.verdict == .improved)
    }

    @Test("compare: a head with a failed run fails; unknown commits throw")
    func compareFailures() throws {
        let results = try BenchHistory(contentsOf: Fixture.path("bench-head-failed.csv"))
        let comparison = try BenchComparison(history: results)
        #expect(comparison.head == "ccccccc3333")
        let line = try #require(
            comparison.lines.first { $0.key.tool == "loadgen" && $0.key.target == "counter-service" })
        #expect(line.verdict == .failed)
        #expect(comparison.hasRegression)
        #expect(throws: BenchResultsError.self) { try BenchComparison(history: results, base: "0000000") }
        let single = BenchHistory(rows: results.rows(of: "ccccccc3333"))
        #expect(throws: BenchResultsError.self) { try BenchComparison(history: single) }
    }

    @Test("median, percentile and spread")
    func statistics() {
        #expect(BenchStatistics.median([3, 1, 2]) == 2)
        #expect(BenchStatistics.median([4, 1, 2, 3]) == 2.5)
        #expect(BenchStatistics.median([]) == nil)
        #expect(BenchStatistics.percentile(sorted: [1, 2, 3, 4], 50) == 2)
        #expect(BenchStatistics.percentile(sorted: [1, 2, 3, 4], 100) == 4)
        #expect(BenchStatistics.percentile(sorted: [1, 2, 3, 4], 0) == 1)
        #expect(BenchStatistics.relativeSpread([90, 100, 110]) == 0.2)
        #expect(BenchStatistics.relativeSpread([5]) == 0)
    }
}

extension BenchCSVTests {
    @Test("compare: runs of different sizes (QUICK against full) are not compared")
    func compareSizes() throws {
        func row(_ commit: String, n: String, rps: Double, rate: String = "") -> BenchRow {
            BenchRow([
                "commit": commit, "scenario": rate.isEmpty ? "hot-key" : "rate", "tool": "loadgen",
                "target": "counter-service", "n": n, "c": "200", "rate": rate, "rps": String(rps), "p99_ms": "5",
                "status": "PASS",
            ])
        }
        let results = BenchHistory(rows: [
            row("base0000", n: "100000", rps: 20_000), row("base0000", n: "10000", rps: 20_000),
            row("base0000", n: "80000", rps: 10_000, rate: "10000"),
            row("head0000", n: "10000", rps: 10_000),
            row("head0000", n: "30000", rps: 15_000, rate: "15000"),
        ])
        let comparison = try BenchComparison(history: results)
        let hot = try #require(comparison.lines.first { $0.key.scenario == "hot-key" })
        // only the n=10000 base row is compared: -50 %
        #expect(hot.verdict == .regressed)
        #expect(hot.throughput?.base == 20_000)
        let rate = try #require(comparison.lines.first { $0.key.scenario == "rate" })
        #expect(rate.verdict == .incomparable)  // 8 s at 10k/s against 2 s at 15k/s
        #expect(BenchComparison.size(of: row("x", n: "80000", rps: 1, rate: "10000")) == "c200 rate-for-8s")
        #expect(BenchComparison.size(of: row("x", n: "10000", rps: 1)) == "c200 n10000")
    }
}

extension BenchCSVTests {
    @Test("compare: the default base is the latest earlier commit with runs of the same size")
    func compareDefaultBase() throws {
        func row(_ commit: String, n: String) -> BenchRow {
            BenchRow([
                "commit": commit, "scenario": "hot-key", "tool": "loadgen", "target": "counter-service", "n": n,
                "c": "200", "rps": "1000", "p99_ms": "5", "status": "PASS",
            ])
        }
        let results = BenchHistory(rows: [
            row("quick001", n: "10000"), row("full0001", n: "100000"), row("quick002", n: "10000"),
            row("full0002", n: "100000"),
        ])
        #expect(try BenchComparison(history: results).base == "full0001")
        let quick = BenchHistory(rows: Array(results.rows.prefix(3)))
        #expect(try BenchComparison(history: quick).base == "quick001")
        #expect(try BenchComparison(history: quick, base: "full0001").lines.first?.verdict == .incomparable)
    }
}

extension BenchCSVTests {
    @Test("compare: a moved nginx anchor is called out (the machine or the load tool changed)")
    func compareAnchorMoved() throws {
        func row(_ commit: String, rps: Double) -> BenchRow {
            BenchRow([
                "commit": commit, "scenario": "hot-key", "tool": "loadgen", "target": "nginx", "n": "1000",
                "c": "200", "rps": String(rps), "p99_ms": "5", "status": "PASS",
            ])
        }
        let comparison = try BenchComparison(
            history: BenchHistory(rows: [row("base0000", rps: 40_000), row("head0000", rps: 20_000)]))
        #expect(comparison.anchorsMoved)
        #expect(comparison.table.hasSuffix("read the verdicts with care\n"))
    }
}
