import Foundation

/// Assembles the rows of one bench run from what the driver (`scripts/bench.sh`) recorded: a manifest with one line
/// per run of a tool, and each run's output file. It judges every run (PASS or FAILED with reasons) and adds the
/// anchor ratios measured in the same run.
///
/// The manifest is tab-separated with a header; its columns are ``manifestColumns``. `kind` says how to read `file`:
/// `loadgen` (loadgen's `--results` CSV; its last row is the run), `wrk` (wrk's output with the `WRK_RESULT` line)
/// or `hey` (hey's `-o csv` output). The other manifest columns fill row columns the output leaves empty.
///
/// `server_cpu_s` is the user + system CPU time, in seconds, that the serving processes spent over the run (the
/// driver samples `/proc/<pid>/stat` of the target's process tree before and after); the assembler turns it into
/// `cpu_us_per_req` and, across the run, `cpu_ratio_vs_nginx`.
public struct BenchRunAssembler: Sendable {
    /// The manifest's columns.
    public static let manifestColumns: [String] = [
        "kind", "scenario", "tool", "target", "exit_code", "server_alive", "file", "n", "c", "rate", "method",
        "url_path", "body_bytes", "verify", "heap_before", "heap_after", "rss_before", "rss_after", "server_cpu_s",
    ]

    /// Where and when the run happened; written into every row.
    public struct Stamp: Sendable {
        /// The commit measured (with `-dirty` when the tree had changes).
        public var commit: String
        /// The start of the bench run, ISO 8601 UTC; used where a tool's row has no time.
        public var timeUTC: String
        /// Cores of the machine.
        public var hostCores: Int
        /// The CPU model name.
        public var cpuModel: String

        /// A stamp.
        ///
        /// - Parameters:
        ///   - commit: the commit measured.
        ///   - timeUTC: the run's start time.
        ///   - hostCores: cores of the machine.
        ///   - cpuModel: the CPU model name.
        public init(commit: String, timeUTC: String, hostCores: Int, cpuModel: String) {
            self.commit = commit
            self.timeUTC = timeUTC
            self.hostCores = hostCores
            self.cpuModel = cpuModel
        }
    }

    /// The limits of the `soak` scenario's flatness check: the heap (and RSS) may grow by at most
    /// `bytes + fraction × before` between the start and the end of the soak.
    public struct FlatLimit: Sendable {
        /// Absolute allowance in bytes.
        public var bytes: Double
        /// Allowance relative to the value before the soak.
        public var fraction: Double

        /// A limit.
        ///
        /// - Parameters:
        ///   - bytes: absolute allowance.
        ///   - fraction: relative allowance.
        public init(bytes: Double, fraction: Double) {
            self.bytes = bytes
            self.fraction = fraction
        }
    }

    /// Stamp written into every row.
    public var stamp: Stamp
    /// Heap growth allowed in a soak (default 16 MiB + 10 %).
    public var heapLimit = FlatLimit(bytes: 16 * 1_048_576, fraction: 0.10)
    /// RSS growth allowed in a soak (default 64 MiB + 25 %: the allocator keeps freed pages for a while).
    public var rssLimit = FlatLimit(bytes: 64 * 1_048_576, fraction: 0.25)

    /// An assembler.
    ///
    /// - Parameter stamp: where and when the run happened.
    public init(stamp: Stamp) {
        self.stamp = stamp
    }

    /// Reads the manifest and the files it names (relative paths are relative to the manifest's folder) and returns
    /// the judged rows with ratios, in manifest order.
    ///
    /// - Parameter manifestPath: the manifest file.
    /// - Returns: the rows.
    /// - Throws: ``BenchResultsError`` when the manifest cannot be read or lacks columns.
    public func assemble(manifestPath: String) throws(BenchResultsError) -> [BenchRow] {
        let text: String
        do {
            text = try String(contentsOfFile: manifestPath, encoding: .utf8)
        } catch {
            throw BenchResultsError(.io, "cannot read \(manifestPath): \(error)")
        }
        let folder = (manifestPath as NSString).deletingLastPathComponent
        let lines = text.split(whereSeparator: \.isNewline).map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        guard let header = lines.first, header.contains("kind"), header.contains("file") else {
            throw BenchResultsError(.badInput, "manifest \(manifestPath) has no header with 'kind' and 'file'")
        }
        let entries = lines.dropFirst().map { fields in
            Dictionary(zip(header, fields), uniquingKeysWith: { first, _ in first })
        }
        let rows = entries.map { entry -> BenchRow in
            let file = entry["file"] ?? ""
            let path = file.hasPrefix("/") || folder.isEmpty ? file : folder + "/" + file
            let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return row(entry: entry, output: output)
        }
        return Self.addingRatios(to: rows)
    }

    /// Builds and judges one row from a manifest entry and the output it names.
    ///
    /// - Parameters:
    ///   - entry: manifest column → value.
    ///   - output: the content of the entry's file (empty when missing).
    /// - Returns: the row, its `status` set; ratios are not set here.
    public func row(entry: [String: String], output: String) -> BenchRow {
        var row = BenchRow()
        var reasons: [String] = []
        let kind = entry["kind"] ?? ""
        let expected = Int(entry["n"] ?? "") ?? 0
        do throws(BenchResultsError) {
            if output.isEmpty { throw BenchResultsError(.noData, "no output") }
            switch kind {
            case "loadgen":
                let results = try BenchHistory(csv: output)
                guard let last = results.rows.last else {
                    throw BenchResultsError(.noData, "loadgen wrote no row")
                }
                row = last
            case "wrk":
                row = BenchRow(try ToolOutput.wrk(output))
            case "hey":
                row = BenchRow(try ToolOutput.hey(output, expected: expected))
            default:
                throw BenchResultsError(.badInput, "unknown kind '\(kind)'")
            }
        } catch {
            reasons.append("no result (\(error.message))")
        }
        for column in Self.manifestColumns where BenchRow.columns.contains(column) && row[column].isEmpty {
            row[column] = entry[column] ?? ""
        }
        row["scenario"] = entry["scenario"] ?? row.scenario
        row["tool"] = entry["tool"] ?? kind
        row["target"] = entry["target"] ?? ""
        row["commit"] = stamp.commit
        row["host_cores"] = String(stamp.hostCores)
        row["cpu_model"] = stamp.cpuModel
        if row["time_utc"].isEmpty { row["time_utc"] = stamp.timeUTC }
        if kind != "loadgen", row["n"].isEmpty { row["n"] = entry["n"] ?? "" }
        if let cpu = row.number("server_cpu_s"), let requests = row.number("requests"), requests > 0 {
            row["cpu_us_per_req"] = ToolOutput.format(cpu * 1e6 / requests, digits: 3)
        }

        if let exit = entry["exit_code"], !exit.isEmpty, exit != "0" { reasons.append("exit \(exit)") }
        if entry["server_alive"] == "0" { reasons.append("server died") }
        reasons += row.failureReasons
        if row.scenario == "soak" {
            reasons += flatness(row, before: "heap_before", after: "heap_after", limit: heapLimit, name: "heap")
            reasons += flatness(row, before: "rss_before", after: "rss_after", limit: rssLimit, name: "rss")
        }
        row["status"] = BenchRow.status(reasons: reasons)
        return row
    }

    private func flatness(_ row: BenchRow, before: String, after: String, limit: FlatLimit, name: String) -> [String] {
        guard let start = row.number(before), let end = row.number(after) else {
            return ["\(name) not measured"]
        }
        let allowed = limit.bytes + limit.fraction * start
        return end - start > allowed ? ["\(name) grew \(Int(end - start)) B > \(Int(allowed)) B"] : []
    }

    /// Adds the anchor ratios measured in the same run to every row.
    ///
    /// - `ratio_vs_nginx` = the row's req/s ÷ the median req/s of the same tool against nginx (loadgen's when that
    ///   tool has no nginx run); empty for rows against nginx itself.
    /// - `ratio_vs_wrk` = the row's req/s ÷ the median req/s of wrk against the same target; empty for wrk's rows.
    ///
    /// - `cpu_ratio_vs_nginx` = the row's CPU µs per request ÷ the median of the same tool's against nginx
    ///   (loadgen's when that tool has no nginx run); empty for rows against nginx itself. Lower is better.
    ///
    /// Only passing anchor runs count. The ratios divide out the speed of the machine, which is what stays
    /// comparable across machines and commits.
    ///
    /// - Parameter rows: the rows of one run.
    /// - Returns: the rows with the ratio columns set.
    public static func addingRatios(to rows: [BenchRow]) -> [BenchRow] {
        func anchor(_ column: String, tool: String, target: String) -> Double? {
            BenchStatistics.median(
                rows.filter { $0.tool == tool && $0.target == target && $0.passed && $0.scenario == "hot-key" }
                    .compactMap { $0.number(column) })
        }
        func medianRPS(tool: String, target: String) -> Double? { anchor("rps", tool: tool, target: target) }
        return rows.map { original in
            var row = original
            if row.target != "nginx", let cpu = row.cpuPerRequest,
                let nginx = anchor("cpu_us_per_req", tool: row.tool, target: "nginx")
                    ?? anchor("cpu_us_per_req", tool: "loadgen", target: "nginx"),
                nginx > 0
            {
                row["cpu_ratio_vs_nginx"] = ToolOutput.format(cpu / nginx, digits: 3)
            }
            guard let rps = row.rps else { return row }
            if row.target != "nginx",
                let anchor = medianRPS(tool: row.tool, target: "nginx") ?? medianRPS(tool: "loadgen", target: "nginx"),
                anchor > 0
            {
                row["ratio_vs_nginx"] = ToolOutput.format(rps / anchor, digits: 3)
            }
            if row.tool != "wrk", let anchor = medianRPS(tool: "wrk", target: row.target), anchor > 0 {
                row["ratio_vs_wrk"] = ToolOutput.format(rps / anchor, digits: 3)
            }
            return row
        }
    }
}
