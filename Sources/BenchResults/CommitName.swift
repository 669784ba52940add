import Foundation

/// The commit a row measured: an abbreviated hash plus a dirty marker, one rule for every writer and reader.
///
/// - Written as `git rev-parse --short=12 HEAD`, followed by ``dirtySuffix`` (`-dirty`, as `git describe --dirty`
///   writes it) when the work tree differs from the commit outside `results/` (``current(in:)``: tracked changes and
///   untracked files both count, since SwiftPM compiles every file under `Sources/`; appending rows to `results/`
///   does not). Empty outside a git work tree.
/// - Read: `+dirty` (loadgen's marker before the rules were merged) means the same as `-dirty`.
/// - Matched (``matches(_:)``): the hashes are equal, or one abbreviates the other (at least 4 characters, git's
///   shortest abbreviation); a name asked for with the marker matches only dirty rows, without it both.
public struct CommitName: Hashable, Sendable, CustomStringConvertible {
    /// The marker of a measurement taken with uncommitted changes.
    public static let dirtySuffix = "-dirty"
    /// The marker loadgen wrote before the rules were merged; read as ``dirtySuffix``.
    public static let legacyDirtySuffix = "+dirty"
    /// The shortest abbreviation that matches a longer hash.
    public static let minimumAbbreviation = 4

    /// The (abbreviated) hash.
    public var hash: String
    /// Whether the work tree had changes.
    public var isDirty: Bool

    /// Parses a commit as written in a row or given on the command line.
    ///
    /// - Parameter text: e.g. `0ca92c2be623`, `8e84c44355a2-dirty`, `abc1234+dirty`.
    public init(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix(Self.dirtySuffix) {
            hash = String(trimmed.dropLast(Self.dirtySuffix.count))
            isDirty = true
        } else if trimmed.hasSuffix(Self.legacyDirtySuffix) {
            hash = String(trimmed.dropLast(Self.legacyDirtySuffix.count))
            isDirty = true
        } else {
            hash = trimmed
            isDirty = false
        }
    }

    /// A commit name.
    ///
    /// - Parameters:
    ///   - hash: the hash.
    ///   - isDirty: whether the tree had changes.
    public init(hash: String, isDirty: Bool) {
        self.hash = hash
        self.isDirty = isDirty
    }

    /// The name as written in a row: the hash, plus `-dirty`.
    public var description: String { hash + (isDirty ? Self.dirtySuffix : "") }

    /// Whether this name (from a row) is the commit `query` names.
    ///
    /// - Parameter query: what was asked for (a hash or an abbreviation, optionally with a dirty marker).
    /// - Returns: true when the hashes match and the query's marker, if any, agrees.
    public func matches(_ query: CommitName) -> Bool {
        guard !hash.isEmpty, !query.hash.isEmpty else { return hash == query.hash && isDirty == query.isDirty }
        if query.isDirty && !isDirty { return false }
        if hash == query.hash { return true }
        guard min(hash.count, query.hash.count) >= Self.minimumAbbreviation else { return false }
        return hash.hasPrefix(query.hash) || query.hash.hasPrefix(hash)
    }

    /// The commit of the work tree at `directory` by the rule above; `""` outside git.
    ///
    /// - Parameter directory: a folder inside the work tree (default: the current directory).
    /// - Returns: e.g. `0ca92c2be623` or `0ca92c2be623-dirty`.
    public static func current(in directory: String = FileManager.default.currentDirectoryPath) -> String {
        guard let head = git(["rev-parse", "--short=12", "HEAD"], in: directory), !head.isEmpty else { return "" }
        let changes = git(["status", "--porcelain", "--", ":(top)", ":(top,exclude)results"], in: directory) ?? ""
        return CommitName(hash: head, isDirty: !changes.isEmpty).description
    }

    private static func git(_ arguments: [String], in directory: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
