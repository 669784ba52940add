import Foundation

/// The rows of a bench results file (`results/bench.csv`) in file order, which is the order the runs happened.
public struct BenchResults: Sendable, Equatable {
    /// The rows, oldest first.
    public var rows: [BenchRow]

    /// Results from rows.
    ///
    /// - Parameter rows: the rows, oldest first.
    public init(rows: [BenchRow]) {
        self.rows = rows
    }

    /// Parses CSV text whose first record is a header; columns are read by name.
    ///
    /// - Parameter csv: the file's text.
    /// - Throws: ``BenchReportError`` when there is no header with a `scenario` column.
    public init(csv: String) throws(BenchReportError) {
        let records = BenchCSV.parse(csv)
        guard let header = records.first, header.contains("scenario") else {
            throw BenchReportError(.badInput, "results file has no header with a 'scenario' column")
        }
        rows = records.dropFirst().map { BenchRow(record: $0, header: header) }
    }

    /// Reads a results file.
    ///
    /// - Parameter path: the file.
    /// - Throws: ``BenchReportError`` when it cannot be read or has no header.
    public init(contentsOf path: String) throws(BenchReportError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BenchReportError(.io, "cannot read \(path): \(error)")
        }
        try self.init(csv: text)
    }

    /// The commits that have rows, in the order of their first row.
    public var commits: [String] {
        var seen: Set<String> = []
        return rows.compactMap { seen.insert($0.commit).inserted ? $0.commit : nil }
    }

    /// The rows of one commit.
    ///
    /// - Parameter commit: the commit as written in the file (a prefix of it also matches, either way round).
    /// - Returns: its rows in file order.
    public func rows(of commit: String) -> [BenchRow] {
        rows.filter { Self.sameCommit($0.commit, commit) }
    }

    /// Whether two commit names denote the same commit: equal, or one an abbreviation of the other (at least 7
    /// characters).
    ///
    /// - Parameters:
    ///   - lhs: one name.
    ///   - rhs: the other.
    /// - Returns: true when they match.
    public static func sameCommit(_ lhs: String, _ rhs: String) -> Bool {
        if lhs == rhs { return true }
        guard min(lhs.count, rhs.count) >= 7 else { return false }
        return lhs.hasPrefix(rhs) || rhs.hasPrefix(lhs)
    }

    /// Appends rows to a results file, writing the header first when the file is new or empty.
    ///
    /// - Parameters:
    ///   - rows: the rows to append.
    ///   - path: the file.
    /// - Throws: ``BenchReportError`` when the file cannot be written.
    public static func append(_ rows: [BenchRow], to path: String) throws(BenchReportError) {
        let manager = FileManager.default
        let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var text = ""
        if existing.isEmpty {
            text += BenchRow.header + "\n"
        } else if !existing.hasSuffix("\n") {
            text += "\n"
        }
        for row in rows {
            text += row.csvLine + "\n"
        }
        do {
            if !manager.fileExists(atPath: path) {
                let directory = (path as NSString).deletingLastPathComponent
                if !directory.isEmpty {
                    try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
                }
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } else {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(text.utf8))
            }
        } catch {
            throw BenchReportError(.io, "cannot write \(path): \(error)")
        }
    }
}
