import ArgumentParser
import Foundation

/// `loadgen report …`: the bench tooling behind `make bench`, `make compare` and `make report`.
///
/// - `ingest`: turns one bench run (a manifest written by `scripts/bench.sh` and the tools' outputs) into judged
///   rows with anchor ratios, appends them to `results/bench.csv`, prints the summary table; exits 1 when a run
///   FAILED.
/// - `compare`: per scenario, the change of the medians between two commits with noise bands and verdicts; exits 1
///   on a regression beyond the band.
/// - `html`: renders the self-contained `results/report.html`.
/// - `summary`: prints the summary table of a commit's rows.
public struct ReportCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Bench results: ingest a run, compare commits, render the HTML report.",
        subcommands: [Ingest.self, Compare.self, HTML.self, Summary.self]
    )

    public init() {}
}

extension ReportCommand {
    /// `loadgen report ingest`.
    public struct Ingest: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Judge one bench run, add anchor ratios, append the rows, print the summary.")

        @Option(help: "The run's manifest (tab-separated; see BenchRunAssembler).")
        var manifest: String

        @Option(help: "The results file to append to.")
        var results: String = "results/bench.csv"

        @Option(help: "The commit measured.")
        var commit: String

        @Option(help: "The run's start time (ISO 8601 UTC).")
        var time: String = ISO8601DateFormatter().string(from: Date())

        @Option(help: "Cores of the machine.")
        var cores: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: "CPU model name.")
        var cpu: String = ""

        public init() {}

        public func run() throws {
            let assembler = BenchRunAssembler(
                stamp: .init(commit: commit, timeUTC: time, hostCores: cores, cpuModel: cpu))
            let rows = try assembler.assemble(manifestPath: manifest)
            try BenchResults.append(rows, to: results)
            let summary = BenchSummary(rows: rows)
            print(summary.table, terminator: "")
            print("\(rows.count) rows appended to \(results)")
            if !summary.allPassed {
                print("bench: FAILED (see the reasons above)")
                throw ExitCode(1)
            }
        }
    }

    /// `loadgen report compare`.
    public struct Compare: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Compare the medians of two commits; exit 1 on a regression beyond the noise band.",
            discussion:
                "Exit status: 0 no regression, 1 a regression (or a failed run in the head), 2 nothing to compare.")

        @Option(help: "The results file.")
        var results: String = "results/bench.csv"

        @Option(help: "The base commit (default: the previous commit with results).")
        var base: String?

        @Option(help: "The head commit (default: the latest commit with results).")
        var head: String?

        @Option(help: "Minimum noise band for throughput, as a fraction.")
        var throughputBand: Double = 0.10

        @Option(help: "Minimum noise band for p99 latency, as a fraction.")
        var latencyBand: Double = 0.25

        public init() {}

        public func run() throws {
            let comparison: BenchComparison
            do throws(BenchReportError) {
                comparison = try BenchComparison(
                    results: try BenchResults(contentsOf: results), base: base, head: head,
                    throughputFloor: throughputBand, latencyFloor: latencyBand)
            } catch {
                guard error.code == .noData else { throw error }
                print("compare: nothing to compare: \(error.message)")
                throw ExitCode(2)
            }
            print(comparison.table, terminator: "")
            if comparison.hasRegression {
                print("compare: REGRESSED beyond the noise band (or failed)")
                throw ExitCode(1)
            }
            print("compare: no regression beyond the noise band")
        }
    }

    /// `loadgen report html`.
    public struct HTML: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "html", abstract: "Render the self-contained HTML report.")

        @Option(help: "The results file.")
        var results: String = "results/bench.csv"

        @Option(help: "The HTML file to write.")
        var output: String = "results/report.html"

        @Option(help: "How many of the latest commits the across-commit charts show.")
        var commits: Int = 20

        public init() {}

        public func run() throws {
            let renderer = ReportRenderer(
                results: try BenchResults(contentsOf: results), source: results, commitLimit: commits)
            let html = renderer.html(generated: ISO8601DateFormatter().string(from: Date()))
            try html.write(toFile: output, atomically: true, encoding: .utf8)
            print("report: wrote \(output)")
        }
    }

    /// `loadgen report summary`.
    public struct Summary: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Print the summary table (medians) of one commit's rows.")

        @Option(help: "The results file.")
        var results: String = "results/bench.csv"

        @Option(help: "The commit (default: the latest with results).")
        var commit: String?

        public init() {}

        public func run() throws {
            let all = try BenchResults(contentsOf: results)
            guard let chosen = commit ?? all.commits.last else {
                throw BenchReportError(.noData, "no rows in \(results)")
            }
            print("commit \(chosen)")
            print(BenchSummary(rows: all.rows(of: chosen)).table, terminator: "")
        }
    }
}
