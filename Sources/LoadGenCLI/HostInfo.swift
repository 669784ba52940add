import BenchResults
import Foundation
import LoadGenCore

/// Facts about this machine and checkout that go into a results row.
public struct HostInfo: Sendable, Equatable {
    /// The commit measured, by ``CommitName``'s rule (`-dirty` when the tree has changes); empty outside git.
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
        HostInfo(commit: CommitName.current(), cores: LoadOptions.defaultCores, cpuModel: cpuModelName())
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
}
