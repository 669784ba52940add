import ClstrRuntime

/// A command for an event-sourced actor. The reply says what the command did, or why it failed (typed).
public struct Execute<A: Aggregate>: ActorMessage {
    public typealias Reply = Result<CommandAccepted<A>, CommandFailure<A>>
    public var command: A.Command
    public var metadata: EventMetadata

    public init(_ command: A.Command, metadata: EventMetadata = .none) {
        self.command = command
        self.metadata = metadata
    }
}

/// Asks an event-sourced actor for its aggregate's current state (loading it if needed).
public struct ReadState<A: Aggregate>: ActorMessage {
    public typealias Reply = Result<AggregateRoot<A>, EventStoreError>
    public init() {}
}

/// The state of one event-sourced actor: its aggregate, once loaded. A cache of the store: dropped on
/// passivation and after a failed append, reloaded by the next message.
public final class EventSourcedEntity<A: Aggregate>: @unchecked Sendable {
    // @unchecked Sendable: `root` is touched only by the actor's turns and by the store completions of a load or
    // append the actor is suspended for (``ActorTurn/suspend()``): exactly one of them runs at a time, and the
    // suspension's hand-over (sequentially consistent atomics) orders their accesses.

    /// The aggregate's ID.
    public let id: String
    /// The loaded aggregate; `nil` until the first message loads it.
    var root: AggregateRoot<A>?

    public init(id: String) {
        self.id = id
    }
}

/// The event-sourced actor behavior: one actor per aggregate ID (an ``ActorRegistry`` keyed by ID), the single
/// writer of its stream.
///
/// - **Activation**: the first message loads the aggregate (newest snapshot + tail) before it is handled.
/// - **One command at a time**: while a load or an append is in flight the actor is suspended — later messages
///   wait in its mailbox, no thread blocks — and the reply goes out **after the append is durable** (the store's
///   completion), then the actor resumes.
/// - **Optimistic concurrency**: every append expects the version the actor holds. If another writer appended
///   meanwhile (a second node during a routing change), the append fails with
///   ``EventStoreError/Code/conflict``: the actor drops its state and replies `.store(conflict)` without
///   retrying (the command was decided on stale state; the caller may retry it, and the next message reloads).
///   Any other append failure also drops the state (an `outcomeUnknown` append may have been stored).
/// - **Passivation** (the registry's idle timeout) drops the state; the next message reloads it.
/// - **Snapshots** every N events per the repository's options, saved after the append.
public enum EventSourcedActor {
    /// The behavior of an actor for aggregates of type `A`.
    /// - Parameter repository: loads and runs commands.
    public static func behavior<A: Aggregate>(
        _ repository: AggregateRepository<A>
    ) -> ActorBehavior<EventSourcedEntity<A>> {
        var behavior = ActorBehavior<EventSourcedEntity<A>>()
        behavior.onDeferred(Execute<A>.self) { entity, message, reply, turn in
            let entity = entity
            let suspension = turn.suspend()
            withLoaded(entity, repository) { result in
                switch result {
                case .failure(let error):
                    reply.succeed(.failure(.store(error)))
                    suspension.resume()
                case .success(let root):
                    repository.execute(message.command, on: root, metadata: message.metadata) { outcome in
                        switch outcome {
                        case .success(let (newRoot, accepted)):
                            entity.root = newRoot
                            reply.succeed(.success(accepted))
                        case .failure(.rejected(let error)):
                            reply.succeed(.failure(.rejected(error)))
                        case .failure(.store(let error)):
                            entity.root = nil
                            reply.succeed(.failure(.store(error)))
                        }
                        suspension.resume()
                    }
                }
            }
        }
        behavior.onDeferred(ReadState<A>.self) { entity, _, reply, turn in
            let entity = entity
            let suspension = turn.suspend()
            withLoaded(entity, repository) { result in
                reply.succeed(result)
                suspension.resume()
            }
        }
        behavior.onStop = { entity in entity.root = nil }
        return behavior
    }

    /// A registry factory: a fresh (unloaded) entity and the behavior for each key.
    public static func factory<A: Aggregate>(
        _ repository: AggregateRepository<A>
    ) -> ActorRegistry<String, EventSourcedEntity<A>>.Factory {
        let behavior = behavior(repository)
        return { key in (EventSourcedEntity(id: key), behavior) }
    }

    /// Calls `body` with the loaded aggregate, loading it first when needed (on the store's thread).
    private static func withLoaded<A: Aggregate>(
        _ entity: EventSourcedEntity<A>, _ repository: AggregateRepository<A>,
        _ body: @escaping @Sendable (Result<AggregateRoot<A>, EventStoreError>) -> Void
    ) {
        if let root = entity.root { return body(.success(root)) }
        repository.load(id: entity.id) { result in
            if case .success(let root) = result { entity.root = root }
            body(result)
        }
    }
}
