import BenchResults
import Foundation
import Testing

@testable import LoadGenCLI
@testable import LoadGenCore

/// The row `loadgen --results` appends for a finished run.
@Suite struct BenchRowFromReportTests {
    @Test func rowFromReportAndAppend() throws {
        var stats = RunStatistics(corrected: true)
        for ms in 1...100 {
            stats.recordResponse(
                status: 200, bodyBytes: 2, totalNs: UInt64(ms) * 1_000_000, dialNs: 0, waitNs: 0, readNs: 0)
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
        let host = HostInfo(commit: "abc1234-dirty", cores: 2, cpuModel: "Test CPU, 2 GHz")
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        let row = BenchRow(report: report, scenario: "counter", host: host, date: date)
        #expect(
            row.csvLine()
                == "2027-01-15T08:00:00Z,abc1234-dirty,2,\"Test CPU, 2 GHz\",counter,101,5,1000,POST,\"/counter/a,b/increment?x=1\",13,2.000,101,1,0,50.5,50.015,90.047,99.007,100.000,100.000,100.031,180.095,198.015,200.000,200.000,0,100,150,1000,2000,PASS,\(LoadGenVersion.string),loadgen,,,,FAILED: errors 1,,,,,"
        )
        let folder = NSTemporaryDirectory() + "loadgen-results-\(getpid())-\(UUID().uuidString)"
        let path = folder + "/runs.csv"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try BenchHistory.append([row], to: path)
        try BenchHistory.append([row], to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3 && lines[0] == Substring(BenchRow.header))
        let read = try BenchHistory(contentsOf: path).rows
        #expect(read.count == 2 && read[0] == row)
    }

    @Test func rowWithoutRateOrChecksLeavesColumnsEmpty() throws {
        var stats = RunStatistics(corrected: false)
        stats.recordResponse(status: 200, bodyBytes: 0, totalNs: 1_000_000, dialNs: 0, waitNs: 0, readNs: 0)
        let report = LoadReport(
            options: LoadOptions(url: try TargetURL("http://h/")), statistics: stats, totalSeconds: 1)
        let row = BenchRow(report: report, scenario: "s", host: HostInfo(commit: "", cores: 1, cpuModel: ""))
        for column in [
            "cp50_ms", "cp99_ms", "cmax_ms", "behind_schedule", "heap_before", "rss_after", "verify", "commit", "rate",
            "target", "ratio_vs_nginx",
        ] {
            #expect(row[column] == "", "\(column)")
        }
        #expect(row.status == "PASS" && row.tool == "loadgen")
    }
}
