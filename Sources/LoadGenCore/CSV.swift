import Foundation

/// Errors of results-CSV reading (the reading and writing themselves are ``BenchCSV``'s).
public enum CSV {
    /// A file that is not valid results CSV.
    public struct FormatError: Error, CustomStringConvertible {
        /// Human-readable reason.
        public let description: String
    }
}
