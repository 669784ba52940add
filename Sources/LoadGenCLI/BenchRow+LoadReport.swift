import BenchResults
import Foundation
import LoadGenCore

extension BenchRow {
    /// The row of a finished run, as `loadgen --results FILE.csv --scenario NAME` appends it: loadgen's columns
    /// (durations in milliseconds with 3 decimals, memory in bytes; empty where they do not apply: `cp*` and
    /// `behind_schedule` without `--rate`, heap/RSS without `--metrics-url`, `verify` without `--verify-counter`, `n`
    /// with `-z`), `tool` = `loadgen`, and the run's `status` judged by ``BenchRow/failureReasons`` (errors, non-2xx,
    /// a failed verification). `target` and the anchor ratios are the bench's to fill.
    ///
    /// - Parameters:
    ///   - report: the run's report.
    ///   - scenario: the scenario name.
    ///   - host: commit, cores and CPU model of this machine.
    ///   - date: the time stamp (UTC).
    public init(report: LoadReport, scenario: String, host: HostInfo, date: Date = Date()) {
        let o = report.options
        let stats = report.statistics
        let u = report.uncorrected
        func ms(_ seconds: Double) -> String { ToolOutput.format(seconds * 1000, digits: 3) }
        func bytes(_ value: Double?) -> String { value.map { String(Int64($0)) } ?? "" }
        var f: [String: String] = [:]
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        f["time_utc"] = formatter.string(from: date)
        f["commit"] = host.commit
        f["host_cores"] = String(host.cores)
        f["cpu_model"] = host.cpuModel
        f["scenario"] = scenario
        f["n"] = o.duration == nil ? String(o.requests) : ""
        f["c"] = String(o.concurrency)
        f["rate"] = o.rate.map { Formatting.fixed($0, 0, width: 1) } ?? ""
        f["method"] = o.method
        f["url_path"] = o.url.pathAndQuery
        f["body_bytes"] = String(o.body.count)
        f["duration_s"] = ToolOutput.format(report.totalSeconds, digits: 3)
        f["requests"] = String(stats.requests)
        f["errors"] = String(stats.errors)
        f["non_2xx"] = String(stats.non2xx)
        f["rps"] = ToolOutput.format(report.requestsPerSecond, digits: 1)
        f["p50_ms"] = ms(u.p50)
        f["p90_ms"] = ms(u.p90)
        f["p99_ms"] = ms(u.p99)
        f["p999_ms"] = ms(u.p999)
        f["max_ms"] = ms(u.max)
        if let c = report.corrected {
            f["cp50_ms"] = ms(c.p50)
            f["cp90_ms"] = ms(c.p90)
            f["cp99_ms"] = ms(c.p99)
            f["cp999_ms"] = ms(c.p999)
            f["cmax_ms"] = ms(c.max)
            f["behind_schedule"] = String(stats.behindSchedule)
        }
        if let memory = report.memory {
            f["heap_before"] = bytes(memory.before.heapAllocated)
            f["heap_after"] = bytes(memory.after.heapAllocated)
            f["rss_before"] = bytes(memory.before.rss)
            f["rss_after"] = bytes(memory.after.rss)
        }
        if let verification = report.verification {
            f["verify"] = verification.passed ? "PASS" : "FAIL"
        }
        f["loadgen_version"] = LoadGenVersion.string
        f["tool"] = "loadgen"
        self.init(f)
        self["status"] = BenchRow.status(reasons: failureReasons)
    }
}
