import Foundation
import NIOCore

/// Facts about this machine and checkout that go into a results row.
public struct HostInfo: Sendable, Equatable {
    /// `git rev-parse --short HEAD`, plus `+dirty` when the tree has changes; empty outside git.
    public var commit: String
    /// Number of cores.
    public var cores: Int
    /// CPU model name from /proc/cpuinfo (empty when unknown).
    public var cpuModel: String

    /// Explicit values.
    public init(commit: String, cores: Int, cpuModel: String) {
        self.commit = commit
        self.cores = cores
        self.cpuModel = cpuModel
    }

    /// Reads the facts for the current directory's checkout.
    /// - Returns: commit, cores, CPU model.
    public static func current() -> HostInfo {
        HostInfo(commit: gitCommit(), cores: System.coreCount, cpuModel: cpuModelName())
    }

    /// The current commit, `+dirty` when tracked files differ from it; "" outside a git tree.
    ///
    /// Changes under `results/` do not count: appending benchmark rows there must not mark the code dirty.
    public static func gitCommit() -> String {
        guard let head = run("/usr/bin/env", ["git", "rev-parse", "--short", "HEAD"]), !head.isEmpty else { return "" }
        let status =
            run("/usr/bin/env", ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)results"])
            ?? ""
        return status.isEmpty ? head : head + "+dirty"
    }

    /// The first `model name` in /proc/cpuinfo.
    public static func cpuModelName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return ""
    }

    private static func run(_ executable: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
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
