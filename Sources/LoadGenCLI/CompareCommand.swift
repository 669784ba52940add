import ArgumentParser
import BenchResults

/// `loadgen compare`: the one comparison of results rows (``BenchComparison``), behind `make compare` too.
///
/// - `loadgen compare` / `loadgen compare FILE.csv`: the latest commit in the file (default `results/bench.csv`)
///   against the latest earlier commit with runs of the same size; `--base` / `--head` name other commits.
/// - `loadgen compare OLD.csv NEW.csv`: every row of OLD against every row of NEW (`--base` / `--head` pick a commit
///   in OLD / NEW).
public struct CompareCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare results rows per scenario, tool and target; exit 1 on a regression beyond the noise band.",
        discussion: """
            Rows are loadgen --results rows, results/bench.csv or results/instructions.csv rows (one schema). Each \
            side's value per metric (throughput: ratio_vs_nginx or req/s; p50; p99, or cp99 for --rate runs; \
            heap_after; cpu_us_per_req; instructions_per_req) is the median of its passing repeats. A metric moved \
            only when its change exceeds max(floor, 2 x the run-to-run spread (max - min)/median of either side); \
            the floors are 10% throughput, 25% latency, 25% memory, 5% CPU per request, 2% instructions per \
            request. After the table, counter-service is judged against nginx on req/s and on CPU per request, each \
            verdict naming the measure it rests on. Only runs \
            of the same size (c, and n, rate duration or duration) are compared. Commits match by abbreviation \
            (4+ characters); COMMIT-dirty names only dirty rows (+dirty is read as -dirty). Exit status: 0 no \
            regression, 1 a regression or a failed head run, 2 nothing comparable.
            """,
        helpNames: [.long, .short])

    @Argument(help: "Results CSV files: none (results/bench.csv), FILE, or OLD NEW.")
    var files: [String] = []

    @Option(help: "The base commit (default: the previous commit with runs of the same size).")
    var base: String?

    @Option(help: "The head commit (default: the latest commit with results).")
    var head: String?

    @Option(help: "Minimum noise band for throughput, as a fraction.")
    var throughputBand: Double = 0.10

    @Option(help: "Minimum noise band for latency (p50, p99, cp99), as a fraction.")
    var latencyBand: Double = 0.25

    @Option(help: "Minimum noise band for heap_after, as a fraction.")
    var memoryBand: Double = 0.25

    @Option(help: "Minimum noise band for the server's CPU time per request, as a fraction.")
    var cpuBand: Double = 0.05

    @Option(help: "Minimum noise band for instructions per request (callgrind), as a fraction.")
    var instructionsBand: Double = 0.02

    @Option(help: "Set every minimum band at once, as a fraction.")
    var threshold: Double?

    public init() {}

    public func validate() throws {
        if files.count > 2 {
            throw ValidationError("give no file (results/bench.csv), one file, or two files (OLD NEW)")
        }
    }

    /// The noise rule from the flags.
    var policy: BenchComparison.Policy {
        if let threshold {
            return BenchComparison.Policy(
                throughputFloor: threshold, latencyFloor: threshold, memoryFloor: threshold, cpuFloor: threshold,
                instructionsFloor: threshold)
        }
        return BenchComparison.Policy(
            throughputFloor: throughputBand, latencyFloor: latencyBand, memoryFloor: memoryBand, cpuFloor: cpuBand,
            instructionsFloor: instructionsBand)
    }

    /// The comparison the arguments ask for.
    ///
    /// - Returns: the comparison.
    /// - Throws: `ValidationError` for a wrong combination of arguments, ``BenchResultsError`` when a file cannot
    ///   be read or a commit has no rows.
    public func comparison() throws -> BenchComparison {
        switch files.count {
        case 0, 1:
            let path = files.first ?? "results/bench.csv"
            return try BenchComparison(
                history: BenchHistory(contentsOf: path), base: base, head: head, policy: policy)
        case 2:
            func side(_ path: String, _ commit: String?) throws -> (rows: [BenchRow], name: String) {
                let history = try BenchHistory(contentsOf: path)
                guard let commit else { return (history.rows, path) }
                guard let found = history.commit(named: commit) else {
                    throw BenchResultsError(.noData, "no rows for commit \(commit) in \(path)")
                }
                return (history.rows(of: found), "\(path)@\(found)")
            }
            let old = try side(files[0], base)
            let new = try side(files[1], head)
            return BenchComparison(
                base: old.rows, head: new.rows, baseName: old.name, headName: new.name, policy: policy)
        default:
            throw ValidationError("give no file (results/bench.csv), one file, or two files (OLD NEW)")
        }
    }

    public func run() throws {
        let comparison: BenchComparison
        do {
            comparison = try self.comparison()
        } catch let error as BenchResultsError where error.code == .noData {
            print("compare: nothing to compare: \(error.message)")
            throw ExitCode(2)
        }
        print(comparison.table, terminator: "")
        switch comparison.exitCode {
        case 1: print("compare: REGRESSED beyond the noise band (or a head run failed)")
        case 2: print("compare: nothing comparable")
        default: print("compare: no regression beyond the noise band")
        }
        if comparison.exitCode != 0 { throw ExitCode(comparison.exitCode) }
    }
}
