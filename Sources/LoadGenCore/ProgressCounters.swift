import Synchronization

/// Figures each event loop publishes every 100 ms for the live progress line.
///
/// Each loop owns one instance and is its only writer; the progress printer only reads.
public final class ProgressCounters: Sendable {
    private let requests = Atomic<Int>(0)
    private let errors = Atomic<Int>(0)
    private let p99 = Atomic<UInt64>(0)

    /// Empty counters.
    public init() {}

    /// Publishes the loop's current totals.
    /// - Parameters:
    ///   - requests: requests completed (responses and errors).
    ///   - errors: transport errors.
    ///   - p99Micros: the loop's p99 so far, when it was computed this time.
    func update(requests: Int, errors: Int, p99Micros: UInt64?) {
        // Relaxed: each value is a standalone statistic; readers need no ordering between them.
        self.requests.store(requests, ordering: .relaxed)
        self.errors.store(errors, ordering: .relaxed)
        if let p99Micros { p99.store(p99Micros, ordering: .relaxed) }
    }

    /// The last published values.
    public var snapshot: (requests: Int, errors: Int, p99Micros: UInt64) {
        // Relaxed: see `update`; the progress line tolerates values from slightly different moments.
        return (requests.load(ordering: .relaxed), errors.load(ordering: .relaxed), p99.load(ordering: .relaxed))
    }
}
