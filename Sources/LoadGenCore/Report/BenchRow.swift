import Foundation

/// One row of `results/bench.csv`: one run of one scenario by one tool against one target.
///
/// The columns are loadgen's results columns (``loadgenColumns``, in loadgen's order) followed by the bench
/// columns (``benchColumns``): which tool drove the load, which server took it, the ratios to the anchors measured in
/// the same bench run, and the run's status (`PASS`, or `FAILED` followed by the reasons).
public struct BenchRow: Sendable, Equatable {
    /// loadgen's `--results` columns, in its order (its header is stable).
    public static let loadgenColumns: [String] = [
        "time_utc", "commit", "host_cores", "cpu_model", "scenario", "n", "c", "rate", "method", "url_path",
        "body_bytes", "duration_s", "requests", "errors", "non_2xx", "rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
        "max_ms", "cp50_ms", "cp90_ms", "cp99_ms", "cp999_ms", "cmax_ms", "behind_schedule", "heap_before",
        "heap_after", "rss_before", "rss_after", "verify", "loadgen_version",
    ]

    /// The columns the bench adds after loadgen's.
    public static let benchColumns: [String] = ["tool", "target", "ratio_vs_nginx", "ratio_vs_wrk", "status"]

    /// Every column of `results/bench.csv`, in order.
    public static let columns: [String] = loadgenColumns + benchColumns

    /// The header line of `results/bench.csv`.
    public static var header: String { BenchCSV.line(columns) }

    private static let index: [String: Int] = Dictionary(
        uniqueKeysWithValues: columns.enumerated().map { ($1, $0) }
    )

    /// The fields in ``columns`` order; always exactly `columns.count` of them.
    public private(set) var fields: [String]

    /// An empty row.
    public init() {
        fields = Array(repeating: "", count: Self.columns.count)
    }

    /// A row from named values; names that are not columns are ignored, missing columns stay empty.
    ///
    /// - Parameter values: column name → value.
    public init(_ values: [String: String]) {
        self.init()
        for (name, value) in values {
            self[name] = value
        }
    }

    /// A row from a CSV record and the header it came with, so that files with the columns in another order, with
    /// fewer columns (loadgen's own results file) or more, are read by name.
    ///
    /// - Parameters:
    ///   - record: the fields.
    ///   - header: the column names of `record`.
    public init(record: [String], header: [String]) {
        self.init()
        for (position, name) in header.enumerated() where position < record.count {
            self[name] = record[position]
        }
    }

    /// The value of a column; the empty string for an empty or unknown column. Setting an unknown column does
    /// nothing.
    public subscript(_ column: String) -> String {
        get { Self.index[column].map { fields[$0] } ?? "" }
        set {
            if let position = Self.index[column] { fields[position] = newValue }
        }
    }

    /// The value of a column as a number, or `nil` when it is empty or not a number.
    ///
    /// - Parameter column: the column name.
    /// - Returns: the parsed value.
    public func number(_ column: String) -> Double? {
        let text = self[column].trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// The row as a CSV line (no line break).
    public var csvLine: String { BenchCSV.line(fields) }
}

extension BenchRow {
    /// The scenario name (`hot-key`, `spread`, …).
    public var scenario: String { self["scenario"] }
    /// The commit the run measured.
    public var commit: String { self["commit"] }
    /// The tool that drove the load (`loadgen`, `wrk`, `hey`).
    public var tool: String { self["tool"] }
    /// The server that took the load (`counter-service`, `nginx`).
    public var target: String { self["target"] }
    /// Requests per second, when measured.
    public var rps: Double? { number("rps") }
    /// `PASS`, or `FAILED: ` followed by the reasons.
    public var status: String { self["status"] }
    /// Whether the run passed (its status is `PASS`).
    public var passed: Bool { self["status"] == "PASS" }
    /// The key grouping repeats of the same measurement: scenario, tool, target.
    public var seriesKey: SeriesKey { SeriesKey(scenario: scenario, tool: tool, target: target) }

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

        /// `scenario (tool → target)`, or just the scenario for loadgen against counter-service.
        public var description: String {
            tool == "loadgen" && target == "counter-service" ? scenario : "\(scenario) (\(tool) → \(target))"
        }

        public static func < (lhs: SeriesKey, rhs: SeriesKey) -> Bool {
            (lhs.scenario, lhs.tool, lhs.target) < (rhs.scenario, rhs.tool, rhs.target)
        }
    }
}
