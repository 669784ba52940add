import Foundation

/// `loadgen compare`: per scenario, the change in req/s, p50, p99 and heap between two sets of results rows.
///
/// Each side's value is the median of its repeats (rows of the same scenario). The noise threshold of a metric is
/// `max(5 %, 2 × relative spread of the repeats)` (spread = (max − min) / median, the larger of both sides) when
/// either side has at least two repeats, and ``defaultThreshold`` otherwise. A change beyond the threshold in the
/// good direction is "improved", in the bad direction "regressed", else "unchanged". Rows whose n, c, rate or
/// URL path differ are not compared (the scenario is reported as refused).
public struct Comparison: Sendable {
    /// A verdict.
    public enum Verdict: String, Sendable, Equatable {
        /// Better beyond the noise threshold.
        case improved
        /// Within the noise threshold.
        case unchanged
        /// Worse beyond the noise threshold.
        case regressed
    }

    /// One metric of one scenario.
    public struct MetricResult: Sendable, Equatable {
        /// Display name (`req/s`, `p50_ms`, …).
        public var metric: String
        /// Median of the old rows.
        public var old: Double
        /// Median of the new rows.
        public var new: Double
        /// Relative change (new − old) / old.
        public var change: Double
        /// Noise threshold used (relative).
        public var threshold: Double
        /// The verdict.
        public var verdict: Verdict
    }

    /// One scenario.
    public struct ScenarioResult: Sendable, Equatable {
        /// Scenario name.
        public var scenario: String
        /// Repeats on each side.
        public var oldCount: Int
        /// Repeats on each side.
        public var newCount: Int
        /// Per-metric results (empty when refused).
        public var metrics: [MetricResult]
        /// Why the scenario was not compared, if it was not.
        public var refusal: String?
        /// Extra notes (e.g. a failed counter check).
        public var notes: [String]
        /// Overall verdict: regressed if any metric regressed or a check failed, improved if any improved.
        public var verdict: Verdict? {
            if refusal != nil { return nil }
            if metrics.contains(where: { $0.verdict == .regressed }) || !notes.isEmpty { return .regressed }
            if metrics.contains(where: { $0.verdict == .improved }) { return .improved }
            return .unchanged
        }
    }

    /// Threshold when neither side has repeats.
    public var defaultThreshold: Double
    /// Smallest threshold ever used.
    public var minimumThreshold: Double

    /// A comparison policy.
    /// - Parameters:
    ///   - defaultThreshold: relative threshold without repeats (default 10 %).
    ///   - minimumThreshold: lower bound of the threshold (default 5 %).
    public init(defaultThreshold: Double = 0.10, minimumThreshold: Double = 0.05) {
        self.defaultThreshold = defaultThreshold
        self.minimumThreshold = minimumThreshold
    }

    /// The metrics compared: column, display name, whether higher is better.
    static let metrics: [(column: String, name: String, higherIsBetter: Bool)] = [
        ("rps", "req/s", true), ("p50_ms", "p50_ms", false), ("p99_ms", "p99_ms", false),
        ("cp99_ms", "cp99_ms", false), ("heap_after", "heap_after", false),
    ]

    /// The columns that must agree for rows to be comparable.
    static let identity = ["n", "c", "rate", "url_path"]

    /// Compares two sets of rows scenario by scenario (scenarios present on both sides, in the new side's order).
    /// - Parameters:
    ///   - old: baseline rows.
    ///   - new: candidate rows.
    /// - Returns: one result per common scenario.
    public func compare(old: [ResultsRow], new: [ResultsRow]) -> [ScenarioResult] {
        var order: [String] = []
        for row in new where !order.contains(row["scenario"]) { order.append(row["scenario"]) }
        var results: [ScenarioResult] = []
        for scenario in order {
            let a = old.filter { $0["scenario"] == scenario }
            let b = new.filter { $0["scenario"] == scenario }
            guard !a.isEmpty else { continue }
            var result = ScenarioResult(
                scenario: scenario, oldCount: a.count, newCount: b.count, metrics: [], refusal: nil, notes: [])
            var differences: [String] = []
            for column in Comparison.identity {
                let values = Set((a + b).map { $0[column] })
                if values.count > 1 {
                    differences.append("\(column) differs (\(values.sorted().joined(separator: " vs ")))")
                }
            }
            if !differences.isEmpty {
                result.refusal = "not compared: " + differences.joined(separator: ", ")
                results.append(result)
                continue
            }
            for metric in Comparison.metrics {
                let oldValues = a.compactMap { $0.number(metric.column) }
                let newValues = b.compactMap { $0.number(metric.column) }
                guard !oldValues.isEmpty, !newValues.isEmpty else { continue }
                let oldMedian = BenchStatistics.median(oldValues) ?? 0
                let newMedian = BenchStatistics.median(newValues) ?? 0
                let threshold: Double
                if oldValues.count >= 2 || newValues.count >= 2 {
                    let spread = max(BenchStatistics.relativeSpread(oldValues), BenchStatistics.relativeSpread(newValues))
                    threshold = max(minimumThreshold, 2 * spread)
                } else {
                    threshold = defaultThreshold
                }
                let change: Double
                if oldMedian == 0 {
                    change = newMedian == 0 ? 0 : .infinity
                } else {
                    change = (newMedian - oldMedian) / oldMedian
                }
                let better = metric.higherIsBetter ? change : -change
                let verdict: Verdict = better > threshold ? .improved : (better < -threshold ? .regressed : .unchanged)
                result.metrics.append(
                    MetricResult(
                        metric: metric.name, old: oldMedian, new: newMedian, change: change, threshold: threshold,
                        verdict: verdict))
            }
            let failed = b.filter { $0["verify"] == "FAIL" }.count
            if failed > 0 { result.notes.append("counter check FAIL in \(failed) of \(b.count) new rows") }
            results.append(result)
        }
        return results
    }

    /// The rows of `rows` whose commit is `commit` (a `+dirty` suffix and abbreviation length are ignored).
    /// - Parameters:
    ///   - rows: all rows.
    ///   - commit: a commit hash or prefix.
    /// - Returns: the matching rows.
    public static func rows(_ rows: [ResultsRow], commit: String) -> [ResultsRow] {
        let wanted = commit.split(separator: "+").first.map(String.init) ?? commit
        return rows.filter { row in
            let have = row["commit"].split(separator: "+").first.map(String.init) ?? ""
            return !have.isEmpty && (have.hasPrefix(wanted) || wanted.hasPrefix(have))
        }
    }

    /// The comparison as a table plus one verdict line per scenario.
    /// - Parameter results: the results.
    /// - Returns: the text.
    public static func render(_ results: [ScenarioResult]) -> String {
        if results.isEmpty { return "No scenario appears on both sides.\n" }
        var out = ""
        for result in results {
            out += "\(result.scenario) (old \(result.oldCount) run(s), new \(result.newCount) run(s))\n"
            if let refusal = result.refusal {
                out += "  \(refusal)\n\n"
                continue
            }
            out += "  " + pad("metric", 11) + pad("old", 14) + pad("new", 14) + pad("change", 10) + pad("threshold", 11)
                + "verdict\n"
            for m in result.metrics {
                let change = m.change.isFinite ? String(format: "%+.1f%%", m.change * 100) : "n/a"
                out += "  " + pad(m.metric, 11) + pad(String(format: "%.3f", m.old), 14)
                    + pad(String(format: "%.3f", m.new), 14) + pad(change, 10)
                    + pad(String(format: "±%.1f%%", m.threshold * 100), 11) + m.verdict.rawValue + "\n"
            }
            for note in result.notes { out += "  \(note)\n" }
            out += "  verdict: \(result.verdict?.rawValue ?? "not compared")\n\n"
        }
        return out
    }

    /// Exit status for `compare`: 1 if any scenario regressed, 2 if nothing could be compared, else 0.
    /// - Parameter results: the results.
    /// - Returns: the exit code.
    public static func exitCode(_ results: [ScenarioResult]) -> Int32 {
        if results.contains(where: { $0.verdict == .regressed }) { return 1 }
        if !results.contains(where: { $0.verdict != nil }) { return 2 }
        return 0
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
