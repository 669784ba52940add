/// The typed handlers of an actor: one per message type, over a state of type `State`.
///
/// ```swift
/// var behavior = ActorBehavior<Int>()
/// behavior.on(Increment.self) { value, message in
///     value += message.amount
///     return value
/// }
/// ```
public struct ActorBehavior<State>: Sendable {
    @usableFromInline
    typealias Erased = @Sendable (inout State, any Sendable) throws -> any Sendable

    /// A short list scanned linearly: for the handful of message types an actor has, comparing pointers beats
    /// hashing them.
    @usableFromInline var handlers: [(type: ObjectIdentifier, handler: Erased)] = []
    @usableFromInline var fallback: (@Sendable (inout State, any Sendable) throws -> any Sendable)?
    @usableFromInline
    typealias ErasedDeferred = @Sendable (inout State, any Sendable, DeferredReplyTarget, ActorTurn) throws -> Void
    /// Handlers that answer later (``onDeferred(_:_:)``); scanned only when no ordinary handler matched.
    @usableFromInline var deferredHandlers: [(type: ObjectIdentifier, handler: ErasedDeferred)] = []
    /// Runs once when the actor stops (stopped, passivated or its registry shut down), on the actor's turn.
    public var onStop: (@Sendable (inout State) -> Void)?
    /// Whether the actor may be passivated in its current state (checked at the end of each turn); `nil` means
    /// always. An actor whose state lives only in memory can allow it only while nothing would be lost (a counter
    /// at 0, for example), so idle keys that were only read do not keep memory forever.
    public var passivatable: (@Sendable (inout State) -> Bool)?

    public init() {}

    /// Registers the handler for messages of type `M`, replacing any earlier one.
    /// - Parameters:
    ///   - type: the message type.
    ///   - handler: runs on the actor's turn with exclusive access to the state; its return value is the reply,
    ///     and an error it throws is the requester's error (the actor keeps serving).
    @inlinable
    public mutating func on<M: ActorMessage>(
        _ type: M.Type,
        _ handler: @escaping @Sendable (inout State, M) throws -> M.Reply
    ) {
        let erased: Erased = { state, message in
            // The table is keyed by the dynamic type, so this cast cannot fail (and the exact one applies).
            try handler(&state, exactCast(message, to: M.self) ?? message as! M)
        }
        let id = ObjectIdentifier(type)
        if let index = handlers.firstIndex(where: { $0.type == id }) {
            handlers[index].handler = erased
        } else {
            handlers.append((id, erased))
        }
    }

    /// Registers a handler for messages of type `M` that answers later: it takes the reply obligation and
    /// completes it from wherever its work finishes (a store's completion, another thread).
    ///
    /// The handler must answer exactly once through `reply` — unless it throws, in which case the error is the
    /// reply and `reply` must not be used. To keep the actor from handling later messages until the work
    /// finished, it calls `turn.suspend()` and later `resume()` on what that returns: in between no turn runs
    /// (messages wait in the mailbox; no thread blocks), and whoever holds the suspension has exclusive access to
    /// state the actor reaches by reference. Resuming before the handler returned is allowed (the turn goes on).
    /// A suspended actor is not passivated; a stop takes effect when it resumes.
    /// - Parameters:
    ///   - type: the message type (an ordinary handler of the same type takes precedence).
    ///   - handler: runs on the actor's turn with exclusive access to the state.
    @inlinable
    public mutating func onDeferred<M: ActorMessage>(
        _ type: M.Type,
        _ handler: @escaping @Sendable (inout State, M, DeferredReply<M.Reply>, ActorTurn) throws -> Void
    ) {
        let erased: ErasedDeferred = { state, message, target, turn in
            // The table is keyed by the dynamic type, so this cast cannot fail (and the exact one applies).
            try handler(&state, exactCast(message, to: M.self) ?? message as! M, DeferredReply(target), turn)
        }
        let id = ObjectIdentifier(type)
        if let index = deferredHandlers.firstIndex(where: { $0.type == id }) {
            deferredHandlers[index].handler = erased
        } else {
            deferredHandlers.append((id, erased))
        }
    }

    /// Registers a handler for message types that have no handler of their own.
    public mutating func onUnhandled(_ handler: @escaping @Sendable (inout State, any Sendable) throws -> any Sendable)
    {
        fallback = handler
    }

    /// Binds the handlers to one actor's state: the turn loop then calls plain closures and needs no generic
    /// code of its own.
    func bind(to box: StateBox<State>) -> BoundBehavior {
        var bound: [(type: ObjectIdentifier, handler: BoundBehavior.Handler)] = []
        for entry in handlers {
            let handler = entry.handler
            let call: BoundBehavior.Handler = { message in try handler(&box.value, message) }
            bound.append((entry.type, call))
        }
        var boundDeferred: [(type: ObjectIdentifier, handler: BoundBehavior.DeferredHandler)] = []
        for entry in deferredHandlers {
            let handler = entry.handler
            let call: BoundBehavior.DeferredHandler = { message, target, turn in
                try handler(&box.value, message, target, turn)
            }
            boundDeferred.append((entry.type, call))
        }
        var boundFallback: BoundBehavior.Handler? = nil
        if let fallback {
            boundFallback = { message in try fallback(&box.value, message) }
        }
        var boundStop: (@Sendable () -> Void)? = nil
        if let onStop {
            boundStop = { onStop(&box.value) }
        }
        var boundPassivatable: (@Sendable () -> Bool)? = nil
        if let passivatable {
            boundPassivatable = { passivatable(&box.value) }
        }
        return BoundBehavior(
            handlers: bound, deferredHandlers: boundDeferred, fallback: boundFallback, onStop: boundStop,
            passivatable: boundPassivatable)
    }
}

/// An actor's state, owned by its turns; the bound handlers capture it.
final class StateBox<State>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only accessed inside the owning actor's turns, which are serialized.
    // Exclusivity is not checked at run time (measured: swift_beginAccess and its access-set bookkeeping cost ~80
    // instructions per message, 4 % of an inline request→reply): every access is one handler's `inout` (or the
    // stop and passivation hooks) on a turn, or a read by the passivation sweeper while it holds the actor claimed
    // (no turn runs then); turns never overlap (the state word admits one at a time), and a handler cannot start
    // a nested turn of its own actor (a send to itself only enqueues: the actor is running).
    @exclusivity(unchecked) var value: State
    init(_ value: State) { self.value = value }
}

/// Handlers bound to one actor's state (see ``ActorBehavior/bind(to:)``).
@usableFromInline
final class BoundBehavior: Sendable {
    typealias Handler = @Sendable (any Sendable) throws -> any Sendable
    typealias DeferredHandler = @Sendable (any Sendable, DeferredReplyTarget, ActorTurn) throws -> Void
    let handlers: [(type: ObjectIdentifier, handler: Handler)]
    let deferredHandlers: [(type: ObjectIdentifier, handler: DeferredHandler)]
    let fallback: Handler?
    let onStop: (@Sendable () -> Void)?
    let passivatable: (@Sendable () -> Bool)?

    init(
        handlers: [(type: ObjectIdentifier, handler: Handler)],
        deferredHandlers: [(type: ObjectIdentifier, handler: DeferredHandler)], fallback: Handler?,
        onStop: (@Sendable () -> Void)?, passivatable: (@Sendable () -> Bool)?
    ) {
        self.handlers = handlers
        self.deferredHandlers = deferredHandlers
        self.fallback = fallback
        self.onStop = onStop
        self.passivatable = passivatable
    }

    /// Runs the handler of `message`: its reply, or `nil` when a deferred handler took the reply obligation.
    func handle(
        _ message: any Sendable, replyTo: (any ReplyHandler)?, context: UInt64, cell: ActorCell
    ) throws
        -> (any Sendable)?
    {
        let id = ObjectIdentifier(type(of: message))
        for entry in handlers where entry.type == id {
            return try entry.handler(message)
        }
        for entry in deferredHandlers where entry.type == id {
            try entry.handler(message, DeferredReplyTarget(replyTo: replyTo, context: context), ActorTurn(cell: cell))
            return nil
        }
        if let fallback {
            return try fallback(message)
        }
        throw RequestError(.noHandler, "no handler for \(type(of: message))")
    }
}
