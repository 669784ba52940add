/// Renders a ``LoadReport`` in hey's summary layout, line for line, followed by loadgen's extra blocks.
///
/// hey's part (Summary, Response time histogram, Latency distribution, Details, Status code distribution,
/// Error distribution) keeps hey's labels, tabs, `%4.4f` numbers, `■` bars and blank lines, so scripts that read
/// hey's output read this. Then come the extra percentiles (p50 … max), under `--rate` corrected and uncorrected
/// with the behind-schedule count, and the memory and counter checks when requested.
public enum SummaryPrinter {
    /// The percentiles of hey's "Latency distribution" block.
    public static let heyPercentiles: [Int] = [10, 25, 50, 75, 90, 95, 99]

    /// The full summary text.
    /// - Parameter report: the run's report.
    /// - Returns: the text to print (ends with a newline).
    public static func render(_ report: LoadReport) -> String {
        heyBlock(report) + extraBlock(report)
    }

    /// hey's part of the summary.
    /// - Parameter report: the run's report.
    /// - Returns: the text, byte for byte in hey's layout.
    public static func heyBlock(_ report: LoadReport) -> String {
        let stats = report.statistics
        let n = stats.responses
        let fastest = n > 0 ? Double(stats.total.min) / 1e9 : 0
        let slowest = n > 0 ? Double(stats.total.max) / 1e9 : 0
        func average(_ t: TimingStat) -> Double { n > 0 ? Double(t.sum) / 1e9 / Double(n) : .nan }
        func minimum(_ t: TimingStat) -> Double { n > 0 ? Double(t.min) / 1e9 : 0 }
        func maximum(_ t: TimingStat) -> Double { n > 0 ? Double(t.max) / 1e9 : 0 }
        let s = Formatting.seconds

        var out = "\nSummary:\n"
        out += "  Total:\t\(s(report.totalSeconds)) secs\n"
        out += "  Slowest:\t\(s(slowest)) secs\n"
        out += "  Fastest:\t\(s(fastest)) secs\n"
        out += "  Average:\t\(s(average(stats.total))) secs\n"
        out += "  Requests/sec:\t\(s(report.requestsPerSecond))\n"
        out += "  "
        if stats.bodyBytes > 0 {
            out += "\n  Total data:\t\(stats.bodyBytes) bytes"
            out += "\n  Size/request:\t\(n > 0 ? stats.bodyBytes / n : 0) bytes"
        }
        out += "\n\nResponse time histogram:\n"
        if n > 0 {
            out += histogram(stats.latency, fastest: fastest, slowest: slowest)
        }
        out += "\n\nLatency distribution:"
        if n > 0 {
            for p in heyPercentiles {
                let value = Double(stats.latency.valueAtPercentile(Double(p))) / 1e6
                out += "\n  \(p)% in \(s(min(max(value, fastest), slowest))) secs"
            }
        }
        out += "\n\nDetails (average, fastest, slowest):\n"
        // hey's DNS-lookup and req-write rows are always 0 here: the name is resolved once before the run, and a
        // write is handed to the kernel without waiting. Printed as zeros, not measured per request.
        var zero = TimingStat()
        zero.add(0)
        let details: [(String, TimingStat)] = [
            ("DNS+dialup", stats.dial), ("DNS-lookup", zero), ("req write", zero),
            ("resp wait", stats.wait), ("resp read", stats.read),
        ]
        for (label, t) in details {
            out += "  \(label):\t\(s(average(t))) secs, \(s(minimum(t))) secs, \(s(maximum(t))) secs\n"
        }
        out += "\nStatus code distribution:"
        for (status, count) in stats.statusDistribution {
            out += "\n  [\(status)]\t\(count) responses"
        }
        out += "\n\n"
        if !stats.errorCounts.isEmpty {
            out += "Error distribution:"
            for (message, count) in stats.errorCounts.sorted(by: { $0.key < $1.key }) {
                out += "\n  [\(count)]\t\(message)"
            }
        }
        out += "\n\n"
        return out
    }

    /// hey's 11-line response time histogram (bucket marks from fastest to slowest, bars of up to 40 `■`).
    /// - Parameters:
    ///   - histogram: the latencies (µs).
    ///   - fastest: the exact fastest response, seconds.
    ///   - slowest: the exact slowest response, seconds.
    /// - Returns: 11 lines, each ending with a newline.
    static func histogram(_ histogram: LatencyHistogram, fastest: Double, slowest: Double) -> String {
        let bucketCount = 10
        var marks = [Double](repeating: 0, count: bucketCount + 1)
        let step = (slowest - fastest) / Double(bucketCount)
        for i in 0..<bucketCount { marks[i] = fastest + step * Double(i) }
        marks[bucketCount] = slowest
        var counts = [Int](repeating: 0, count: bucketCount + 1)
        var bucket = 0
        for item in histogram.recordedValues() {
            let value = min(max(Double(histogram.lowestEquivalentForValue(item.value)) / 1e6, fastest), slowest)
            while bucket < bucketCount && value > marks[bucket] { bucket += 1 }
            counts[bucket] += Int(item.count)
        }
        let largest = counts.max() ?? 0
        var out = ""
        for i in 0...bucketCount {
            let bar = largest > 0 ? (counts[i] * 40 + largest / 2) / largest : 0
            out += "  \(Formatting.fixed(marks[i], 3)) [\(counts[i])]\t|\(String(repeating: "■", count: bar))\n"
        }
        return out
    }

    /// loadgen's blocks after hey's: extra percentiles, schedule, memory, counter check.
    /// - Parameter report: the run's report.
    /// - Returns: the text (empty lines between blocks, ends with a newline).
    public static func extraBlock(_ report: LoadReport) -> String {
        var out = ""
        if let corrected = report.corrected, let rate = report.options.rate {
            out += percentileBlock(
                title:
                    "Latency percentiles, corrected (from the planned send time at \(Formatting.fixed(rate, 0, width: 1)) req/s):",
                corrected)
            out += "\n"
            out += percentileBlock(
                title: "Latency percentiles, uncorrected (from the actual send time):", report.uncorrected)
            out +=
                "  Behind schedule:\t\(report.statistics.behindSchedule) sends (overdue by more than 1 ms when a connection was free)\n"
        } else {
            out += percentileBlock(title: "Latency percentiles:", report.uncorrected)
        }
        if report.interrupted {
            out += "\nInterrupted: the run was stopped early (Ctrl-C).\n"
        }
        if let memory = report.memory {
            out += "\n" + memory.summary
        }
        if let verification = report.verification {
            out += "\n" + verification.summary
        }
        return out
    }

    private static func percentileBlock(title: String, _ p: LoadReport.Percentiles) -> String {
        let s = Formatting.seconds
        return "\(title)\n  p50:\t\(s(p.p50)) secs\n  p90:\t\(s(p.p90)) secs\n  p99:\t\(s(p.p99)) secs\n"
            + "  p99.9:\t\(s(p.p999)) secs\n  p99.99:\t\(s(p.p9999)) secs\n  max:\t\(s(p.max)) secs\n"
    }
}
