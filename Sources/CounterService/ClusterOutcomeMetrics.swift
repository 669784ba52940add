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
    /// The message type labels.
    static let messageTypes = ["increment", "get"]

    private let shards: [AtomicCounterArray]

    /// - Parameter shards: the number of shards (event loops).
    init(shards: Int = 1) {
        self.shards = (0..<max(1, shards)).map { _ in
            AtomicCounterArray(count: ClusterOutcomeMetrics.outcomes.count * ClusterOutcomeMetrics.messageTypes.count)
        }
    }

    /// Counts one outcome.
    /// - Parameters:
    ///   - shard: the recording connection's shard.
    ///   - messageType: 0 increment, 1 get.
    ///   - code: nil for success, else the error's code.
    func record(shard: Int, messageType: Int, code: RequestError.Code?) {
        let outcome = code.map { code in Self.outcomes.firstIndex(of: code.rawValue) ?? Self.outcomes.count - 1 } ?? 0
        // Single-writer: a shard is recorded into only on its own loop (the rendering connection's).
        shards[shard % shards.count].addSingleWriter(messageType * Self.outcomes.count + outcome)
    }

    /// The count of one message type and outcome.
    func count(messageType: Int, outcome: Int) -> Int {
        shards.reduce(0) { $0 + $1.load(messageType * Self.outcomes.count + outcome) }
    }
}
