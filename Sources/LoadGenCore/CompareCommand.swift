import ArgumentParser

/// `loadgen compare OLD.csv NEW.csv` or `loadgen compare FILE.csv --base COMMIT --head COMMIT`.
public struct CompareCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare results rows per scenario: req/s, p50, p99, heap; exit 1 on a regression.",
        discussion: """
            Each side's value is the median of its repeats. The noise threshold is max(5%, 2 x relative spread of \
            the repeats) when there are repeats, else --threshold (default 10%). Rows whose n, c, rate or URL path \
            differ are not compared. Exit status: 0 no regression, 1 a regression, 2 nothing comparable.
            """,
        helpNames: [.long, .short])

    @Argument(help: "Results CSV files: OLD NEW, or one file with --base and --head.")
    var files: [String] = []

    @Option(name: .customLong("base"), help: "Baseline commit (with one file).")
    var base: String?

    @Option(name: .customLong("head"), help: "Candidate commit (with one file).")
    var head: String?

    @Option(name: .customLong("threshold"), help: "Relative noise threshold without repeats (default 0.10).")
    var threshold: Double = 0.10

    public init() {}

    public mutating func run() async throws {
        let (old, new) = try selectRows()
        let results = Comparison(defaultThreshold: threshold).compare(old: old, new: new)
        print(Comparison.render(results), terminator: "")
        let code = Comparison.exitCode(results)
        if code != 0 { throw ExitCode(code) }
    }

    /// The two sides, from two files or from one file and two commits.
    /// - Returns: old and new rows.
    /// - Throws: `ValidationError` for a wrong combination of arguments.
    func selectRows() throws -> ([ResultsRow], [ResultsRow]) {
        switch (files.count, base, head) {
        case (2, nil, nil):
            return (try ResultsRow.read(from: files[0]), try ResultsRow.read(from: files[1]))
        case (1, let base?, let head?):
            let rows = try ResultsRow.read(from: files[0])
            let old = Comparison.rows(rows, commit: base)
            let new = Comparison.rows(rows, commit: head)
            if old.isEmpty { throw ValidationError("no rows for commit \(base) in \(files[0])") }
            if new.isEmpty { throw ValidationError("no rows for commit \(head) in \(files[0])") }
            return (old, new)
        default:
            throw ValidationError("give two files (OLD NEW), or one file with --base COMMIT --head COMMIT")
        }
    }
}
