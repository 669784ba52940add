import Synchronization

/// Configuration of an ``ActorRegistry``.
public struct ActorRegistryOptions: Sendable {
    /// Options of every actor the registry spawns (the affinity is overridden by the registry's affinity function).
    public var actor = ActorOptions()
    /// Lock stripes of the key table; a power of two spreads keys evenly.
    public var stripes: Int = 64
    /// Actors idle (no turn, empty mailbox) longer than this are stopped and removed; `nil` keeps them forever.
    public var idleTimeout: Duration? = nil
    /// How often the background sweeper looks for idle actors (when `idleTimeout` is set).
    public var sweepInterval: Duration = .seconds(1)
    /// Keep the state of a passivated actor (a few bytes, instead of its mailbox and cell) and hand it to the actor
    /// spawned for the key's next message. For actors whose state lives only in memory: idle keys then cost
    /// almost nothing and lose nothing.
    public var retainsPassivatedState: Bool = false

    public init() {}
}

/// One actor per key, spawned on first use, passivated when idle.
///
/// Exactly one actor exists per key at a time, also when the first messages for a key race: lookup, creation and
/// enqueue happen under the key's lock stripe (a short critical section: a dictionary lookup and one ring slot
/// claim), and passivation removes an actor under the same stripe only when it is idle with an empty mailbox. So
/// a message sent through the registry is never stranded in a passivated actor: it reaches a live one, or it
/// makes the old one non-idle and keeps it alive.
///
/// Send through the registry (``request(_:to:replyTo:context:deadline:)``, ``tell(_:to:)``); a reference from
/// ``actor(for:)`` may be passivated later, after which sends through it fail with `stopped`.
public final class ActorRegistry<Key: Hashable & Sendable, State>: Sendable {
    public typealias Factory = @Sendable (Key) -> (state: State, behavior: ActorBehavior<State>)

    @usableFromInline let stripes: [Stripe<Key, State>]
    @usableFromInline let stripeMask: Int
    private let executor: any ActorExecutor
    @usableFromInline let options: ActorRegistryOptions
    private let factory: Factory
    private let affinity: @Sendable (Key) -> Int
    /// The metrics every actor of this registry reports into.
    public let metrics: ActorMetrics
    private let sweeper: Locked<BackgroundTicker?> = Locked(nil)
    @usableFromInline let closed = Atomic<Bool>(false)

    /// Creates a registry.
    /// - Parameters:
    ///   - executor: where the actors' turns run.
    ///   - options: actor options, stripes, passivation.
    ///   - metrics: where the actors report; a fresh ``ActorMetrics`` by default.
    ///   - affinity: the executor hint for a key's actor (for example its shard); round-robin by default.
    ///   - factory: the initial state and behavior of a key's actor.
    public init(
        executor: any ActorExecutor,
        options: ActorRegistryOptions = ActorRegistryOptions(),
        metrics: ActorMetrics = ActorMetrics(),
        affinity: @escaping @Sendable (Key) -> Int = { _ in -1 },
        factory: @escaping Factory
    ) {
        var count = 1
        while count < max(1, options.stripes) { count <<= 1 }
        self.stripes = (0..<count).map { _ in Stripe() }
        self.stripeMask = count - 1
        self.executor = executor
        self.options = options
        self.metrics = metrics
        self.affinity = affinity
        self.factory = factory
        if let idle = options.idleTimeout {
            let ticker = BackgroundTicker(interval: options.sweepInterval) { [weak self] in
                _ = self?.passivateIdle(olderThan: idle)
            }
            sweeper.withLock { $0 = ticker }
        }
    }

    deinit {
        sweeper.withLock { $0?.stop() }
    }

    @inlinable @inline(__always)
    func stripe(for key: Key) -> Int { key.hashValue & stripeMask }

    /// The live actor of `key`, spawned if there is none.
    ///
    /// After ``shutdown()`` it returns a stopped actor that is not kept (its sends fail with `stopped`).
    public func actor(for key: Key) -> ActorRef<State> {
        stripes[stripe(for: key)].table.withLock { table in
            // Under the lock, as in `route`: nothing is spawned into a stripe that shutdown emptied.
            guard !closed.load(ordering: .relaxed) else {
                var discarded = StripeTable<Key, State>()
                let actor = lookupOrSpawn(key, in: &discarded)
                metrics.actorsAlive.wrappingSubtract(1, ordering: .relaxed)
                actor.stop()
                return actor
            }
            return lookupOrSpawn(key, in: &table)
        }
    }

    @inlinable
    func lookupOrSpawn(_ key: Key, in table: inout StripeTable<Key, State>) -> ActorRef<State> {
        if let existing = table.actors[key] {
            if !existing.isStopped { return existing }
            // Stopped by hand (`actor(for:).stop()`): replaced by a fresh actor, as passivation would have; left
            // in place it would answer `stopped` to its key for ever (it is never idle, so never passivated).
            metrics.actorsAlive.wrappingSubtract(1, ordering: .relaxed)
        }
        return spawn(key, in: &table)
    }

    /// Spawns the actor of `key` into `table` (the first message, or the first after passivation).
    @usableFromInline
    func spawn(_ key: Key, in table: inout StripeTable<Key, State>) -> ActorRef<State> {
        var (state, behavior) = factory(key)
        if let retained = table.dormant.removeValue(forKey: key) {
            state = retained
        }
        var actorOptions = options.actor
        actorOptions.affinity = affinity(key)
        actorOptions.tracksActivity = actorOptions.tracksActivity || options.idleTimeout != nil
        let actor = ActorRef(
            state: state, behavior: behavior, executor: executor, options: actorOptions, metrics: metrics)
        table.actors[key] = actor
        metrics.actorsAlive.wrappingAdd(1, ordering: .relaxed)
        return actor
    }

    /// Sends a request to the actor of `key`; the reply (or error) goes to `replyTo`.
    @inlinable
    public func request<M: ActorMessage>(
        _ message: M, to key: Key, replyTo: any ReplyHandler, context: UInt64 = 0, deadline: UInt64 = 0
    ) {
        if let error = route(
            Envelope(message: message, replyTo: replyTo, context: context, deadline: deadline), to: key)
        {
            replyTo.deliver(.failure(error), context: context)
        }
    }

    /// Sends an untyped request (the cluster layer's entry point).
    @inlinable
    public func requestUntyped(
        _ message: any Sendable, to key: Key, replyTo: (any ReplyHandler)?, context: UInt64 = 0, deadline: UInt64 = 0
    ) {
        if let error = route(
            Envelope(message: message, replyTo: replyTo, context: context, deadline: deadline), to: key)
        {
            replyTo?.deliver(.failure(error), context: context)
        }
    }

    /// Sends a message whose reply is discarded.
    public func tell<M: ActorMessage>(_ message: M, to key: Key) throws(RequestError) {
        if let error = route(Envelope(message: message, replyTo: nil, context: 0, deadline: 0), to: key) {
            throw error
        }
    }

    // Inlinable, with what it reaches, so that a caller that knows `Key` and `State` (a service's own shard
    // handler, see `KeyedActorHandler`) gets a specialized copy: unspecialized, the dictionary lookup, the lock and
    // the runtime metadata lookups for the generic types cost ~0.3 µs per message.
    @inlinable
    func route(_ envelope: Envelope, to key: Key) -> RequestError? {
        var attempt = 0
        while true {
            if closed.load(ordering: .relaxed) {
                return RequestError(.stopped, "actor registry shut down")
            }
            // Lookup and enqueue under the stripe lock, so passivation (which removes only idle actors with empty
            // mailboxes, under the same lock) can never strand this envelope.
            // `closed` again under the lock: `shutdown` sets it before emptying each stripe, so no actor can be
            // spawned into a stripe it already emptied.
            // The non-generic cell and a flag, not a tuple with `ActorRef<State>`: this code runs unspecialized
            // (behind the cluster's existentials), where such a tuple costs a runtime metadata lookup per call.
            var enqueued = false
            let routed: ActorCell? = stripes[stripe(for: key)].table.withLock { table in
                if closed.load(ordering: .relaxed) { return nil }
                let actor = lookupOrSpawn(key, in: &table)
                enqueued = actor.mailbox.enqueue(envelope)
                return actor
            }
            guard let actor = routed else {
                return RequestError(.stopped, "actor registry shut down")
            }
            if enqueued {
                actor.scheduleIfIdle()
                return nil
            }
            // Full. Retry through the table rather than waiting on this reference: once the mailbox drains, the
            // actor may be passivated and replaced.
            if options.actor.overflow == .fail {
                metrics.mailboxFull()
                return RequestError(.mailboxFull, "mailbox full (\(actor.mailbox.capacity) messages)")
            }
            if !actor.executor.callerMayWait(forAffinity: actor.options.affinity) {
                metrics.mailboxFull()
                return RequestError(
                    .mailboxFull,
                    "mailbox full (\(actor.mailbox.capacity) messages); not waiting on a thread that runs its turns")
            }
            if envelope.deadline != 0 && MonotonicClock.now() >= envelope.deadline {
                return RequestError(.deadlineExceeded, "deadline passed while waiting for mailbox room")
            }
            attempt += 1
            backoff(attempt)
        }
    }

    /// Stops and removes the actors idle longer than `olderThan`.
    ///
    /// Idle time is measured from the end of an actor's last turn when activity is tracked (an `idleTimeout` is
    /// set, or `actor.tracksActivity`), otherwise from its creation.
    /// - Returns: how many were passivated.
    @discardableResult
    public func passivateIdle(olderThan idle: Duration, now: UInt64 = MonotonicClock.coarseNow()) -> Int {
        let threshold = MonotonicClock.nanoseconds(idle)
        var passivated = 0
        for stripe in stripes {
            let retain = options.retainsPassivatedState
            let victims: [ActorRef<State>] = stripe.table.withLock { table in
                var victims: [ActorRef<State>] = []
                for (key, actor) in table.actors
                where actor.allowsPassivation && now &- min(now, actor.lastActivity) >= threshold
                    && actor.claimForPassivation()
                {
                    table.actors[key] = nil
                    if retain {
                        // Safe outside a turn: the actor is claimed (see `ActorCell.claimForPassivation`).
                        table.dormant[key] = actor.box.value
                    }
                    victims.append(actor)
                }
                return victims
            }
            for actor in victims { actor.finishPassivation() }
            passivated += victims.count
        }
        if passivated > 0 {
            metrics.actorsAlive.wrappingSubtract(passivated, ordering: .relaxed)
            metrics.passivations.wrappingAdd(passivated, ordering: .relaxed)
        }
        return passivated
    }

    /// The number of live actors.
    public var count: Int { stripes.reduce(0) { total, stripe in total + stripe.table.withLock { $0.actors.count } } }

    /// The number of passivated keys whose state is kept (``ActorRegistryOptions/retainsPassivatedState``).
    public var dormantCount: Int {
        stripes.reduce(0) { total, stripe in total + stripe.table.withLock { $0.dormant.count } }
    }

    /// Stops every actor (queued requests are answered with `stopped`) and refuses later sends.
    public func shutdown() {
        closed.store(true, ordering: .sequentiallyConsistent)
        sweeper.withLock {
            $0?.stop()
            $0 = nil
        }
        for stripe in stripes {
            let actors = stripe.table.withLock { table in
                defer {
                    table.actors.removeAll()
                    table.dormant.removeAll()
                }
                return Array(table.actors.values)
            }
            for actor in actors { actor.stop() }
            metrics.actorsAlive.wrappingSubtract(actors.count, ordering: .relaxed)
        }
    }
}

/// The actors of one lock stripe, and the retained state of its passivated keys.
@usableFromInline
struct StripeTable<Key: Hashable, State> {
    @usableFromInline var actors: [Key: ActorRef<State>] = [:]
    @usableFromInline var dormant: [Key: State] = [:]

    @usableFromInline init() {}
}

/// One lock stripe of a key table.
@usableFromInline
final class Stripe<Key: Hashable, State>: @unchecked Sendable {
    // @unchecked Sendable: the table (and any non-Sendable state in it) is only reached under the lock.
    @usableFromInline let table = Locked<StripeTable<Key, State>>(StripeTable())

    @usableFromInline init() {}
}
