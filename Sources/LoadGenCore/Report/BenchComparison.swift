/// Compares the bench rows of two commits per scenario, tool and target: the change of the medians, a noise band
/// from the spread of the repeats, and a verdict.
///
/// Throughput is compared on `ratio_vs_nginx` when both commits have it (the machine's speed divided out), else on
/// req/s; latency on p99 (the corrected p99 for constant-rate runs). The band of a metric is the largest of its
/// floor and the relative spread (max − min over median) of each side's repeats: a change inside the band is noise.
public struct BenchComparison: Sendable {
    /// How a metric moved.
    public enum Verdict: String, Sendable, Equatable {
        /// Better by more than the band.
        case improved
        /// Within the band.
        case unchanged
        /// Worse by more than the band.
        case regressed
        /// The head has failed runs, or no passing run, for a series the base had.
        case failed
        /// Only one side has passing runs: nothing to compare.
        case missing
        /// Both sides ran the series, but with different sizes (a `QUICK=1` run against a full one).
        case incomparable
    }

    /// The change of one metric.
    public struct Delta: Sendable, Equatable {
        /// The metric's name (`ratio_vs_nginx`, `rps`, `p99_ms`, `cp99_ms`).
        public var metric: String
        /// The base median.
        public var base: Double
        /// The head median.
        public var head: Double
        /// (head − base) / base.
        public var change: Double
        /// The noise band as a fraction.
        public var band: Double
        /// The verdict.
        public var verdict: Verdict
    }

    /// The comparison of one series.
    public struct Line: Sendable, Equatable {
        /// What was measured.
        public var key: BenchRow.SeriesKey
        /// Throughput, when both sides have it.
        public var throughput: Delta?
        /// Tail latency, when both sides have it.
        public var latency: Delta?
        /// The series' verdict: failed, else regressed if a metric regressed, else improved if one improved.
        public var verdict: Verdict
    }

    /// The minimum band for throughput (default 10 %: wall-clock noise on a shared machine).
    public var throughputFloor: Double
    /// The minimum band for tail latency (default 25 %: tails are noisier).
    public var latencyFloor: Double
    /// The lines, sorted by key.
    public private(set) var lines: [Line] = []
    /// The base commit.
    public let base: String
    /// The head commit.
    public let head: String

    /// Compares two commits' rows.
    ///
    /// - Parameters:
    ///   - results: the results file's rows.
    ///   - base: the base commit (`nil`: the last commit before `head` with a run of the same size, else the one just
    ///     before `head`).
    ///   - head: the head commit (`nil`: the last commit with rows).
    ///   - throughputFloor: minimum band for throughput.
    ///   - latencyFloor: minimum band for latency.
    /// - Throws: ``BenchReportError`` `.noData` when a commit has no rows or there is no earlier commit.
    public init(
        results: BenchResults, base: String? = nil, head: String? = nil, throughputFloor: Double = 0.10,
        latencyFloor: Double = 0.25
    ) throws(BenchReportError) {
        let commits = results.commits
        guard
            let headCommit = head.flatMap({ h in commits.last { BenchResults.sameCommit($0, h) } })
                ?? (head == nil ? commits.last : nil)
        else {
            throw BenchReportError(.noData, "no rows for head commit \(head ?? "(latest)")")
        }
        let baseCommit: String
        if let base {
            guard let found = commits.last(where: { BenchResults.sameCommit($0, base) }) else {
                throw BenchReportError(.noData, "no rows for base commit \(base)")
            }
            baseCommit = found
        } else {
            guard let position = commits.firstIndex(of: headCommit), position > 0 else {
                throw BenchReportError(.noData, "no commit with results before \(headCommit)")
            }
            // The latest earlier commit with a run of the same size as one of the head's (a QUICK run compares
            // with the previous QUICK run); else simply the previous commit.
            let headRuns = Set(results.rows(of: headCommit).map { "\($0.seriesKey) \(Self.size(of: $0))" })
            baseCommit =
                commits[..<position].last { commit in
                    results.rows(of: commit).contains { headRuns.contains("\($0.seriesKey) \(Self.size(of: $0))") }
                } ?? commits[position - 1]
        }
        self.base = baseCommit
        self.head = headCommit
        self.throughputFloor = throughputFloor
        self.latencyFloor = latencyFloor

        let baseRows = Dictionary(grouping: results.rows(of: baseCommit), by: \.seriesKey)
        let headRows = Dictionary(grouping: results.rows(of: headCommit), by: \.seriesKey)
        for key in Set(baseRows.keys).union(headRows.keys).sorted() {
            lines.append(line(key: key, base: baseRows[key] ?? [], head: headRows[key] ?? []))
        }
    }

    /// The size of a run, which must match for two runs to be compared: connections plus the request count, the
    /// duration of a constant-rate run, or the duration of a timed (wrk) run. `make bench QUICK=1` rows therefore
    /// never compare against full-size rows.
    ///
    /// - Parameter row: a row.
    /// - Returns: a label of its size.
    public static func size(of row: BenchRow) -> String {
        let connections = "c\(row["c"])"
        if let rate = row.number("rate"), rate > 0, let n = row.number("n") {
            return connections + " rate-for-\(Int((n / rate).rounded()))s"
        }
        if !row["n"].isEmpty { return connections + " n\(row["n"])" }
        return connections + " \(Int((row.number("duration_s") ?? 0).rounded()))s"
    }

    private func line(key: BenchRow.SeriesKey, base allBase: [BenchRow], head: [BenchRow]) -> Line {
        let headSizes = Set(head.map(Self.size(of:)))
        let base = allBase.filter { headSizes.contains(Self.size(of: $0)) }
        let basePassing = base.filter(\.passed)
        let headPassing = head.filter(\.passed)
        if !basePassing.isEmpty && (headPassing.isEmpty || headPassing.count < head.count) {
            return Line(key: key, throughput: nil, latency: nil, verdict: .failed)
        }
        if !allBase.isEmpty && !head.isEmpty && base.isEmpty {
            return Line(
                key: key, throughput: nil, latency: nil,
                verdict: headPassing.count < head.count ? .failed : .incomparable)
        }
        if basePassing.isEmpty || headPassing.isEmpty {
            return Line(
                key: key, throughput: nil, latency: nil, verdict: headPassing.count < head.count ? .failed : .missing)
        }
        let throughputMetric =
            basePassing.allSatisfy({ $0.number("ratio_vs_nginx") != nil })
                && headPassing.allSatisfy({ $0.number("ratio_vs_nginx") != nil }) ? "ratio_vs_nginx" : "rps"
        let latencyMetric =
            basePassing.allSatisfy({ $0.number("cp99_ms") != nil && $0.number("rate") ?? 0 > 0 }) ? "cp99_ms" : "p99_ms"
        let throughput = delta(
            throughputMetric, base: basePassing, head: headPassing, floor: throughputFloor, higherIsBetter: true)
        let latency = delta(
            latencyMetric, base: basePassing, head: headPassing, floor: latencyFloor, higherIsBetter: false)
        let verdicts = [throughput?.verdict, latency?.verdict].compactMap { $0 }
        let verdict: Verdict =
            verdicts.contains(.regressed)
            ? .regressed : verdicts.contains(.improved) ? .improved : verdicts.isEmpty ? .missing : .unchanged
        return Line(key: key, throughput: throughput, latency: latency, verdict: verdict)
    }

    private func delta(
        _ metric: String, base: [BenchRow], head: [BenchRow], floor: Double, higherIsBetter: Bool
    ) -> Delta? {
        let baseValues = base.compactMap { $0.number(metric) }
        let headValues = head.compactMap { $0.number(metric) }
        guard let baseMedian = BenchStatistics.median(baseValues), let headMedian = BenchStatistics.median(headValues),
            baseMedian != 0
        else { return nil }
        let change = (headMedian - baseMedian) / abs(baseMedian)
        let band = max(
            floor, BenchStatistics.relativeSpread(baseValues), BenchStatistics.relativeSpread(headValues))
        let better = higherIsBetter ? change : -change
        let verdict: Verdict = better > band ? .improved : better < -band ? .regressed : .unchanged
        return Delta(metric: metric, base: baseMedian, head: headMedian, change: change, band: band, verdict: verdict)
    }

    /// Whether a run against the nginx anchor moved beyond its band: nginx did not change between the commits, so
    /// the machine did, or the tool that drove it (a loadgen change moves every loadgen ratio to nginx).
    public var anchorsMoved: Bool {
        lines.contains { $0.key.target == "nginx" && ($0.verdict == .regressed || $0.verdict == .improved) }
    }

    /// Whether any series regressed or failed: `make compare` exits non-zero then.
    public var hasRegression: Bool { lines.contains { $0.verdict == .regressed || $0.verdict == .failed } }

    /// The comparison as a text table.
    public var table: String {
        var out = "base \(base) → head \(head)\n"
        let header = [
            "scenario", "tool", "target", "throughput", "base", "head", "Δ", "±band", "latency", "base", "head", "Δ",
            "±band", "verdict",
        ]
        func cells(_ delta: Delta?, digits: Int) -> [String] {
            guard let delta else { return ["-", "-", "-", "-", "-"] }
            return [
                delta.metric, ToolOutput.format(delta.base, digits: digits),
                ToolOutput.format(delta.head, digits: digits),
                (delta.change >= 0 ? "+" : "") + ToolOutput.format(delta.change * 100, digits: 1) + "%",
                ToolOutput.format(delta.band * 100, digits: 1) + "%",
            ]
        }
        let body = lines.map { line in
            [line.key.scenario, line.key.tool, line.key.target]
                + cells(line.throughput, digits: line.throughput?.metric == "rps" ? 0 : 3)
                + cells(line.latency, digits: 2) + [line.verdict.rawValue]
        }
        var widths = header.map(\.count)
        for row in body { for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) } }
        func render(_ row: [String]) -> String {
            row.enumerated().map { column, cell in cell + String(repeating: " ", count: widths[column] - cell.count) }
                .joined(separator: "  ")
        }
        out += render(header) + "\n"
        for row in body { out += render(row) + "\n" }
        if anchorsMoved {
            out += "note: an nginx anchor moved beyond its band, so the machine or the load tool changed between "
            out += "the runs (the ratios to nginx divide by the same tool's nginx rate); read the verdicts with care\n"
        }
        return out
    }
}
