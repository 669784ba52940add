/// A message an actor can handle, with the type of its reply.
///
/// Messages are passed by value and never serialized inside a process. A message sent with `tell` has its
/// reply discarded; use `Void` as the reply for commands that answer nothing.
public protocol ActorMessage: Sendable {
    associatedtype Reply: Sendable = Void
}

/// Where an actor's reply goes: a long-lived object that receives many replies, told apart by `context`.
///
/// Reusing one receiver for many requests (a connection, a client, a benchmark loop) is what keeps the reply
/// path free of allocation. `deliver` runs on the thread that ran the actor's turn; it must not block.
public protocol ReplyHandler: AnyObject, Sendable {
    /// Receives one reply.
    /// - Parameters:
    ///   - reply: the handler's reply value, or the error the request ended with.
    ///   - context: the value the requester passed with the request.
    func deliver(_ reply: Outcome, context: UInt64)
}

/// The outcome of one request: the reply value (as the requester's `Reply` type, boxed) or an error.
public enum Outcome: Sendable {
    case success(any Sendable)
    case failure(RequestError)

    /// The reply as the type the requester expects.
    @inlinable
    public func get<Reply: Sendable>(as type: Reply.Type = Reply.self) -> Result<Reply, RequestError> {
        switch self {
        case .success(let value):
            if let typed = exactCast(value, to: Reply.self) { return .success(typed) }
            guard let typed = value as? Reply else {
                return .failure(
                    RequestError(.replyTypeMismatch, "expected \(Reply.self), got \(Swift.type(of: value))"))
            }
            return .success(typed)
        case .failure(let error):
            return .failure(error)
        }
    }
}

/// What happens when a mailbox is full.
public enum OverflowPolicy: Sendable {
    /// Fail the send at once with ``RequestError/Code/mailboxFull``.
    case fail
    /// Wait (spinning, then yielding, then sleeping briefly) until there is room or the deadline passes — where
    /// the executor says the sender may wait (``ActorExecutor/callerMayWait(forAffinity:)``): a sender on the
    /// thread that must run the actor's next turn (an event loop that owns the actor's shard, its worker) would
    /// wait for itself, so there it fails at once with `mailboxFull`, as ``fail`` does.
    case wait
}

/// `value` as `T` when `T` is exactly its dynamic type (a reply or a message of the type expected, the usual
/// case), without the runtime's general cast: `as?`/`as!` walk the existential and both types' metadata
/// (`swift_dynamicCast`, `tryCast`: measured under callgrind at ~400 instructions per reply and ~250 per message
/// in the counter service). Opening the existential and comparing metatypes costs a few instructions. Any other
/// case (a subclass, a protocol or optional `T`, wire bytes) returns nil: the caller falls back to the general
/// cast.
@inlinable
package func exactCast<T>(_ value: any Sendable, to type: T.Type) -> T? {
    func open<Value>(_ value: Value) -> T? {
        Value.self == T.self ? _identityCast(value, to: T.self) : nil
    }
    return _openExistential(value, do: open)
}
