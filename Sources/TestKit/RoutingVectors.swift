import Foundation

/// The routing vectors produced by the reference implementation's own routing functions (key → shard, shard → owner
/// node), copied into this module's resources (`Resources/vectors`, with their README) so that the tests stand alone.
public enum RoutingVectors {
    /// The rows of a vector file (`shard-keys.tsv` or `shard-owners.tsv`), header dropped, each split on tabs.
    /// - Throws: ``FixtureError`` when the file is not among the resources.
    public static func rows(_ name: String) throws -> [[String]] {
        let base = (name as NSString).deletingPathExtension
        let ext = (name as NSString).pathExtension
        guard let url = Bundle.module.url(forResource: base, withExtension: ext, subdirectory: "vectors"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            throw FixtureError("routing vectors missing: \(name) is not among TestKit's resources (Resources/vectors)")
        }
        return text.split(separator: "\n", omittingEmptySubsequences: true).dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
