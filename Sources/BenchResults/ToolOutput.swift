import Foundation

/// Turns the output of the anchor tools (wrk, hey) into bench row values in loadgen's units (milliseconds,
/// requests per second), so that their rows sit beside loadgen's in `results/bench.csv`.
public enum ToolOutput {
    /// Parses the `WRK_RESULT key=value …` line that `scripts/bench-wrk.lua` prints from wrk's `done` hook.
    ///
    /// wrk's own counts: `status` errors are responses with a status above 399, counted here as `non_2xx`;
    /// connect/read/write/timeout errors are `errors`. Latencies arrive in microseconds.
    ///
    /// - Parameter output: wrk's standard output.
    /// - Returns: column → value.
    /// - Throws: ``BenchResultsError`` when the line is missing or incomplete.
    public static func wrk(_ output: String) throws(BenchResultsError) -> [String: String] {
        guard let line = output.split(whereSeparator: \.isNewline).last(where: { $0.hasPrefix("WRK_RESULT ") }) else {
            throw BenchResultsError(.badInput, "no WRK_RESULT line in wrk's output")
        }
        var values: [String: Double] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) {
                values[String(parts[0])] = value
            }
        }
        let needed = [
            "requests", "duration_us", "connect", "read", "write", "status", "timeout", "p50_us", "p90_us",
            "p99_us", "p999_us", "max_us",
        ]
        for key in needed where values[key] == nil {
            throw BenchResultsError(.badInput, "WRK_RESULT line lacks \(key)")
        }
        let requests = values["requests"]!
        let duration = values["duration_us"]! / 1_000_000
        let errors = values["connect"]! + values["read"]! + values["write"]! + values["timeout"]!
        return [
            "requests": format(requests, digits: 0),
            "duration_s": format(duration, digits: 3),
            "errors": format(errors, digits: 0),
            "non_2xx": format(values["status"]!, digits: 0),
            "rps": format(duration > 0 ? requests / duration : 0, digits: 1),
            "p50_ms": format(values["p50_us"]! / 1000, digits: 3),
            "p90_ms": format(values["p90_us"]! / 1000, digits: 3),
            "p99_ms": format(values["p99_us"]! / 1000, digits: 3),
            "p999_ms": format(values["p999_us"]! / 1000, digits: 3),
            "max_ms": format(values["max_us"]! / 1000, digits: 3),
        ]
    }

    /// Parses hey's `-o csv` output (one line per successful request: `response-time,…,status-code,offset`, in
    /// seconds). Failed requests are not listed by hey, so they are counted as `expected − listed`.
    ///
    /// - Parameters:
    ///   - output: hey's standard output with `-o csv`.
    ///   - expected: the number of requests asked for (`-n`).
    /// - Returns: column → value.
    /// - Throws: ``BenchResultsError`` when the header is missing.
    public static func hey(_ output: String, expected: Int) throws(BenchResultsError) -> [String: String] {
        let records = BenchCSV.parse(output)
        guard let header = records.first, let timeColumn = header.firstIndex(of: "response-time"),
            let statusColumn = header.firstIndex(of: "status-code"), let offsetColumn = header.firstIndex(of: "offset")
        else {
            throw BenchResultsError(.badInput, "hey output has no 'response-time,…,status-code,offset' header")
        }
        var latencies: [Double] = []
        latencies.reserveCapacity(records.count)
        var non2xx = 0
        var end = 0.0
        for record in records.dropFirst() where record.count > max(timeColumn, statusColumn, offsetColumn) {
            guard let time = Double(record[timeColumn]), let status = Int(record[statusColumn]),
                let offset = Double(record[offsetColumn])
            else { continue }
            latencies.append(time * 1000)
            if !(200..<300).contains(status) { non2xx += 1 }
            end = max(end, offset + time)
        }
        latencies.sort()
        let listed = latencies.count
        func p(_ value: Double) -> String {
            BenchStatistics.percentile(sorted: latencies, value).map { format($0, digits: 3) } ?? ""
        }
        return [
            "requests": String(listed),
            "duration_s": format(end, digits: 3),
            "errors": String(max(expected - listed, 0)),
            "non_2xx": String(non2xx),
            "rps": format(end > 0 ? Double(listed) / end : 0, digits: 1),
            "p50_ms": p(50),
            "p90_ms": p(90),
            "p99_ms": p(99),
            "p999_ms": p(99.9),
            "max_ms": latencies.last.map { format($0, digits: 3) } ?? "",
        ]
    }

    /// Formats a number with a fixed count of decimals (`.` as separator, whatever the locale).
    ///
    /// - Parameters:
    ///   - value: the number.
    ///   - digits: decimals.
    /// - Returns: the text.
    public static func format(_ value: Double, digits: Int) -> String {
        String(format: "%.\(digits)f", locale: Locale(identifier: "en_US_POSIX"), value)
    }
}
