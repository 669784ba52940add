import Foundation

/// The rows of a results file (`results/bench.csv`, or a `loadgen --results` file) in file order, which is the order
/// the runs happened. The one reader and writer of results files.
public struct BenchHistory: Sendable, Equatable {
    /// The rows, oldest first.
    public var rows: [BenchRow]

    /// Results from rows.
    ///
    /// - Parameter rows: the rows, oldest first.
    public init(rows: [BenchRow]) {
        self.rows = rows
    }

    /// Parses CSV text whose first record is a header; columns are read by name and rows migrated
    /// (``BenchRow/init(record:header:)``).
    ///
    /// - Parameters:
    ///   - csv: the file's text.
    ///   - source: the name used in error messages.
    /// - Throws: ``BenchResultsError`` when there is no header with a `scenario` column.
    public init(csv: String, source: String = "results file") throws(BenchResultsError) {
        let records = BenchCSV.parse(csv)
        guard let header = records.first, header.contains("scenario") else {
            throw BenchResultsError(.badInput, "\(source) is not a results file (no header with a 'scenario' column)")
        }
        rows = records.dropFirst().map { BenchRow(record: $0, header: header) }
    }

    /// Reads a results file.
    ///
    /// - Parameter path: the file.
    /// - Throws: ``BenchResultsError`` when it cannot be read or has no header.
    public init(contentsOf path: String) throws(BenchResultsError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BenchResultsError(.io, "cannot read \(path): \(error.localizedDescription)")
        }
        try self.init(csv: text, source: path)
    }

    /// The commits that have rows (as written, ``CommitName``), in the order of their first row.
    public var commits: [String] {
        var seen: Set<String> = []
        return rows.compactMap { seen.insert($0.commit).inserted ? $0.commit : nil }
    }

    /// The latest commit with rows that `name` names (``CommitName/matches(_:)``).
    ///
    /// - Parameter name: a hash or abbreviation, optionally with a dirty marker.
    /// - Returns: the commit as written in the rows, or `nil`.
    public func commit(named name: String) -> String? {
        let query = CommitName(name)
        return commits.last { CommitName($0).matches(query) }
    }

    /// The rows of one commit.
    ///
    /// - Parameter commit: the commit exactly as written in the rows (see ``commit(named:)``).
    /// - Returns: its rows in file order.
    public func rows(of commit: String) -> [BenchRow] {
        rows.filter { $0.commit == commit }
    }

    /// Appends rows to a results file, writing the header first when the file is new or empty.
    ///
    /// The rows are written in the order of the file's own header. When they have a value in a column the header
    /// lacks (a column added since the file was started), the file is rewritten once, atomically, with that column
    /// appended to its header: every earlier row is kept (migrated, ``BenchRow/init(record:header:)``), with the new
    /// column empty.
    ///
    /// - Parameters:
    ///   - rows: the rows to append.
    ///   - path: the file.
    /// - Throws: ``BenchResultsError`` when the file cannot be read or written, or is not a results file.
    public static func append(_ rows: [BenchRow], to path: String) throws(BenchResultsError) {
        let manager = FileManager.default
        let existing = manager.fileExists(atPath: path) ? try read(path) : ""
        let fileHeader = BenchCSV.parse(String(existing.prefix { $0 != "\n" && $0 != "\r\n" })).first ?? []
        let used = rows.reduce(into: Set<String>()) { set, row in
            for column in BenchRow.columns + row.unknownColumns where !row[column].isEmpty { set.insert(column) }
        }
        do {
            if fileHeader.isEmpty {
                let header = BenchRow.columns + used.filter { !BenchRow.columns.contains($0) }.sorted()
                try write(rows, header: header, to: path)
                return
            }
            guard fileHeader.contains("scenario") else {
                throw BenchResultsError(.badInput, "\(path) is not a results file (no header with a 'scenario' column)")
            }
            let missing =
                BenchRow.columns.filter { used.contains($0) && !fileHeader.contains($0) }
                + used.filter { !BenchRow.columns.contains($0) && !fileHeader.contains($0) }.sorted()
            if missing.isEmpty {
                var text = existing.hasSuffix("\n") ? "" : "\n"
                for row in rows { text += row.csvLine(columns: fileHeader) + "\n" }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(text.utf8))
            } else {
                let earlier = try BenchHistory(csv: existing, source: path)
                try write(earlier.rows + rows, header: fileHeader + missing, to: path)
            }
        } catch let error as BenchResultsError {
            throw error
        } catch {
            throw BenchResultsError(.io, "cannot write \(path): \(error.localizedDescription)")
        }
    }

    private static func read(_ path: String) throws(BenchResultsError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BenchResultsError(.io, "cannot read \(path): \(error.localizedDescription)")
        }
    }

    private static func write(_ rows: [BenchRow], header: [String], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var text = BenchCSV.line(header) + "\n"
        for row in rows { text += row.csvLine(columns: header) + "\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
