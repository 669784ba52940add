import HTTPFront
import Runtime

/// Cluster requests made by the HTTP front, by message type and outcome (a bounded set of error codes).
final class ClusterOutcomeMetrics: Sendable {
    /// The outcome labels; the last one collects codes not listed.
    static let outcomes: [String] = [
        "ok", RequestError.Code.deadlineExceeded.rawValue, RequestError.Code.noResponder.rawValue,
        RequestError.Code.transportClosed.rawValue, RequestError.Code.disconnected.rawValue,
        RequestError.Code.mailboxFull.rawValue, RequestError.Code.stopped.rawValue, RequestError.Code.codec.rawValue,
        RequestError.Code.badRequest.rawValue, RequestError.Code.handlerFailed.rawValue, CounterError.overflowCode,
        CounterError.invalidAmountCode, "other",
    ]
    /// The message type labels.
    static let messageTypes = ["increment", "get"]

    private let counters = AtomicCounterArray(count: ClusterOutcomeMetrics.outcomes.count * ClusterOutcomeMetrics.messageTypes.count)

    init() {}

    /// Counts one outcome.
    /// - Parameters:
    ///   - messageType: 0 increment, 1 get.
    ///   - code: nil for success, else the error's code.
    func record(messageType: Int, code: RequestError.Code?) {
        let outcome = code.map { code in Self.outcomes.firstIndex(of: code.rawValue) ?? Self.outcomes.count - 1 } ?? 0
        counters.increment(messageType * Self.outcomes.count + outcome)
    }

    /// The count of one message type and outcome.
    func count(messageType: Int, outcome: Int) -> Int {
        counters.load(messageType * Self.outcomes.count + outcome)
    }
}
