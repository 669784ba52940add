/// Where counter-service stands against the fixed-response nginx of the same bench run, on one measure: req/s
/// (`ratio_vs_nginx`, higher is better; wall-clock, so it swings with the machine's load) or the server's CPU time
/// per request (`cpu_ratio_vs_nginx`, lower is better; it barely moves with the load). Every verdict names the
/// measure it rests on, so that a reader knows how far to trust it.
///
/// The standing uses the noise rule of ``BenchComparison``: the ratio is on par with nginx unless it is farther from
/// 1 than `max(floor, spreadFactor × the spread of its repeats)`.
public struct NginxVerdict: Sendable, Equatable {
    /// The measure a verdict rests on.
    public enum Measure: String, Sendable, Equatable {
        /// Requests per second (`ratio_vs_nginx`).
        case throughput = "req/s"
        /// Server CPU time per request (`cpu_ratio_vs_nginx`).
        case cpu = "CPU/request"
    }

    /// Where the counter stands.
    public enum Standing: String, Sendable, Equatable {
        /// Better than nginx beyond the band (more req/s, or less CPU per request).
        case ahead = "ahead of"
        /// Within the band.
        case onPar = "on par with"
        /// Worse than nginx beyond the band.
        case behind = "behind"
    }

    /// The series judged (a scenario driven by a tool against counter-service).
    public var key: BenchRow.SeriesKey
    /// The measure.
    public var measure: Measure
    /// The median ratio to nginx (counter ÷ nginx) over the passing repeats.
    public var ratio: Double
    /// The band, as a fraction.
    public var band: Double
    /// How many repeats.
    public var runs: Int
    /// The standing.
    public var standing: Standing

    /// One line: the series, the standing, the ratio and the measure it rests on.
    public var sentence: String {
        let figure =
            measure == .throughput
            ? "\(ToolOutput.format(ratio, digits: 3))× nginx's req/s"
            : "\(ToolOutput.format(ratio, digits: 3))× nginx's CPU per request"
        let basis =
            measure == .throughput
            ? "rests on req/s: wall-clock, swings with the machine's load"
            : "rests on CPU time per request: stable under load"
        return "\(key.scenario) (\(key.tool)): \(standing.rawValue) nginx on \(measure.rawValue) — \(figure) "
            + "(±\(ToolOutput.format(band * 100, digits: 1)) %, \(runs) run(s)); \(basis)"
    }

    /// The verdicts of a set of rows: per series against counter-service whose passing rows carry a ratio to nginx,
    /// one on req/s and one on CPU per request. Constant-rate runs are left out: their req/s is the rate asked for,
    /// and their CPU per request, at half load, is not comparable with nginx's under full load.
    ///
    /// - Parameters:
    ///   - rows: the rows of one commit.
    ///   - throughputFloor: the band's floor for req/s (default 10 %).
    ///   - cpuFloor: the band's floor for CPU per request (default 5 %).
    ///   - spreadFactor: how many times the repeats' spread the band is at least (default 2).
    /// - Returns: the verdicts, by series, req/s first.
    public static func verdicts(
        rows: [BenchRow], throughputFloor: Double = 0.10, cpuFloor: Double = 0.05, spreadFactor: Double = 2
    ) -> [NginxVerdict] {
        let serving = rows.filter { $0.target == "counter-service" && $0.passed }
        var out: [NginxVerdict] = []
        for (key, group) in Dictionary(grouping: serving, by: \.seriesKey).sorted(by: { $0.key < $1.key }) {
            if group.contains(where: { ($0.number("rate") ?? 0) > 0 }) { continue }
            let measures: [(Measure, String, Double, Bool)] = [
                (.throughput, "ratio_vs_nginx", throughputFloor, true), (.cpu, "cpu_ratio_vs_nginx", cpuFloor, false),
            ]
            for (measure, column, floor, higherIsBetter) in measures {
                let ratios = group.compactMap { $0.number(column) }
                guard let ratio = BenchStatistics.median(ratios) else { continue }
                let band = max(floor, spreadFactor * BenchStatistics.relativeSpread(ratios))
                let better = higherIsBetter ? ratio - 1 : 1 - ratio
                let standing: Standing = better > band ? .ahead : better < -band ? .behind : .onPar
                out.append(
                    NginxVerdict(
                        key: key, measure: measure, ratio: ratio, band: band, runs: ratios.count, standing: standing))
            }
        }
        return out
    }
}
