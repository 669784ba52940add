/// Compares two sets of rows (two commits of one results file, or two files) per series — scenario, tool and
/// target: the change of each metric's median, a noise band, and a verdict. The one comparer behind
/// `loadgen compare` and `make compare`.
///
/// **Metrics**: throughput (`ratio_vs_nginx` when every passing row of both sides has it — the machine's speed
/// divided out — else `rps`), `p50_ms`, the tail (`cp99_ms` for constant-rate runs, else `p99_ms`), `heap_after`
/// (when both sides scraped it), the server's CPU time per request `cpu_us_per_req` and the callgrind count
/// `instructions_per_req` (lower is better for both; `results/instructions.csv`). Each side's value is the median of
/// its passing repeats; a metric only one side has is left out.
///
/// **Noise rule**: a metric moved only when its change exceeds its band,
/// `band = max(floor, 2 × spread(base), 2 × spread(head))`, where `spread` is a side's run-to-run spread
/// (max − min) / median (0 for a single run) and the floor is per kind of metric (``Policy``: 10 % throughput, 25 %
/// latency, 25 % memory, 5 % CPU per request — it barely moves with the machine's load — and 2 % instructions per
/// request, which is deterministic: more than 2 % more instructions is a regression). Two times the spread, because the range of three repeats underestimates the run-to-run
/// noise of a shared machine (it moves 25–40 % between runs here): a change inside it is not evidence.
///
/// **Comparable**: only runs of the same size (``size(of:)``: connections and request count, rate duration or
/// timed duration), so a `QUICK=1` run never compares with a full one; the URL path is not part of the identity
/// (the bench puts a fresh counter id in every run's path).
///
/// **Verdicts** per series: `failed` when the base passed and the head has a failed run (or none passing),
/// `incomparable` when both ran it but at different sizes, `missing` when only one side has passing runs, else
/// `regressed` when a metric regressed beyond its band, `improved` when one improved, `unchanged`.
public struct BenchComparison: Sendable {
    /// How a series or a metric moved.
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

    /// The floors of the noise band and the spread factor.
    public struct Policy: Sendable, Equatable {
        /// Minimum band for throughput (`rps`, `ratio_vs_nginx`).
        public var throughputFloor: Double
        /// Minimum band for latency (`p50_ms`, `p99_ms`, `cp99_ms`).
        public var latencyFloor: Double
        /// Minimum band for memory (`heap_after`).
        public var memoryFloor: Double
        /// Minimum band for the server's CPU time per request (`cpu_us_per_req`).
        public var cpuFloor: Double
        /// Minimum band for instructions per request (`instructions_per_req`).
        public var instructionsFloor: Double
        /// How many times the run-to-run spread a change must exceed.
        public var spreadFactor: Double

        /// A policy.
        ///
        /// - Parameters:
        ///   - throughputFloor: minimum band for throughput (default 10 %: wall-clock noise on a shared machine).
        ///   - latencyFloor: minimum band for latency (default 25 %: tails are noisier).
        ///   - memoryFloor: minimum band for the heap (default 25 %).
        ///   - cpuFloor: minimum band for CPU per request (default 5 %: CPU time barely moves with the load).
        ///   - instructionsFloor: minimum band for instructions per request (default 2 %: the count is the same run
        ///     after run).
        ///   - spreadFactor: default 2.
        public init(
            throughputFloor: Double = 0.10, latencyFloor: Double = 0.25, memoryFloor: Double = 0.25,
            cpuFloor: Double = 0.05, instructionsFloor: Double = 0.02, spreadFactor: Double = 2
        ) {
            self.throughputFloor = throughputFloor
            self.latencyFloor = latencyFloor
            self.memoryFloor = memoryFloor
            self.cpuFloor = cpuFloor
            self.instructionsFloor = instructionsFloor
            self.spreadFactor = spreadFactor
        }

        /// The band of a metric: `max(floor, factor × spread of each side)`.
        ///
        /// - Parameters:
        ///   - floor: the metric's floor.
        ///   - base: the base repeats.
        ///   - head: the head repeats.
        /// - Returns: the band as a fraction.
        public func band(floor: Double, base: [Double], head: [Double]) -> Double {
            max(
                floor, spreadFactor * BenchStatistics.relativeSpread(base),
                spreadFactor * BenchStatistics.relativeSpread(head))
        }
    }

    /// The change of one metric.
    public struct Delta: Sendable, Equatable {
        /// The metric's column (`ratio_vs_nginx`, `rps`, `p50_ms`, `p99_ms`, `cp99_ms`, `heap_after`,
        /// `cpu_us_per_req`, `instructions_per_req`).
        public var metric: String
        /// The base median.
        public var base: Double
        /// The head median.
        public var head: Double
        /// (head − base) / |base|.
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
        /// Runs on each side (of the compared size).
        public var baseRuns: Int
        /// Runs of the head.
        public var headRuns: Int
        /// The metrics both sides have, in order: throughput, p50, tail, heap, CPU/request, instructions/request.
        public var deltas: [Delta]
        /// The series' verdict.
        public var verdict: Verdict
        /// Why there are no deltas, when there are none (sizes, failures).
        public var note: String?

        /// The throughput delta (`ratio_vs_nginx` or `rps`).
        public var throughput: Delta? { deltas.first { $0.metric == "ratio_vs_nginx" || $0.metric == "rps" } }
        /// The tail-latency delta (`cp99_ms` or `p99_ms`).
        public var latency: Delta? { deltas.first { $0.metric == "cp99_ms" || $0.metric == "p99_ms" } }
        /// The CPU-per-request delta.
        public var cpu: Delta? { deltas.first { $0.metric == "cpu_us_per_req" } }
        /// The instructions-per-request delta.
        public var instructions: Delta? { deltas.first { $0.metric == "instructions_per_req" } }
    }

    /// The noise rule.
    public let policy: Policy
    /// The lines, sorted by key.
    public private(set) var lines: [Line] = []
    /// The base's name (a commit, or a file).
    public let base: String
    /// The head's name.
    public let head: String
    /// The head's rows (all sizes), from which ``headVerdicts`` judges the counter against nginx.
    public let headRows: [BenchRow]

    /// Compares two sets of rows.
    ///
    /// - Parameters:
    ///   - base: the baseline rows.
    ///   - head: the candidate rows.
    ///   - baseName: shown as the base.
    ///   - headName: shown as the head.
    ///   - policy: the noise rule.
    public init(base: [BenchRow], head: [BenchRow], baseName: String, headName: String, policy: Policy = Policy()) {
        self.base = baseName
        self.head = headName
        self.headRows = head
        self.policy = policy
        let baseRows = Dictionary(grouping: base, by: \.seriesKey)
        let headRows = Dictionary(grouping: head, by: \.seriesKey)
        for key in Set(baseRows.keys).union(headRows.keys).sorted() {
            lines.append(line(key: key, base: baseRows[key] ?? [], head: headRows[key] ?? []))
        }
    }

    /// Compares two commits of a results file.
    ///
    /// - Parameters:
    ///   - history: the results file's rows.
    ///   - base: the base commit (`nil`: the last commit before `head` with a run of the same size, else the one just
    ///     before `head`).
    ///   - head: the head commit (`nil`: the last commit with rows).
    ///   - policy: the noise rule.
    /// - Throws: ``BenchResultsError`` `.noData` when a commit has no rows or there is no earlier commit.
    public init(
        history: BenchHistory, base: String? = nil, head: String? = nil, policy: Policy = Policy()
    )
        throws(BenchResultsError)
    {
        let commits = history.commits
        guard let headCommit = head.map(history.commit(named:)) ?? commits.last else {
            throw BenchResultsError(.noData, "no rows for head commit \(head ?? "(latest)")")
        }
        let baseCommit: String
        if let base {
            guard let found = history.commit(named: base) else {
                throw BenchResultsError(.noData, "no rows for base commit \(base)")
            }
            baseCommit = found
        } else {
            guard let position = commits.firstIndex(of: headCommit), position > 0 else {
                throw BenchResultsError(.noData, "no commit with results before \(headCommit)")
            }
            // The latest earlier commit with a run of the same size as one of the head's (a QUICK run compares
            // with the previous QUICK run); else simply the previous commit.
            let headRuns = Set(history.rows(of: headCommit).map { "\($0.seriesKey) \(Self.size(of: $0))" })
            baseCommit =
                commits[..<position].last { commit in
                    history.rows(of: commit).contains { headRuns.contains("\($0.seriesKey) \(Self.size(of: $0))") }
                } ?? commits[position - 1]
        }
        self.init(
            base: history.rows(of: baseCommit), head: history.rows(of: headCommit), baseName: baseCommit,
            headName: headCommit, policy: policy)
    }

    /// The size of a run, which must match for two runs to be compared: connections plus the request count, the
    /// duration of a constant-rate run, or the duration of a timed (wrk, `-z`) run.
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
        func line(_ verdict: Verdict, _ note: String?) -> Line {
            Line(key: key, baseRuns: base.count, headRuns: head.count, deltas: [], verdict: verdict, note: note)
        }
        let headFailed = head.count - headPassing.count
        let failedNote = "\(headFailed) of \(head.count) head run(s) failed"
        if !basePassing.isEmpty && (headPassing.isEmpty || headFailed > 0) {
            return line(.failed, failedNote)
        }
        if !allBase.isEmpty && !head.isEmpty && base.isEmpty {
            let sizes =
                "sizes differ: \(Set(allBase.map(Self.size(of:))).sorted().joined(separator: ", ")) vs "
                + headSizes.sorted().joined(separator: ", ")
            return headFailed > 0 ? line(.failed, failedNote) : line(.incomparable, sizes)
        }
        if basePassing.isEmpty || headPassing.isEmpty {
            if headFailed > 0 { return line(.failed, failedNote) }
            return line(.missing, head.isEmpty ? "no head run" : base.isEmpty ? "no base run" : "no passing base run")
        }
        let throughputMetric =
            basePassing.allSatisfy({ $0.number("ratio_vs_nginx") != nil })
                && headPassing.allSatisfy({ $0.number("ratio_vs_nginx") != nil }) ? "ratio_vs_nginx" : "rps"
        let tailMetric =
            basePassing.allSatisfy({ $0.number("cp99_ms") != nil && $0.number("rate") ?? 0 > 0 }) ? "cp99_ms" : "p99_ms"
        let metrics: [(String, Double, Bool)] = [
            (throughputMetric, policy.throughputFloor, true), ("p50_ms", policy.latencyFloor, false),
            (tailMetric, policy.latencyFloor, false), ("heap_after", policy.memoryFloor, false),
            ("cpu_us_per_req", policy.cpuFloor, false), ("instructions_per_req", policy.instructionsFloor, false),
        ]
        let deltas = metrics.compactMap { metric, floor, higherIsBetter in
            delta(metric, base: basePassing, head: headPassing, floor: floor, higherIsBetter: higherIsBetter)
        }
        let verdicts = deltas.map(\.verdict)
        let verdict: Verdict =
            verdicts.contains(.regressed)
            ? .regressed : verdicts.contains(.improved) ? .improved : verdicts.isEmpty ? .missing : .unchanged
        return Line(
            key: key, baseRuns: base.count, headRuns: head.count, deltas: deltas, verdict: verdict,
            note: deltas.isEmpty ? "no metric on both sides" : nil)
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
        let band = policy.band(floor: floor, base: baseValues, head: headValues)
        let better = higherIsBetter ? change : -change
        let verdict: Verdict = better > band ? .improved : better < -band ? .regressed : .unchanged
        return Delta(metric: metric, base: baseMedian, head: headMedian, change: change, band: band, verdict: verdict)
    }

    /// Whether a run against the nginx anchor moved beyond its band: nginx did not change between the commits, so
    /// the machine did, or the tool that drove it (a loadgen change moves every loadgen ratio to nginx).
    public var anchorsMoved: Bool {
        lines.contains { $0.key.target == "nginx" && ($0.verdict == .regressed || $0.verdict == .improved) }
    }

    /// Whether any series regressed or failed.
    public var hasRegression: Bool { lines.contains { $0.verdict == .regressed || $0.verdict == .failed } }

    /// Whether any series was compared metric by metric.
    public var comparedAnything: Bool { lines.contains { !$0.deltas.isEmpty } }

    /// The exit status of `loadgen compare`: 1 on a regression or a failed head run, 2 when nothing could be
    /// compared, else 0.
    public var exitCode: Int32 {
        if hasRegression { return 1 }
        return comparedAnything ? 0 : 2
    }

    /// The comparison as a text table: its first line is `base X → head Y`, then one line per metric of each
    /// series (the series' verdict on its first line), then a note when an nginx anchor moved.
    public var table: String {
        var out = "base \(base) → head \(head)\n"
        let header = [
            "scenario", "tool", "target", "runs", "metric", "base", "head", "Δ", "±band", "metric verdict",
            "verdict",
        ]
        var body: [[String]] = []
        for line in lines {
            let series = [
                line.key.scenario, line.key.tool, line.key.target.isEmpty ? "-" : line.key.target,
                "\(line.baseRuns)/\(line.headRuns)",
            ]
            guard !line.deltas.isEmpty else {
                body.append(series + ["-", "-", "-", "-", "-", line.note ?? "-", line.verdict.rawValue])
                continue
            }
            for (index, delta) in line.deltas.enumerated() {
                let digits =
                    delta.metric == "rps" || delta.metric == "heap_after" || delta.metric == "instructions_per_req"
                    ? 0 : delta.metric.hasPrefix("ratio") ? 3 : 2
                body.append(
                    (index == 0 ? series : ["", "", "", ""]) + [
                        delta.metric, ToolOutput.format(delta.base, digits: digits),
                        ToolOutput.format(delta.head, digits: digits),
                        (delta.change >= 0 ? "+" : "") + ToolOutput.format(delta.change * 100, digits: 1) + "%",
                        ToolOutput.format(delta.band * 100, digits: 1) + "%", delta.verdict.rawValue,
                        index == 0 ? line.verdict.rawValue : "",
                    ])
            }
        }
        var widths = header.map(\.count)
        for row in body { for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) } }
        func render(_ row: [String]) -> String {
            let padded = row.enumerated().map { column, cell in
                cell + String(repeating: " ", count: widths[column] - cell.count)
            }
            var text = padded.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        out += render(header) + "\n"
        for row in body { out += render(row) + "\n" }
        if anchorsMoved {
            out += "note: an nginx anchor moved beyond its band, so the machine or the load tool changed between "
            out += "the runs (the ratios to nginx divide by the same tool's nginx rate); read the verdicts with care\n"
        }
        if !headVerdicts.isEmpty {
            out += "counter-service vs nginx at the head (\(head)):\n"
            for verdict in headVerdicts { out += "  " + verdict.sentence + "\n" }
        }
        return out
    }

    /// The head's standing against nginx on req/s and on CPU per request (``NginxVerdict``).
    public var headVerdicts: [NginxVerdict] {
        NginxVerdict.verdicts(
            rows: headRows, throughputFloor: policy.throughputFloor, cpuFloor: policy.cpuFloor,
            spreadFactor: policy.spreadFactor)
    }
}
