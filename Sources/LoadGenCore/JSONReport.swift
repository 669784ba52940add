import JSONText
import Foundation

/// The `--json` output: one stable, documented object per run (latencies in seconds).
///
/// ```
/// {
///   "loadgen_version": "0.1.0",
///   "url": "http://…", "method": "GET", "n": 200 | null, "c": 50, "rate": 1000 | null, "duration_limit_s": null,
///   "total_s": 1.2, "requests": 200, "responses": 200, "errors": 0, "non_2xx": 0, "rps": 166.6,
///   "body_bytes": 2400, "interrupted": false,
///   "latency": {"p50":…, "p90":…, "p99":…, "p999":…, "p9999":…, "max":…, "min":…, "mean":…,
///               "corrected": {p50 … max} (only with --rate), "uncorrected": {p50 … max} (only with --rate)},
///   "behind_schedule": 0 | null,
///   "status_codes": {"200": 200},
///   "error_distribution": {"<message>": count},
///   "memory": {"url":…, "heap_allocated_before":…, "heap_allocated_after":…, "heap_resident_before":…,
///              "heap_resident_after":…, "rss_before":…, "rss_after":…} | null,
///   "verify": {"url":…, "result": "PASS"|"FAIL", "before":…, "after":…, "increase":…, "expected":…,
///              "successes_2xx":…, "amount":…} | null
/// }
/// ```
/// The top-level `latency` percentiles are always measured from the actual send (uncorrected).
public enum JSONReport {
    /// Renders the report as one JSON object (keys in a fixed order, ends with a newline).
    /// - Parameter report: the run's report.
    /// - Returns: the JSON text.
    public static func render(_ report: LoadReport) -> String {
        let o = report.options
        let s = report.statistics
        var fields: [(String, String)] = []
        fields.append(("loadgen_version", string(LoadGenVersion.string)))
        fields.append(("url", string(o.url.description)))
        fields.append(("method", string(o.method)))
        fields.append(("n", o.duration == nil ? String(o.requests) : "null"))
        fields.append(("c", String(o.concurrency)))
        fields.append(("rate", o.rate.map(number) ?? "null"))
        fields.append(("duration_limit_s", o.duration.map(number) ?? "null"))
        fields.append(("total_s", number(report.totalSeconds)))
        fields.append(("requests", String(s.requests)))
        fields.append(("responses", String(s.responses)))
        fields.append(("errors", String(s.errors)))
        fields.append(("non_2xx", String(s.non2xx)))
        fields.append(("rps", number(report.requestsPerSecond)))
        fields.append(("body_bytes", String(s.bodyBytes)))
        fields.append(("interrupted", report.interrupted ? "true" : "false"))
        var latency = percentileFields(report.uncorrected)
        latency.append(("min", number(s.responses > 0 ? Double(s.total.min) / 1e9 : 0)))
        latency.append(("mean", number(s.responses > 0 ? Double(s.total.sum) / 1e9 / Double(s.responses) : 0)))
        if let corrected = report.corrected {
            latency.append(("corrected", object(percentileFields(corrected))))
            latency.append(("uncorrected", object(percentileFields(report.uncorrected))))
        }
        fields.append(("latency", object(latency)))
        fields.append(("behind_schedule", o.rate != nil ? String(s.behindSchedule) : "null"))
        fields.append(("status_codes", object(s.statusDistribution.map { (String($0.status), String($0.count)) })))
        fields.append(
            ("error_distribution", object(s.errorCounts.sorted { $0.key < $1.key }.map { ($0.key, String($0.value)) })))
        if let m = report.memory {
            func opt(_ v: Double?) -> String { v.map { String(Int64($0)) } ?? "null" }
            fields.append(
                (
                    "memory",
                    object([
                        ("url", string(m.url)),
                        ("heap_allocated_before", opt(m.before.heapAllocated)),
                        ("heap_allocated_after", opt(m.after.heapAllocated)),
                        ("heap_resident_before", opt(m.before.heapResident)),
                        ("heap_resident_after", opt(m.after.heapResident)),
                        ("rss_before", opt(m.before.rss)),
                        ("rss_after", opt(m.after.rss)),
                    ])
                ))
        } else {
            fields.append(("memory", "null"))
        }
        if let v = report.verification {
            fields.append(
                (
                    "verify",
                    object([
                        ("url", string(v.url)), ("result", string(v.passed ? "PASS" : "FAIL")),
                        ("before", String(v.before)), ("after", String(v.after)), ("increase", String(v.increase)),
                        ("expected", String(v.expected)), ("successes_2xx", String(v.successes)),
                        ("amount", String(v.amount)),
                    ])
                ))
        } else {
            fields.append(("verify", "null"))
        }
        return object(fields) + "\n"
    }

    private static func percentileFields(_ p: LoadReport.Percentiles) -> [(String, String)] {
        [
            ("p50", number(p.p50)), ("p90", number(p.p90)), ("p99", number(p.p99)), ("p999", number(p.p999)),
            ("p9999", number(p.p9999)), ("max", number(p.max)),
        ]
    }

    private static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(string($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    private static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.9g", value)
    }

    /// A JSON string literal (the project's one escaper, `JSONText`).
    static func string(_ text: String) -> String {
        var writer = JSONWriter()
        writer.writeString(text)
        return writer.string
    }
}
