/// Renders `results/report.html` from a results file: one self-contained page (inline CSS and SVG, no script, no
/// network) with req/s, the server's CPU time per request and p99 per scenario across commits, instructions per
/// request across commits (from `results/instructions.csv`), the anchor ratios, the latency percentile spectrum of
/// the latest commit, heap per scenario, and the latest summary table with its verdicts against nginx.
public struct ReportRenderer: Sendable {
    /// The results to show.
    public var results: BenchHistory
    /// The callgrind rows (`results/instructions.csv`), when there are any.
    public var instructions: BenchHistory?
    /// Where they came from (shown on the page).
    public var source: String
    /// How many of the latest commits the across-commit charts show.
    public var commitLimit: Int

    /// A renderer.
    ///
    /// - Parameters:
    ///   - results: the rows.
    ///   - source: the file name shown on the page.
    ///   - commitLimit: how many of the latest commits to chart (default 20).
    ///   - instructions: the callgrind rows (default none: no instructions chart).
    public init(
        results: BenchHistory, source: String = "results/bench.csv", commitLimit: Int = 20,
        instructions: BenchHistory? = nil
    ) {
        self.results = results
        self.instructions = instructions
        self.source = source
        self.commitLimit = commitLimit
    }

    /// The scenarios loadgen ran against counter-service, in the order they first appear.
    var scenarios: [String] {
        var seen: Set<String> = []
        return results.rows.filter { $0.tool == "loadgen" && $0.target == "counter-service" }
            .compactMap { seen.insert($0.scenario).inserted ? $0.scenario : nil }
    }

    /// The median of a column over the passing loadgen → counter-service rows of a commit and scenario.
    ///
    /// Only runs of the size the latest commit ran the scenario with count (``BenchComparison/size(of:)``), so that a
    /// `QUICK=1` commit and a full one do not share a line; other commits show a gap.
    func median(_ column: String, commit: String, scenario: String, target: String = "counter-service") -> Double? {
        let size = latestSize[scenario]
        return BenchStatistics.median(
            results.rows(of: commit).filter {
                $0.scenario == scenario && $0.tool == "loadgen" && $0.target == target && $0.passed
                    && (target != "counter-service" || size == nil || BenchComparison.size(of: $0) == size)
            }.compactMap { $0.number(column) })
    }

    /// Per scenario, the run size of its latest loadgen → counter-service row.
    var latestSize: [String: String] {
        var sizes: [String: String] = [:]
        for row in results.rows where row.tool == "loadgen" && row.target == "counter-service" {
            sizes[row.scenario] = BenchComparison.size(of: row)
        }
        return sizes
    }

    /// The charts, in page order, each as an `<svg>` element with its heading.
    public func charts() -> [(heading: String, svg: String)] {
        let commits = Array(results.commits.suffix(commitLimit))
        let latest = commits.last ?? ""
        let labels = commits.map { commit in
            let name = CommitName(commit)
            return String(name.hash.prefix(12)) + (name.isDirty ? CommitName.dirtySuffix : "")
        }
        func acrossCommits(_ column: String) -> [Chart.Series] {
            scenarios.map { scenario in
                Chart.Series(name: scenario, values: commits.map { median(column, commit: $0, scenario: scenario) })
            }
        }
        func trend(_ title: String, yLabel: String, column: String, logarithmic: Bool = false) -> String {
            var chart = Chart(
                title: title, yLabel: yLabel, categories: labels, series: acrossCommits(column),
                logarithmic: logarithmic)
            chart.connectGaps = true
            return chart.svg()
        }
        var out: [(String, String)] = []
        out.append(
            (
                "Throughput per scenario across commits",
                trend(
                    "req/s (median of repeats, loadgen → counter-service, runs of the latest size)", yLabel: "req/s",
                    column: "rps")
            ))
        var cpuSeries = acrossCommits("cpu_us_per_req")
        cpuSeries.append(
            Chart.Series(
                name: "nginx (hot-key)",
                values: commits.map { median("cpu_us_per_req", commit: $0, scenario: "hot-key", target: "nginx") }))
        var cpuChart = Chart(
            title: "server CPU µs/request, user + system of all serving processes (median, loadgen)",
            yLabel: "µs/request", categories: labels, series: cpuSeries.filter { $0.values.contains { $0 != nil } },
            logarithmic: true)
        cpuChart.connectGaps = true
        out.append(("CPU time per request across commits (stable under machine load)", cpuChart.svg()))
        if let instructionsChart = instructionsChart() {
            out.append(("Instructions per request across commits (callgrind, deterministic)", instructionsChart))
        }
        out.append(
            (
                "Tail latency per scenario across commits",
                trend("p99 latency (median of repeats)", yLabel: "ms", column: "p99_ms", logarithmic: true)
            ))
        out.append(
            (
                "Anchor ratio across commits",
                trend(
                    "req/s ÷ nginx req/s (same tool, same run) — comparable across machines", yLabel: "ratio",
                    column: "ratio_vs_nginx")
            ))

        let percentiles = [("p50", "50"), ("p90", "90"), ("p99", "99"), ("p99.9", "999"), ("max", "max")]
        var spectrum: [Chart.Series] = scenarios.map { scenario in
            Chart.Series(
                name: scenario,
                values: percentiles.map {
                    median($0.1 == "max" ? "max_ms" : "p\($0.1)_ms", commit: latest, scenario: scenario)
                })
        }
        for scenario in scenarios {
            let corrected = percentiles.map {
                median($0.1 == "max" ? "cmax_ms" : "cp\($0.1)_ms", commit: latest, scenario: scenario)
            }
            if corrected.contains(where: { $0 != nil }) {
                spectrum.append(Chart.Series(name: "\(scenario) (corrected)", values: corrected))
            }
        }
        out.append(
            (
                "Latency spectrum of the latest commit",
                Chart(
                    title: "latency percentiles, \(latest.prefix(12)) (median of repeats)", yLabel: "ms",
                    categories: percentiles.map(\.0), series: spectrum, logarithmic: true
                ).svg()
            ))

        let mebibyte = 1_048_576.0
        let memory = [("heap before", "heap_before"), ("heap after", "heap_after"), ("RSS after", "rss_after")].map {
            name, column in
            Chart.Series(
                name: name,
                values: scenarios.map { median(column, commit: latest, scenario: $0).map { $0 / mebibyte } })
        }
        out.append(
            (
                "Heap per scenario (latest commit)",
                Chart(
                    title: "counter-service memory around each run, \(latest.prefix(12))", yLabel: "MiB",
                    categories: scenarios, series: memory, style: .bars
                ).svg()
            ))

        let summary = BenchSummary(rows: results.rows(of: latest))
        let ratioLines = summary.lines.filter { $0.ratioVsNginx != nil || $0.ratioVsWrk != nil }
        out.append(
            (
                "Anchor ratios (latest commit)",
                Chart(
                    title: "ratios to the anchors measured in the same run, \(latest.prefix(12))", yLabel: "ratio",
                    categories: ratioLines.map {
                        "\($0.key.scenario) \($0.key.tool)→\($0.key.target == "nginx" ? "nginx" : "svc")"
                    },
                    series: [
                        Chart.Series(name: "÷ nginx (same tool)", values: ratioLines.map(\.ratioVsNginx)),
                        Chart.Series(name: "÷ wrk (same target)", values: ratioLines.map(\.ratioVsWrk)),
                    ],
                    style: .bars, reference: 1
                ).svg()
            ))
        return out
    }

    /// Instructions per request per target across the commits of the callgrind rows, or `nil` without rows.
    func instructionsChart() -> String? {
        guard let instructions, !instructions.rows.isEmpty else { return nil }
        let commits = Array(instructions.commits.suffix(commitLimit))
        var targets: [String] = []
        for row in instructions.rows where !targets.contains(row.target) { targets.append(row.target) }
        let series = targets.map { target in
            Chart.Series(
                name: target,
                values: commits.map { commit in
                    BenchStatistics.median(
                        instructions.rows(of: commit).filter { $0.target == target && $0.passed }
                            .compactMap(\.instructionsPerRequest))
                })
        }
        var chart = Chart(
            title: "user-space instructions per request (callgrind, make bench-instructions)",
            yLabel: "instructions/request",
            categories: commits.map { commit in
                let name = CommitName(commit)
                return String(name.hash.prefix(12)) + (name.isDirty ? CommitName.dirtySuffix : "")
            }, series: series)
        chart.connectGaps = true
        return chart.svg()
    }

    /// Renders the page.
    ///
    /// - Parameter generated: the generation time shown on the page (passed in so output is reproducible).
    /// - Returns: the HTML document.
    public func html(generated: String) -> String {
        let commits = results.commits
        let latest = commits.last ?? "(none)"
        let latestRows = results.rows(of: latest)
        let machine = latestRows.first.map { "\($0["host_cores"]) cores, \($0["cpu_model"])" } ?? "-"
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>swift-clstr bench report</title>
            <style>
            body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}
            h1{font-size:22px;margin-bottom:4px} h2{font-size:16px;margin:28px 0 6px}
            p.meta{color:#555;font-size:13px;margin:2px 0}
            table{border-collapse:collapse;font-size:12px;margin-top:6px}
            th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
            th{background:#f3f3f3} td.l,th.l{text-align:left}
            tr.failed td{background:#fde2e2;color:#900} td.pass{color:#070;font-weight:bold}
            svg{display:block;margin:4px 0 8px;border:1px solid #eee}
            ul.verdicts{font-size:13px;margin:4px 0 0 0;padding-left:20px}
            </style></head><body>
            <h1>swift-clstr bench report</h1>

            """
        page += "<p class=\"meta\">source: \(SVGWriter.escape(source)) · \(results.rows.count) rows · "
        page += "\(commits.count) commit(s) · generated \(SVGWriter.escape(generated))</p>\n"
        page += "<p class=\"meta\">latest commit: <b>\(SVGWriter.escape(latest))</b> · machine: "
        page += "\(SVGWriter.escape(machine))</p>\n"
        page += "<p class=\"meta\">Machines here are shared and noisy: compare the ratios to the anchors and medians "
        page += "of repeats, not single absolute numbers.</p>\n"
        page += "<h2>Summary of the latest commit (medians of repeats)</h2>\n"
        page += summaryTable(BenchSummary(rows: latestRows))
        for (heading, svg) in charts() {
            page += "<h2>\(SVGWriter.escape(heading))</h2>\n" + svg + "\n"
        }
        page += "</body></html>\n"
        return page
    }

    private func summaryTable(_ summary: BenchSummary) -> String {
        func cell(_ value: Double?, _ digits: Int) -> String {
            "<td>\(value.map { ToolOutput.format($0, digits: digits) } ?? "-")</td>"
        }
        var out = "<table><tr><th class=\"l\">scenario</th><th class=\"l\">tool</th><th class=\"l\">target</th>"
        out += "<th>runs</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>cp99 ms</th>"
        out += "<th>heap Δ MiB</th><th>÷nginx</th><th>÷wrk</th><th>CPU µs/req</th><th>CPU ÷nginx</th>"
        out += "<th class=\"l\">verify</th><th class=\"l\">status</th></tr>\n"
        for line in summary.lines {
            out += line.failed > 0 ? "<tr class=\"failed\">" : "<tr>"
            out +=
                "<td class=\"l\">\(SVGWriter.escape(line.key.scenario))</td><td class=\"l\">\(SVGWriter.escape(line.key.tool))</td>"
            out += "<td class=\"l\">\(SVGWriter.escape(line.key.target))</td><td>\(line.runs)</td>"
            out += cell(line.rps, 0) + cell(line.p50, 2) + cell(line.p99, 2) + cell(line.p999, 2)
            out += cell(line.correctedP99, 2) + cell(line.heapGrowth.map { $0 / 1_048_576 }, 1)
            out += cell(line.ratioVsNginx, 3) + cell(line.ratioVsWrk, 3)
            out += cell(line.cpuPerRequest, 2) + cell(line.cpuRatioVsNginx, 3)
            out += "<td class=\"l\">\(SVGWriter.escape(line.verify))</td>"
            let status = line.failed > 0 ? "\(line.status): \(line.reasons.joined(separator: " | "))" : line.status
            out += "<td class=\"l\(line.failed == 0 ? " pass" : "")\">\(SVGWriter.escape(status))</td></tr>\n"
        }
        out += "</table>\n"
        if !summary.verdicts.isEmpty {
            out += "<p class=\"meta\"><b>counter-service vs nginx</b> (each verdict names the measure it rests on):</p>"
            out += "<ul class=\"verdicts\">\n"
            for verdict in summary.verdicts { out += "<li>\(SVGWriter.escape(verdict.sentence))</li>\n" }
            out += "</ul>\n"
        }
        return out
    }
}
