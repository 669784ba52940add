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
            // The table is keyed by the dynamic type, so this cast cannot fail.
            try handler(&state, message as! M)
        }
        let id = ObjectIdentifier(type)
        if let index = handlers.firstIndex(where: { $0.type == id }) {
            handlers[index].handler = erased
        } else {
            handlers.append((id, erased))
        }
    }

    /// Registers a handler for message types that have no handler of their own.
    public mutating func onUnhandled(_ handler: @escaping @Sendable (inout State, any Sendable) throws -> any Sendable) {
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
            handlers: bound, fallback: boundFallback, onStop: boundStop, passivatable: boundPassivatable)
    }
}

/// An actor's state, owned by its turns; the bound handlers capture it.
final class StateBox<State>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only accessed inside the owning actor's turns, which are serialized.
    var value: State
    init(_ value: State) { self.value = value }
}

/// Handlers bound to one actor's state (see ``ActorBehavior/bind(to:)``).
@usableFromInline
final class BoundBehavior: Sendable {
    typealias Handler = @Sendable (any Sendable) throws -> any Sendable
    let handlers: [(type: ObjectIdentifier, handler: Handler)]
    let fallback: Handler?
    let onStop: (@Sendable () -> Void)?
    let passivatable: (@Sendable () -> Bool)?

    init(
        handlers: [(type: ObjectIdentifier, handler: Handler)], fallback: Handler?, onStop: (@Sendable () -> Void)?,
        passivatable: (@Sendable () -> Bool)?
    ) {
        self.handlers = handlers
        self.fallback = fallback
        self.onStop = onStop
        self.passivatable = passivatable
    }

    func handle(_ message: any Sendable) throws -> any Sendable {
        let id = ObjectIdentifier(type(of: message))
        for entry in handlers where entry.type == id {
            return try entry.handler(message)
        }
        if let fallback {
            return try fallback(message)
        }
        throw RequestError(.noHandler, "no handler for \(type(of: message))")
    }
}
