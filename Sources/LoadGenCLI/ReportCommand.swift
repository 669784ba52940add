import ArgumentParser
import BenchResults
import Foundation

/// `loadgen report …`: the bench tooling behind `make bench` and `make report` (comparing is `loadgen compare`).
///
/// - `ingest`: turns one bench run (a manifest written by `scripts/bench.sh` and the tools' outputs) into judged
///   rows with anchor ratios, appends them to `results/bench.csv`, prints the summary table; exits 1 when a run
///   FAILED.
/// - `html`: renders the self-contained `results/report.html`.
/// - `summary`: prints the summary table of a commit's rows.
/// - `commit`: prints the commit name rows are stamped with (``CommitName/current(in:)``).
public struct ReportCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Bench results: ingest a run, render the HTML report, print a commit's summary.",
        subcommands: [Ingest.self, HTML.self, Summary.self, Commit.self],
        // The root leaves `-h`/`--help` to the load run (hey's flags); here they are help again.
        helpNames: [.long, .short]
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
            try BenchHistory.append(rows, to: results)
            let summary = BenchSummary(rows: rows)
            print(summary.table, terminator: "")
            print("\(rows.count) rows appended to \(results)")
            if !summary.allPassed {
                print("bench: FAILED (see the reasons above)")
                throw ExitCode(1)
            }
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

        @Option(help: "The callgrind rows (make bench-instructions); skipped when the file does not exist.")
        var instructions: String = "results/instructions.csv"

        public init() {}

        public func run() throws {
            let callgrind =
                FileManager.default.fileExists(atPath: instructions)
                ? try BenchHistory(contentsOf: instructions) : nil
            let renderer = ReportRenderer(
                results: try BenchHistory(contentsOf: results), source: results, commitLimit: commits,
                instructions: callgrind)
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
            let all = try BenchHistory(contentsOf: results)
            guard let chosen = commit.map(all.commit(named:)) ?? all.commits.last else {
                throw BenchResultsError(.noData, "no rows for commit \(commit ?? "(latest)") in \(results)")
            }
            print("commit \(chosen)")
            print(BenchSummary(rows: all.rows(of: chosen)).table, terminator: "")
        }
    }

    /// `loadgen report commit`.
    public struct Commit: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Print the commit name results rows are stamped with (hash, -dirty when the tree has changes).")

        public init() {}

        public func run() throws {
            print(CommitName.current())
        }
    }
}
