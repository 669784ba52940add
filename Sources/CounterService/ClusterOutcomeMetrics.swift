import HTTPFront
import ClstrRuntime

/// Cluster requests made by the HTTP front, by message type and outcome (a bounded set of error codes).
///
/// Kept per event-loop shard (the connection's), so that cores do not share a counter's cache line.
final class ClusterOutcomeMetrics: Sendable {
    /// The outcome labels; the last one collects codes not listed.
    static let outcomes: [String] = [
        "ok", RequestError.Code.deadlineExceeded.rawValue, RequestError.Code.noResponder.rawValue,
        RequestError.Code.outcomeUnknown.rawValue, RequestError.Code.transportClosed.rawValue,
        RequestError.Code.disconnected.rawValue,
        RequestError.Code.mailboxFull.rawValue, RequestError.Code.stopped.rawValue, RequestError.Code.codec.rawValue,
        RequestError.Code.badRequest.rawValue, RequestError.Code.handlerFailed.rawValue, CounterError.overflowCode,
        CounterError.invalidAmountCode, "other",
    ]
    /// The cluster operations the front makes (the `message_type` label).
    enum Operation: Int, CaseIterable {
        case increment
        case get

        /// The label value.
        var label: String {
            switch self {
            case .increment: "increment"
            case .get: "get"
            }
        }
    }

    private let shards: [AtomicCounterArray]

    /// - Parameter shards: the number of shards (event loops).
    init(shards: Int = 1) {
        self.shards = (0..<max(1, shards)).map { _ in
            AtomicCounterArray(count: ClusterOutcomeMetrics.outcomes.count * Operation.allCases.count)
        }
    }

    /// Counts one outcome.
    /// - Parameters:
    ///   - shard: the recording connection's shard.
    ///   - operation: what the request was.
    ///   - code: nil for success, else the error's code.
    func record(shard: Int, operation: Operation, code: RequestError.Code?) {
        let outcome = code.map { code in Self.outcomes.firstIndex(of: code.rawValue) ?? Self.outcomes.count - 1 } ?? 0
        // Single-writer: a shard is recorded into only on its own loop (the rendering connection's).
        shards[shard % shards.count].addSingleWriter(operation.rawValue * Self.outcomes.count + outcome)
    }

    /// The count of one message type and outcome.
    func count(operation: Operation, outcome: Int) -> Int {
        shards.reduce(0) { $0 + $1.load(operation.rawValue * Self.outcomes.count + outcome) }
    }
}
