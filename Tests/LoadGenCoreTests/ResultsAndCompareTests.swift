import Foundation
import Testing

@testable import LoadGenCore

@Suite struct ResultsAndCompareTests {
    static let header =
        "time_utc,commit,host_cores,cpu_model,scenario,n,c,rate,method,url_path,body_bytes,duration_s,requests,errors,non_2xx,rps,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,cp50_ms,cp90_ms,cp99_ms,cp999_ms,cmax_ms,behind_schedule,heap_before,heap_after,rss_before,rss_after,verify,loadgen_version"

    @Test func headerIsExactlyTheDocumentedOne() {
        #expect(ResultsRow.header == Self.header)
        #expect(ResultsRow.columns.count == 33)
    }

    @Test func rowFromReportAndAppend() throws {
        var stats = RunStatistics(corrected: true)
        for ms in 1...100 {
            stats.recordResponse(status: 200, bodyBytes: 2, totalNs: UInt64(ms) * 1_000_000, dialNs: 0, waitNs: 0, readNs: 0)
            stats.corrected!.recordNanoseconds(UInt64(ms) * 2_000_000)
        }
        stats.recordError("boom")
        var options = LoadOptions(url: try TargetURL("http://127.0.0.1:8181/counter/a,b/increment?x=1"))
        options.method = "POST"
        options.requests = 101
        options.concurrency = 5
        options.rate = 1000
        options.body = Array("{\"amount\": 1}".utf8)
        var report = LoadReport(options: options, statistics: stats, totalSeconds: 2)
        report.memory = MemoryComparison(
            url: "m", before: .init(heapAllocated: 100, heapResident: 1, rss: 1000),
            after: .init(heapAllocated: 150, heapResident: 2, rss: 2000))
        report.verification = CounterVerification(url: "v", before: 0, after: 100, successes: 100, amount: 1)
        let host = HostInfo(commit: "abc1234+dirty", cores: 2, cpuModel: "Test CPU, 2 GHz")
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        let row = ResultsRow(report: report, scenario: "counter", host: host, date: date)
        #expect(
            row.csvLine
                == "2027-01-15T08:00:00Z,abc1234+dirty,2,\"Test CPU, 2 GHz\",counter,101,5,1000,POST,\"/counter/a,b/increment?x=1\",13,2.000,101,1,0,50.5,50.015,90.047,99.007,100.000,100.000,100.031,180.095,198.015,200.000,200.000,0,100,150,1000,2000,PASS,\(LoadGenVersion.string)"
        )
        let path = NSTemporaryDirectory() + "loadgen-results-\(getpid())/runs.csv"
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try ResultsRow.append(row, to: path)
        try ResultsRow.append(row, to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3 && lines[0] == Substring(Self.header))
        let read = try ResultsRow.read(from: path)
        #expect(read.count == 2 && read[0] == row)
    }

    @Test func rowWithoutRateOrChecksLeavesColumnsEmpty() throws {
        var stats = RunStatistics(corrected: false)
        stats.recordResponse(status: 200, bodyBytes: 0, totalNs: 1_000_000, dialNs: 0, waitNs: 0, readNs: 0)
        let report = LoadReport(options: LoadOptions(url: try TargetURL("http://h/")), statistics: stats, totalSeconds: 1)
        let row = ResultsRow(report: report, scenario: "s", host: HostInfo(commit: "", cores: 1, cpuModel: ""))
        for column in ["cp50_ms", "cp99_ms", "cmax_ms", "behind_schedule", "heap_before", "rss_after", "verify", "commit", "rate"] {
            #expect(row[column] == "", "\(column)")
        }
    }

    static func csv(_ rows: [String]) -> String {
        ([header] + rows).joined(separator: "\n") + "\n"
    }

    static func line(commit: String, scenario: String, c: Int = 200, rps: Double, p50: Double, p99: Double, heap: String = "", verify: String = "") -> String {
        "2026-11-29T08:00:00Z,\(commit),2,cpu,\(scenario),100000,\(c),,POST,/counter/bench/increment,0,2.0,100000,0,0,\(rps),\(p50),1,\(p99),1,1,,,,,,,,\(heap),,,\(verify),0.1.0"
    }

    @Test func verdictsOnFixedFiles() throws {
        let old = try ResultsRow.parse(
            Self.csv([
                Self.line(commit: "aaa", scenario: "single", rps: 40000, p50: 4.0, p99: 10.0, heap: "1000000"),
                Self.line(commit: "aaa", scenario: "spread", rps: 30000, p50: 5.0, p99: 12.0),
                Self.line(commit: "aaa", scenario: "flat", rps: 50000, p50: 3.0, p99: 8.0),
                Self.line(commit: "aaa", scenario: "conc", c: 100, rps: 50000, p50: 3.0, p99: 8.0),
            ]))
        let new = try ResultsRow.parse(
            Self.csv([
                Self.line(commit: "bbb", scenario: "single", rps: 48000, p50: 3.5, p99: 9.5, heap: "1010000"),
                Self.line(commit: "bbb", scenario: "spread", rps: 25000, p50: 5.0, p99: 15.0),
                Self.line(commit: "bbb", scenario: "flat", rps: 51000, p50: 3.1, p99: 8.2),
                Self.line(commit: "bbb", scenario: "conc", c: 200, rps: 50000, p50: 3.0, p99: 8.0),
            ]))
        let results = Comparison().compare(old: old, new: new)
        let verdicts = Dictionary(uniqueKeysWithValues: results.map { ($0.scenario, $0.verdict) })
        #expect(verdicts["single"] == .improved)
        #expect(verdicts["spread"] == .regressed)
        #expect(verdicts["flat"] == .unchanged)
        #expect(verdicts["conc"] == .some(nil))
        #expect(results.first { $0.scenario == "conc" }?.refusal == "not compared: c differs (100 vs 200)")
        let single = try #require(results.first { $0.scenario == "single" })
        #expect(single.metrics.map(\.metric) == ["req/s", "p50_ms", "p99_ms", "heap_after"])
        #expect(single.metrics[0].verdict == .improved && abs(single.metrics[0].change - 0.2) < 1e-9)
        #expect(single.metrics[3].verdict == .unchanged)
        #expect(Comparison.exitCode(results) == 1)
        let text = Comparison.render(results)
        #expect(text.contains("  verdict: regressed\n"))
        #expect(text.contains("  not compared: c differs (100 vs 200)\n"))
    }

    @Test func repeatsWidenTheThreshold() throws {
        // Old repeats spread ±10 % → threshold 2 × 20 % = 40 %: a 25 % drop is noise.
        let rows = try ResultsRow.parse(
            Self.csv([
                Self.line(commit: "aaa", scenario: "s", rps: 36000, p50: 4, p99: 10),
                Self.line(commit: "aaa", scenario: "s", rps: 40000, p50: 4, p99: 10),
                Self.line(commit: "aaa", scenario: "s", rps: 44000, p50: 4, p99: 10),
                Self.line(commit: "bbb+dirty", scenario: "s", rps: 30000, p50: 4, p99: 10),
                Self.line(commit: "bbb+dirty", scenario: "s", rps: 30000, p50: 4, p99: 10),
            ]))
        let old = Comparison.rows(rows, commit: "aaa")
        let new = Comparison.rows(rows, commit: "bbb")
        #expect(old.count == 3 && new.count == 2)
        let result = try #require(Comparison().compare(old: old, new: new).first)
        let rps = try #require(result.metrics.first)
        #expect(abs(rps.threshold - 0.4) < 1e-9)
        #expect(rps.verdict == .unchanged && result.verdict == .unchanged)
        #expect(Comparison.exitCode([result]) == 0)
    }

    @Test func failedVerificationIsARegression() throws {
        let old = try ResultsRow.parse(Self.csv([Self.line(commit: "a", scenario: "s", rps: 1, p50: 1, p99: 1, verify: "PASS")]))
        let new = try ResultsRow.parse(Self.csv([Self.line(commit: "b", scenario: "s", rps: 1, p50: 1, p99: 1, verify: "FAIL")]))
        let result = try #require(Comparison().compare(old: old, new: new).first)
        #expect(result.verdict == .regressed)
        #expect(result.notes == ["counter check FAIL in 1 of 1 new rows"])
    }

    @Test func compareCommandSelectsByCommit() throws {
        let path = NSTemporaryDirectory() + "loadgen-compare-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.csv([
            Self.line(commit: "aaa1111", scenario: "s", rps: 100, p50: 1, p99: 1),
            Self.line(commit: "bbb2222", scenario: "s", rps: 100, p50: 1, p99: 1),
        ]).write(toFile: path, atomically: true, encoding: .utf8)
        let command = try #require(
            try LoadGenCommand.parseCommandLine(["compare", path, "--base", "aaa", "--head", "bbb2222"]) as? CompareCommand)
        let (old, new) = try command.selectRows()
        #expect(old.map { $0["commit"] } == ["aaa1111"] && new.map { $0["commit"] } == ["bbb2222"])
    }
}
