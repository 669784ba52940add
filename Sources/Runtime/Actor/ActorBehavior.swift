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

    @usableFromInline var handlers: [ObjectIdentifier: Erased] = [:]
    @usableFromInline var fallback: (@Sendable (inout State, any Sendable) throws -> any Sendable)?
    /// Runs once when the actor stops (stopped, passivated or its registry shut down), on the actor's turn.
    public var onStop: (@Sendable (inout State) -> Void)?

    public init() {}

    /// Registers the handler for messages of type `M`, replacing any earlier one.
    /// - Parameters:
    ///   - type: the message type.
    ///   - handler: runs on the actor's turn with exclusive access to the state; its return value is the reply,
    ///     and an error it throws is the requester's error (the actor keeps serving).
    public mutating func on<M: ActorMessage>(
        _ type: M.Type,
        _ handler: @escaping @Sendable (inout State, M) throws -> M.Reply
    ) {
        handlers[ObjectIdentifier(type)] = { state, message in
            // The table is keyed by the dynamic type, so this cast cannot fail.
            try handler(&state, message as! M)
        }
    }

    /// Registers a handler for message types that have no handler of their own.
    public mutating func onUnhandled(_ handler: @escaping @Sendable (inout State, any Sendable) throws -> any Sendable) {
        fallback = handler
    }

    @inlinable
    func handle(_ message: any Sendable, state: inout State) throws -> any Sendable {
        if let handler = handlers[ObjectIdentifier(type(of: message))] {
            return try handler(&state, message)
        }
        if let fallback {
            return try fallback(&state, message)
        }
        throw RequestError(.noHandler, "no handler for \(type(of: message))")
    }
}
