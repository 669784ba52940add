import Foundation

/// One row of the results history (`--results FILE.csv --scenario NAME`), one per run.
///
/// The column set and order are stable (``header``); new columns would only ever be appended. Durations are
/// milliseconds, memory is bytes; a field is empty when it does not apply (`cp*` without `--rate`, heap/RSS
/// without `--metrics-url`, `verify` without `--verify-counter`).
public struct ResultsRow: Sendable, Equatable {
    /// The exact header line (without the newline).
    public static let header =
        "time_utc,commit,host_cores,cpu_model,scenario,n,c,rate,method,url_path,body_bytes,duration_s,requests,errors,non_2xx,rps,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,cp50_ms,cp90_ms,cp99_ms,cp999_ms,cmax_ms,behind_schedule,heap_before,heap_after,rss_before,rss_after,verify,loadgen_version"

    /// The column names in order.
    public static let columns: [String] = header.split(separator: ",").map(String.init)

    /// Field values by column name (all text, as written in the file).
    public var fields: [String: String]

    /// A row from explicit fields (missing columns are empty).
    /// - Parameter fields: column → value.
    public init(fields: [String: String]) {
        self.fields = fields
    }

    /// The row for a finished run.
    /// - Parameters:
    ///   - report: the run's report.
    ///   - scenario: the scenario name.
    ///   - host: commit, cores and CPU model of this machine.
    ///   - date: the time stamp (UTC).
    public init(report: LoadReport, scenario: String, host: HostInfo, date: Date = Date()) {
        let o = report.options
        let stats = report.statistics
        let u = report.uncorrected
        func ms(_ seconds: Double) -> String { String(format: "%.3f", seconds * 1000) }
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
        f["duration_s"] = String(format: "%.3f", report.totalSeconds)
        f["requests"] = String(stats.requests)
        f["errors"] = String(stats.errors)
        f["non_2xx"] = String(stats.non2xx)
        f["rps"] = String(format: "%.1f", report.requestsPerSecond)
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
        fields = f
    }

    /// The value of `column` ("" when empty or absent).
    /// - Parameter column: a column name.
    public subscript(_ column: String) -> String {
        fields[column] ?? ""
    }

    /// The numeric value of `column`, or nil when empty / not a number.
    /// - Parameter column: a column name.
    /// - Returns: the number.
    public func number(_ column: String) -> Double? {
        Double(self[column])
    }

    /// The row as one CSV line (without the newline), fields quoted where needed.
    public var csvLine: String {
        ResultsRow.columns.map { BenchCSV.quote(self[$0]) }.joined(separator: ",")
    }

    /// Appends `row` to the file at `path`, writing the header first when the file is new or empty.
    /// - Parameters:
    ///   - row: the row.
    ///   - path: the CSV file.
    /// - Throws: when the file cannot be written.
    public static func append(_ row: ResultsRow, to path: String) throws {
        let manager = FileManager.default
        var text = ""
        let existing = manager.fileExists(atPath: path) ? (try? Data(contentsOf: URL(fileURLWithPath: path))) : nil
        if existing == nil || existing!.isEmpty {
            text += header + "\n"
        } else if existing!.last != UInt8(ascii: "\n") {
            text += "\n"
        }
        text += row.csvLine + "\n"
        if existing == nil {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try manager.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } else {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
        }
    }

    /// Reads every row of a results file (columns matched by the file's own header).
    /// - Parameter path: the CSV file.
    /// - Returns: the rows in file order.
    /// - Throws: when the file cannot be read or has no header.
    public static func read(from path: String) throws -> [ResultsRow] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try parse(text, source: path)
    }

    /// Parses results CSV text.
    /// - Parameters:
    ///   - text: the file contents.
    ///   - source: name used in error messages.
    /// - Returns: the rows.
    /// - Throws: ``CSV/FormatError`` when there is no header.
    public static func parse(_ text: String, source: String = "input") throws -> [ResultsRow] {
        let records = BenchCSV.parse(text)
        guard let head = records.first, head.contains("scenario") else {
            throw CSV.FormatError(description: "\(source): not a loadgen results file (no header with 'scenario')")
        }
        return records.dropFirst().filter { !($0.count == 1 && $0[0].isEmpty) }.map { record in
            var fields: [String: String] = [:]
            for (i, name) in head.enumerated() where i < record.count { fields[name] = record[i] }
            return ResultsRow(fields: fields)
        }
    }
}
