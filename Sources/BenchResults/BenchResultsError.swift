/// An error of the bench results tooling (reading and writing results files, ingesting runs, comparing, rendering the report).
public struct BenchResultsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a category.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case badInput
            case io
            case noData
        }

        private let value: Value

        /// An input file or argument is malformed.
        public static let badInput = Code(value: .badInput)
        /// A file could not be read or written.
        public static let io = Code(value: .io)
        /// There is nothing to compare or render (no rows for the requested commits).
        public static let noData = Code(value: .noData)

        public var description: String {
            switch value {
            case .badInput: "bad input"
            case .io: "i/o"
            case .noData: "no data"
            }
        }
    }

    /// The category.
    public var code: Code
    /// What happened, for a person.
    public var message: String

    /// An error.
    ///
    /// - Parameters:
    ///   - code: the category.
    ///   - message: what happened.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
