import Foundation

/// One row of a results file: one run of one scenario by one tool against one target. The one row schema of every
/// results file: `loadgen --results FILE.csv` writes it, `make bench` appends it to `results/bench.csv`, and
/// `loadgen compare` and `loadgen report` read it.
///
/// The columns are loadgen's run columns (``loadgenColumns``) followed by the bench columns (``benchColumns``): which
/// tool drove the load, which server took it, the ratios to the anchors measured in the same bench run, and the run's
/// status (`PASS`, or `FAILED: ` followed by the reasons).
///
/// Files are read and written by column name (the file's header), never by position, so a column can be added
/// (append it to ``columns``; e.g. CPU time or instructions per request) without breaking the rows already written:
/// an older row reads the new column as empty, and appending a row with the new column to an older file rewrites
/// the file once with the wider header (``BenchHistory/append(_:to:)``). A column this version does not know is
/// kept (read, compared by nobody, written back), so rewriting a file written by a newer version loses nothing.
public struct BenchRow: Sendable, Equatable {
    /// loadgen's run columns, in file order.
    public static let loadgenColumns: [String] = [
        "time_utc", "commit", "host_cores", "cpu_model", "scenario", "n", "c", "rate", "method", "url_path",
        "body_bytes", "duration_s", "requests", "errors", "non_2xx", "rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
        "max_ms", "cp50_ms", "cp90_ms", "cp99_ms", "cp999_ms", "cmax_ms", "behind_schedule", "heap_before",
        "heap_after", "rss_before", "rss_after", "verify", "loadgen_version",
    ]

    /// The columns that say what was measured and whether the run counts, after loadgen's.
    public static let benchColumns: [String] = ["tool", "target", "ratio_vs_nginx", "ratio_vs_wrk", "status"]

    /// The measures that barely move with the machine's load, appended after the bench columns:
    ///
    /// - `server_cpu_s`: user + system CPU seconds of every serving process over the run (the process tree of the
    ///   target: counter-service with its nats-server child, nginx's master and worker), from `/proc/<pid>/stat`;
    /// - `cpu_us_per_req`: `server_cpu_s` in µs ÷ `requests`;
    /// - `cpu_ratio_vs_nginx`: `cpu_us_per_req` ÷ the median of the same tool's hot-key runs against nginx in the
    ///   same bench run (lower is better);
    /// - `instructions_per_req`: user-space instructions per request counted by callgrind
    ///   (`results/instructions.csv`, `make bench-instructions`);
    /// - `instructions_ratio_vs_nginx`: `instructions_per_req` ÷ nginx's in the same callgrind run.
    public static let costColumns: [String] = [
        "server_cpu_s", "cpu_us_per_req", "cpu_ratio_vs_nginx", "instructions_per_req", "instructions_ratio_vs_nginx",
    ]

    /// Every known column, in file order. New columns are only ever appended.
    public static let columns: [String] = loadgenColumns + benchColumns + costColumns

    /// The header line of a new results file.
    public static var header: String { BenchCSV.line(columns) }

    private static let known = Set(columns)

    /// Column name → value; an empty value is not stored, so that "empty" and "absent" are the same row.
    private var values: [String: String]

    /// An empty row.
    public init() {
        values = [:]
    }

    /// A row from named values; missing columns stay empty.
    ///
    /// - Parameter values: column name → value.
    public init(_ values: [String: String]) {
        self.values = values.filter { !$0.value.isEmpty }
    }

    /// A row from a CSV record and the header it came with (columns are matched by name, in any order), migrated to
    /// the current rules:
    ///
    /// - a file without a `tool` column was written by loadgen before the schema was merged: its rows are loadgen's
    ///   (`tool` = `loadgen`);
    /// - the commit's dirty marker is written as ``CommitName/dirtySuffix`` (`+dirty` of old loadgen rows becomes
    ///   `-dirty`).
    ///
    /// - Parameters:
    ///   - record: the fields.
    ///   - header: the column names of `record`.
    public init(record: [String], header: [String]) {
        self.init()
        for (position, name) in header.enumerated() where position < record.count {
            self[name] = record[position]
        }
        if !header.contains("tool") { self["tool"] = "loadgen" }
        if !commit.isEmpty { self["commit"] = CommitName(commit).description }
    }

    /// The value of a column; the empty string for an empty or unknown column.
    public subscript(_ column: String) -> String {
        get { values[column] ?? "" }
        set { values[column] = newValue.isEmpty ? nil : newValue }
    }

    /// The value of a column as a number, or `nil` when it is empty or not a finite number.
    ///
    /// - Parameter column: the column name.
    /// - Returns: the parsed value.
    public func number(_ column: String) -> Double? {
        let text = self[column].trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// The columns with a value that are not in ``columns`` (written by a newer version), sorted.
    public var unknownColumns: [String] {
        values.keys.filter { !Self.known.contains($0) }.sorted()
    }

    /// The row as a CSV line (no line break) in the order of `columns`.
    ///
    /// - Parameter columns: the file's header (default: ``columns``).
    /// - Returns: the line.
    public func csvLine(columns: [String] = BenchRow.columns) -> String {
        BenchCSV.line(columns.map { self[$0] })
    }
}

extension BenchRow {
    /// The scenario name (`hot-key`, `spread`, …).
    public var scenario: String { self["scenario"] }
    /// The commit the run measured, as written (``CommitName`` reads it).
    public var commit: String { self["commit"] }
    /// The tool that drove the load (`loadgen`, `wrk`, `hey`).
    public var tool: String { self["tool"] }
    /// The server that took the load (`counter-service`, `nginx`; empty in a row of `loadgen --results`).
    public var target: String { self["target"] }
    /// Requests per second, when measured.
    public var rps: Double? { number("rps") }
    /// Server CPU time (user + system) per request in µs, when measured.
    public var cpuPerRequest: Double? { number("cpu_us_per_req") }
    /// User-space instructions per request (callgrind), when measured.
    public var instructionsPerRequest: Double? { number("instructions_per_req") }
    /// `PASS`, or `FAILED: ` followed by the reasons; empty when nobody judged the run.
    public var status: String { self["status"] }
    /// Whether the run counts as a measurement: its status is `PASS`, or, when it has no status, it had no errors,
    /// no non-2xx response and no failed verification (``failureReasons``).
    public var passed: Bool { status.isEmpty ? failureReasons.isEmpty : status == "PASS" }
    /// The key grouping repeats of the same measurement: scenario, tool, target.
    public var seriesKey: SeriesKey { SeriesKey(scenario: scenario, tool: tool, target: target) }

    /// Why the run's own numbers fail it: transport errors, non-2xx responses, a failed verification. (The bench
    /// adds what only it knows: the tool's exit code, a dead server, a growing soak; ``BenchRunAssembler``.)
    public var failureReasons: [String] {
        var reasons: [String] = []
        if let errors = number("errors"), errors > 0 { reasons.append("errors \(Int(errors))") }
        if let non2xx = number("non_2xx"), non2xx > 0 { reasons.append("non-2xx \(Int(non2xx))") }
        if Self.verification(self["verify"]) == .failed { reasons.append("verify \(self["verify"])") }
        return reasons
    }

    /// The status a judge writes: `PASS`, or `FAILED: ` and the reasons joined by `; `.
    ///
    /// - Parameter reasons: why the run failed (none: it passed).
    /// - Returns: the status text.
    public static func status(reasons: [String]) -> String {
        reasons.isEmpty ? "PASS" : "FAILED: " + reasons.joined(separator: "; ")
    }

    /// What a `verify` value says.
    public enum Verification: Sendable, Equatable {
        /// Nothing was verified (empty, `-`, `n/a`, `skipped`, `off`).
        case notVerified
        /// The check passed (`PASS…`, `OK…`, `true`).
        case passed
        /// Anything else: the check failed.
        case failed
    }

    /// Reads a `verify` value.
    ///
    /// - Parameter value: the column's text.
    /// - Returns: its meaning.
    public static func verification(_ value: String) -> Verification {
        let text = value.trimmingCharacters(in: .whitespaces).lowercased()
        if ["", "-", "n/a", "na", "none", "skipped", "skip", "off"].contains(text) { return .notVerified }
        if text.hasPrefix("pass") || text.hasPrefix("ok") || text == "true" { return .passed }
        return .failed
    }

    /// What a bench row measures: a scenario driven by a tool against a target. Repeats share the key.
    public struct SeriesKey: Hashable, Sendable, Comparable, CustomStringConvertible {
        /// The scenario name.
        public var scenario: String
        /// The tool that drove the load.
        public var tool: String
        /// The server that took the load.
        public var target: String

        /// A key.
        ///
        /// - Parameters:
        ///   - scenario: the scenario name.
        ///   - tool: the tool that drove the load.
        ///   - target: the server that took the load.
        public init(scenario: String, tool: String, target: String) {
            self.scenario = scenario
            self.tool = tool
            self.target = target
        }

        /// `scenario (tool → target)`, or just the scenario for loadgen against counter-service or an unnamed target.
        public var description: String {
            tool == "loadgen" && (target == "counter-service" || target.isEmpty)
                ? scenario : "\(scenario) (\(tool) → \(target))"
        }

        public static func < (lhs: SeriesKey, rhs: SeriesKey) -> Bool {
            (lhs.scenario, lhs.tool, lhs.target) < (rhs.scenario, rhs.tool, rhs.target)
        }
    }
}
