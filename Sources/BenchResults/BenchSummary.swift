/// The medians of one bench run per scenario, tool and target, as the table `make bench` prints.
public struct BenchSummary: Sendable {
    /// One line of the table: the repeats of one series folded into medians.
    public struct Line: Sendable, Equatable {
        /// What was measured.
        public var key: BenchRow.SeriesKey
        /// How many runs.
        public var runs: Int
        /// How many of them failed.
        public var failed: Int
        /// Median req/s.
        public var rps: Double?
        /// Median p50 latency, ms.
        public var p50: Double?
        /// Median p99 latency, ms.
        public var p99: Double?
        /// Median p99.9 latency, ms.
        public var p999: Double?
        /// Median corrected p99 (constant-rate runs), ms.
        public var correctedP99: Double?
        /// Median heap growth over a run, bytes.
        public var heapGrowth: Double?
        /// Median ratio to the nginx anchor.
        public var ratioVsNginx: Double?
        /// Median ratio to the wrk anchor.
        public var ratioVsWrk: Double?
        /// Median server CPU time per request, µs.
        public var cpuPerRequest: Double? = nil
        /// Median ratio of CPU per request to the nginx anchor's (lower is better).
        public var cpuRatioVsNginx: Double? = nil
        /// Verifications passed / verified runs (`-` when none was verified).
        public var verify: String
        /// The failure reasons of the failed runs, deduplicated.
        public var reasons: [String]

        /// `PASS` or `FAILED k/n`.
        public var status: String { failed == 0 ? "PASS" : "FAILED \(failed)/\(runs)" }
    }

    /// The lines, in the order their series first appear.
    public var lines: [Line]
    /// counter-service against nginx, on req/s and on CPU per request, each naming its measure.
    public var verdicts: [NginxVerdict]

    /// Folds rows into medians.
    ///
    /// - Parameter rows: the rows of one run (or any set of rows).
    public init(rows: [BenchRow]) {
        verdicts = NginxVerdict.verdicts(rows: rows)
        var order: [BenchRow.SeriesKey] = []
        var groups: [BenchRow.SeriesKey: [BenchRow]] = [:]
        for row in rows {
            if groups[row.seriesKey] == nil { order.append(row.seriesKey) }
            groups[row.seriesKey, default: []].append(row)
        }
        lines = order.map { key in
            let group = groups[key]!
            func median(_ column: String) -> Double? { BenchStatistics.median(group.compactMap { $0.number(column) }) }
            let verified = group.map { BenchRow.verification($0["verify"]) }.filter { $0 != .notVerified }
            let failedRows = group.filter { !$0.passed }
            var reasons: [String] = []
            for row in failedRows {
                let reason =
                    row.status.isEmpty
                    ? row.failureReasons.joined(separator: "; ")
                    : String(row.status.drop(while: { $0 != ":" }).dropFirst().drop(while: { $0 == " " }))
                if !reasons.contains(reason) { reasons.append(reason) }
            }
            return Line(
                key: key,
                runs: group.count,
                failed: failedRows.count,
                rps: median("rps"),
                p50: median("p50_ms"),
                p99: median("p99_ms"),
                p999: median("p999_ms"),
                correctedP99: median("cp99_ms"),
                heapGrowth: BenchStatistics.median(
                    group.compactMap { row in
                        guard let before = row.number("heap_before"), let after = row.number("heap_after") else {
                            return nil
                        }
                        return after - before
                    }),
                ratioVsNginx: median("ratio_vs_nginx"),
                ratioVsWrk: median("ratio_vs_wrk"),
                cpuPerRequest: median("cpu_us_per_req"),
                cpuRatioVsNginx: median("cpu_ratio_vs_nginx"),
                verify: verified.isEmpty
                    ? "-"
                    : "\(verified.filter { $0 == .passed }.count == verified.count ? "PASS" : "FAIL") \(verified.filter { $0 == .passed }.count)/\(verified.count)",
                reasons: reasons
            )
        }
    }

    /// Whether every run passed.
    public var allPassed: Bool { lines.allSatisfy { $0.failed == 0 } }

    /// The table as text: a header, one line per series, and the failure reasons below.
    public var table: String {
        let header = [
            "scenario", "tool", "target", "runs", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "cp99 ms", "heap Δ MiB",
            "÷nginx", "÷wrk", "CPU µs/req", "CPU ÷nginx", "verify", "status",
        ]
        let body = lines.map { line -> [String] in
            [
                line.key.scenario, line.key.tool, line.key.target, String(line.runs), Self.text(line.rps, 0),
                Self.text(line.p50, 2), Self.text(line.p99, 2), Self.text(line.p999, 2),
                Self.text(line.correctedP99, 2), Self.text(line.heapGrowth.map { $0 / 1_048_576 }, 1),
                Self.text(line.ratioVsNginx, 3), Self.text(line.ratioVsWrk, 3), Self.text(line.cpuPerRequest, 2),
                Self.text(line.cpuRatioVsNginx, 3), line.verify, line.status,
            ]
        }
        var widths = header.map(\.count)
        for cells in body {
            for (column, cell) in cells.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column < 3 || column >= 14 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        var out = render(header) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for cells in body { out += render(cells) + "\n" }
        for line in lines where line.failed > 0 {
            out += "FAILED \(line.key): \(line.reasons.joined(separator: " | "))\n"
        }
        if !verdicts.isEmpty {
            out += "counter-service vs nginx (medians of this run):\n"
            for verdict in verdicts { out += "  " + verdict.sentence + "\n" }
        }
        return out
    }

    private static func text(_ value: Double?, _ digits: Int) -> String {
        value.map { ToolOutput.format($0, digits: digits) } ?? "-"
    }
}
