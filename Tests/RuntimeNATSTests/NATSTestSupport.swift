import ClstrRuntime
import Synchronization
import TestKit

@testable import RuntimeNATS

/// A node handler for the tests: `inc` replies its Int payload + 1 (and counts applies per key), `fail` replies a
/// coded error, `silent` never replies, `opaque` replies a value that has no wire encoding, `length` replies the
/// length of its String payload, `big` replies a String as long as its Int payload.
final class TestShardHandler: ShardRequestHandler {
    let applies = Locked<[String: Int]>([:])
    let handled = Atomic<Int>(0)

    struct NotCodable: Sendable {}

    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        // Relaxed: a count the test reads after the replies, which the collector's lock orders.
        handled.wrappingAdd(1, ordering: .relaxed)
        guard case .bytes(let bytes) = request.payload else {
            return replyTo.deliver(.failure(RequestError(.badRequest, "expected bytes")), context: context)
        }
        switch request.messageType {
        case "inc":
            applies.withLock { $0[request.key, default: 0] += 1 }
            switch WireBytes(bytes).decode(as: Int.self) as Result<Int, RequestError> {
            case .success(let value): replyTo.deliver(.success(value + 1), context: context)
            case .failure(let error): replyTo.deliver(.failure(error), context: context)
            }
        case "fail":
            replyTo.deliver(
                .failure(RequestError(RequestError.Code(rawValue: "insufficient_funds"), "balance 3 < 5")),
                context: context)
        case "silent":
            break
        case "length":
            // The String payload's length in bytes (a large request, a small reply).
            switch WireBytes(bytes).decode(as: String.self) as Result<String, RequestError> {
            case .success(let text): replyTo.deliver(.success(text.utf8.count), context: context)
            case .failure(let error): replyTo.deliver(.failure(error), context: context)
            }
        case "big":
            // A reply of as many bytes as the Int payload says (a small request, a large reply).
            switch WireBytes(bytes).decode(as: Int.self) as Result<Int, RequestError> {
            case .success(let count): replyTo.deliver(.success(String(repeating: "x", count: count)), context: context)
            case .failure(let error): replyTo.deliver(.failure(error), context: context)
            }
        case "opaque":
            replyTo.deliver(.success(NotCodable()), context: context)
        default:
            replyTo.deliver(.failure(RequestError(.noHandler, request.messageType)), context: context)
        }
    }
}

extension WireBytes {
    fileprivate func decode<T: WireCodable>(as type: T.Type) -> Result<T, RequestError> {
        do throws(RequestError) { return .success(try decode(as: T.self) as T) } catch { return .failure(error) }
    }
}

/// Collects outcomes by context and resumes the waiter once `expected` have arrived; counts double deliveries.
final class ReplyCollector: ReplyHandler {
    private struct State {
        var outcomes: [UInt64: Outcome] = [:]
        var arrival: [UInt64: ContinuousClock.Instant] = [:]
        var duplicates = 0
        var expected: Int
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state: Locked<State>

    init(expected: Int) { state = Locked(State(expected: expected)) }

    func deliver(_ reply: Outcome, context: UInt64) {
        let now = ContinuousClock.now
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.outcomes[context] != nil {
                state.duplicates += 1
                return nil
            }
            state.outcomes[context] = reply
            state.arrival[context] = now
            guard state.outcomes.count >= state.expected, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Waits until every expected outcome arrived (the transport answers every request by its deadline).
    func wait() async -> (outcomes: [UInt64: Outcome], arrival: [UInt64: ContinuousClock.Instant], duplicates: Int) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.outcomes.count >= state.expected { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        return state.withLock { ($0.outcomes, $0.arrival, $0.duplicates) }
    }
}

/// Sends one request and awaits its outcome.
func send(
    _ transport: NATSTransport, shard: Int, type: String = "inc", value: Int = 41, key: String = "k",
    timeout: Duration = .seconds(5), headers: [String: String] = [:]
) async -> (outcome: Outcome, elapsed: Duration) {
    let collector = ReplyCollector(expected: 1)
    let start = ContinuousClock.now
    transport.request(
        ClusterRequest(
            shard: shard, key: key, messageType: type, payload: .value(value),
            deadline: MonotonicClock.deadline(after: timeout), headers: headers),
        replyTo: collector, context: 7)
    let result = await collector.wait()
    return (result.outcomes[7]!, result.arrival[7]! - start)
}

extension Outcome {
    var int: Int? {
        if case .success(let value) = decode(as: Int.self) { return value }
        return nil
    }
    var string: String? {
        if case .success(let value) = decode(as: String.self) { return value }
        return nil
    }
    var errorCode: RequestError.Code? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
    var error: RequestError? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

func makeTransport(_ server: NATSServer, prefix: String = "test") throws -> NATSTransport {
    var configuration = NATSTransport.Configuration(urls: [server.url], subjectPrefix: prefix)
    configuration.sweepInterval = .milliseconds(5)
    return try NATSTransport(configuration: configuration)
}
