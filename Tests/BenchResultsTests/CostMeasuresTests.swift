import BenchResults
import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import Testing

/// CPU time and instructions per request: their own bands in the comparison, the verdicts against nginx that name
/// their measure, and the report's charts.
@Suite("CPU and instructions per request: compare bands, verdicts against nginx, report charts")
struct CostMeasuresTests {
    /// A bench row of a hot-key run.
    static func row(
        commit: String, tool: String = "wrk", target: String = "counter-service", rps: Double? = nil,
        cpu: Double? = nil, ratio: Double? = nil, cpuRatio: Double? = nil
    ) -> BenchRow {
        var values = [
            "commit": commit, "scenario": "hot-key", "tool": tool, "target": target, "c": "200", "n": "100000",
            "requests": "100000", "status": "PASS",
        ]
        values["rps"] = rps.map { String($0) }
        values["cpu_us_per_req"] = cpu.map { String($0) }
        values["ratio_vs_nginx"] = ratio.map { String($0) }
        values["cpu_ratio_vs_nginx"] = cpuRatio.map { String($0) }
        return BenchRow(values)
    }

    /// A callgrind row as `scripts/bench-instructions.sh` writes it.
    static func instructions(commit: String, target: String, perRequest: Double) -> BenchRow {
        BenchRow([
            "commit": commit, "scenario": "instructions", "tool": "callgrind", "target": target, "n": "20000",
            "c": "8", "requests": "20000", "instructions_per_req": String(perRequest), "status": "PASS",
        ])
    }

    static func cpuDelta(base: [Double], head: [Double]) throws -> BenchComparison.Delta {
        let comparison = BenchComparison(
            base: base.map { row(commit: "a", rps: 100_000, cpu: $0) },
            head: head.map { row(commit: "b", rps: 100_000, cpu: $0) }, baseName: "a", headName: "b")
        return try #require(comparison.lines.first?.cpu)
    }

    @Test("CPU per request: lower is better, judged with a 5 % floor and the spread of the repeats")
    func cpuBand() throws {
        let unchanged = try Self.cpuDelta(base: [9.0, 9.0, 9.0], head: [9.3, 9.3, 9.3])  // +3.3 %
        #expect(unchanged.verdict == .unchanged && abs(unchanged.band - 0.05) < 1e-9)
        let regressed = try Self.cpuDelta(base: [9.0, 9.0, 9.0], head: [9.9, 9.9, 9.9])  // +10 %
        #expect(regressed.verdict == .regressed)
        let improved = try Self.cpuDelta(base: [9.0, 9.0, 9.0], head: [8.0, 8.0, 8.0])  // −11 %
        #expect(improved.verdict == .improved)
        // Repeats 8.55–9.45 µs spread 10 % → band 20 %: +10 % is noise.
        let noisy = try Self.cpuDelta(base: [8.55, 9.0, 9.45], head: [9.9, 9.9, 9.9])
        #expect(noisy.verdict == .unchanged && abs(noisy.band - 0.2) < 1e-9)
    }

    @Test("instructions per request: more than 2 % more is a regression; the callgrind file compares by commit")
    func instructionsBand() throws {
        let history = BenchHistory(rows: [
            Self.instructions(commit: "aaaa1111", target: "counter", perRequest: 14_910),
            Self.instructions(commit: "aaaa1111", target: "nginx", perRequest: 10_832),
            Self.instructions(commit: "aaaa1111", target: "nats-node", perRequest: 35_540),
            Self.instructions(commit: "bbbb2222", target: "counter", perRequest: 15_250),  // +2.3 %
            Self.instructions(commit: "bbbb2222", target: "nginx", perRequest: 10_832),
            Self.instructions(commit: "bbbb2222", target: "nats-node", perRequest: 35_100),  // −1.2 %
        ])
        let comparison = try BenchComparison(history: history)
        #expect(comparison.base == "aaaa1111" && comparison.head == "bbbb2222")
        let verdicts = Dictionary(uniqueKeysWithValues: comparison.lines.map { ($0.key.target, $0.verdict) })
        #expect(verdicts == ["counter": .regressed, "nginx": .unchanged, "nats-node": .unchanged])
        let counter = try #require(comparison.lines.first { $0.key.target == "counter" }?.instructions)
        #expect(abs(counter.band - 0.02) < 1e-9)
        #expect(comparison.lines.allSatisfy { $0.deltas.map(\.metric) == ["instructions_per_req"] })
        #expect(comparison.exitCode == 1)
        #expect(comparison.table.contains("instructions_per_req  14910  15250  +2.3%  2.0%"))
    }

    @Test("verdicts against nginx rest on req/s and on CPU per request, and say which")
    func verdictsNameTheirMeasure() throws {
        let rows = [
            Self.row(commit: "c", rps: 80_000, cpu: 9.0, ratio: 0.80, cpuRatio: 1.16),
            Self.row(commit: "c", rps: 90_000, cpu: 8.9, ratio: 0.90, cpuRatio: 1.15),
            Self.row(commit: "c", rps: 100_000, cpu: 9.0, ratio: 1.00, cpuRatio: 1.16),
            Self.row(commit: "c", target: "nginx", rps: 100_000, cpu: 7.8),
        ]
        let verdicts = NginxVerdict.verdicts(rows: rows)
        #expect(verdicts.map(\.measure) == [.throughput, .cpu])
        // A constant-rate series (req/s = the rate asked for, CPU at half load) is not judged against nginx.
        var rate = Self.row(commit: "c", rps: 40_000, cpu: 12, ratio: 0.4, cpuRatio: 1.5)
        rate["scenario"] = "rate"
        rate["rate"] = "40000"
        #expect(NginxVerdict.verdicts(rows: rows + [rate]) == verdicts)
        // req/s ratios 0.8–1.0 spread 22 % → band 44 %: on par, however the median reads.
        #expect(verdicts[0].standing == .onPar && abs(verdicts[0].ratio - 0.9) < 1e-9)
        // CPU ratios 1.15–1.16 spread < 1 % → band 5 %: 16 % more CPU per request is behind.
        #expect(verdicts[1].standing == .behind && abs(verdicts[1].ratio - 1.16) < 1e-9)
        #expect(verdicts[0].sentence.contains("on par with nginx on req/s"))
        #expect(verdicts[0].sentence.contains("rests on req/s"))
        #expect(verdicts[1].sentence.contains("behind nginx on CPU/request — 1.160× nginx's CPU per request"))
        #expect(verdicts[1].sentence.contains("rests on CPU time per request"))

        let summary = BenchSummary(rows: rows)
        #expect(summary.verdicts == verdicts)
        #expect(summary.table.contains("counter-service vs nginx"))
        #expect(summary.lines[0].cpuPerRequest == 9.0 && summary.lines[0].cpuRatioVsNginx == 1.16)

        let comparison = BenchComparison(base: rows, head: rows, baseName: "c", headName: "c")
        #expect(comparison.headVerdicts == verdicts)
        #expect(comparison.table.contains("counter-service vs nginx at the head (c):"))
        #expect(comparison.table.contains(verdicts[1].sentence))
    }

    @Test("the report charts CPU per request beside req/s, and instructions per request from the callgrind rows")
    func reportCharts() throws {
        let results = BenchHistory(rows: [
            BenchRow([
                "commit": "aaaa1111", "scenario": "hot-key", "tool": "loadgen", "target": "counter-service",
                "c": "200", "n": "10000", "requests": "10000", "rps": "50000", "cpu_us_per_req": "9.1",
                "status": "PASS",
            ]),
            BenchRow([
                "commit": "aaaa1111", "scenario": "hot-key", "tool": "loadgen", "target": "nginx", "c": "200",
                "n": "10000", "requests": "10000", "rps": "60000", "cpu_us_per_req": "7.7", "status": "PASS",
            ]),
        ])
        let callgrind = BenchHistory(rows: [
            Self.instructions(commit: "aaaa1111", target: "counter", perRequest: 14_910),
            Self.instructions(commit: "aaaa1111", target: "nginx", perRequest: 10_832),
        ])
        let charts = ReportRenderer(results: results, instructions: callgrind).charts()
        let headings = charts.map(\.heading)
        #expect(
            headings.prefix(3).elementsEqual([
                "Throughput per scenario across commits",
                "CPU time per request across commits (stable under machine load)",
                "Instructions per request across commits (callgrind, deterministic)",
            ]))
        #expect(charts[1].svg.contains("hot-key · aaaa1111: 9.1"))
        #expect(charts[1].svg.contains("nginx (hot-key) · aaaa1111: 7.7"))
        #expect(charts[2].svg.contains("counter · aaaa1111: 14.91k"))
        for (_, svg) in charts { #expect(throws: Never.self) { try XMLDocument(xmlString: svg) } }
        let withoutCallgrind = ReportRenderer(results: results).charts().map(\.heading)
        #expect(!withoutCallgrind.contains { $0.hasPrefix("Instructions") })
    }
}
