import Synchronization

/// Configuration of one actor.
public struct ActorOptions: Sendable {
    /// Mailbox slots (rounded up to a power of two), allocated once when the actor starts.
    public var mailboxCapacity: Int = 1024
    /// What a send does when the mailbox is full.
    public var overflow: OverflowPolicy = .wait
    /// The most messages handled in one turn before the actor yields its thread to others.
    public var throughput: Int = 64
    /// The executor hint that keeps this actor on one thread (for example its shard); -1 spreads round-robin.
    public var affinity: Int = -1
    /// Record when each turn ends (a coarse clock read per turn), which passivation needs; registries with an
    /// idle timeout turn it on.
    public var tracksActivity: Bool = false

    public init() {}
}

/// One message in a mailbox: the message, where its reply goes, and its deadline.
@usableFromInline
struct Envelope: Sendable {
    @usableFromInline var message: any Sendable
    @usableFromInline var replyTo: (any ReplyHandler)?
    @usableFromInline var context: UInt64
    /// Monotonic nanoseconds; 0 means none.
    @usableFromInline var deadline: UInt64

    @inlinable
    init(message: any Sendable, replyTo: (any ReplyHandler)?, context: UInt64, deadline: UInt64) {
        self.message = message
        self.replyTo = replyTo
        self.context = context
        self.deadline = deadline
    }
}

/// An actor: a state, typed handlers, and a lock-free mailbox whose messages are handled one at a time.
///
/// ## State word
/// `phase` (bits 0–1) and `stop` (bit 2):
/// - `idle` (0): no turn queued or running. A producer that finds the actor idle after enqueueing moves it to
///   `scheduled` with a compare-and-swap and hands it to the executor; only that producer does.
/// - `scheduled` (1): handed to the executor, turn not started.
/// - `running` (2): a turn is handling messages. The turn goes `scheduled → running` at its start and
///   `running → idle` at its end, then checks the mailbox again and reschedules itself if a message arrived.
/// - `stop` (4): set once by ``stop()`` and never cleared. Sends fail with ``RequestError/Code/stopped``; the next
///   turn fails every queued request with that error and runs `onStop`.
///
/// Because only the producer that wins `idle → scheduled` schedules a turn, at most one turn exists at a time and
/// the state is touched by one thread at a time. The producer publishes its message with a sequentially consistent
/// store and then reads the state word; the turn writes `idle` and then reads the mailbox, both sequentially
/// consistent: one of the two always sees the other, so no message is left without a turn.
///
/// The turn loop lives in this non-generic base class and calls handlers bound to the state
/// (``ActorBehavior``), so no unspecialized generic code runs per message; ``ActorRef`` adds the typed state.
public class ActorCell: ActorJob, @unchecked Sendable {
    // @unchecked Sendable: the bound state is touched only inside a turn (or by a passivation that claimed the
    // actor, see `claimForPassivation`), and turns are serialized by the state word (see above); everything else
    // is immutable or atomic.

    @usableFromInline static var idle: Int { 0 }
    @usableFromInline static var scheduled: Int { 1 }
    @usableFromInline static var running: Int { 2 }
    @usableFromInline static var phaseMask: Int { 3 }
    @usableFromInline static var stopBit: Int { 4 }

    @usableFromInline let mailbox: MPSCRing<Envelope>
    @usableFromInline let executor: any ActorExecutor
    @usableFromInline let word = Atomic<Int>(0)
    @usableFromInline let options: ActorOptions
    @usableFromInline let metrics: ActorMetrics?
    let behavior: BoundBehavior
    /// Set once by the turn that runs `onStop`; read after the turn has gone idle, so atomic.
    private let stopHandled = Atomic<Bool>(false)
    private let lastTurnEnd = Atomic<UInt64>(0)
    /// The behavior's `passivatable` verdict at the end of the last turn (true when the behavior has none).
    private let passivatableState = Atomic<Bool>(true)
    /// Suspension of turns by a deferred handler (``ActorTurn/suspend()``):
    /// - 0 `none`;
    /// - 1 `requested`: a handler of the running turn suspended the actor; the turn ends after the handler;
    /// - 2 `resumedEarly`: resumed while the turn still ran: the turn goes on;
    /// - 3 `parked`: the turn ended leaving the word `scheduled`; ``resumeTurns()`` hands the actor to the
    ///   executor.
    /// The turn moves 1 → 3 only after the state word is back to `scheduled`, so a resume that sees 3 may start a
    /// turn at once.
    private let suspension = Atomic<Int>(0)

    init(behavior: BoundBehavior, executor: any ActorExecutor, options: ActorOptions, metrics: ActorMetrics?) {
        self.behavior = behavior
        self.executor = executor
        self.options = options
        self.metrics = metrics
        self.mailbox = MPSCRing(minimumCapacity: options.mailboxCapacity)
        lastTurnEnd.store(MonotonicClock.coarseNow(), ordering: .relaxed)
    }

    // MARK: Sending

    /// Sends a message whose reply is discarded.
    /// - Throws: ``RequestError`` with `mailboxFull` (policy `.fail`), `stopped`, or `deadlineExceeded` (policy
    ///   `.wait` past `deadline`).
    @inlinable
    public func tell<M: ActorMessage>(_ message: M, deadline: UInt64 = 0) throws(RequestError) {
        if let error = send(Envelope(message: message, replyTo: nil, context: 0, deadline: deadline)) {
            throw error
        }
    }

    /// Sends a request; the reply (or the error it ends with) goes to `replyTo` with `context`.
    ///
    /// A request that cannot be enqueued is answered at once, on the caller's thread. A request whose deadline
    /// has passed when its turn comes is answered with `deadlineExceeded` without running the handler.
    /// - Parameters:
    ///   - message: the request.
    ///   - replyTo: the receiver of the reply.
    ///   - context: passed back with the reply.
    ///   - deadline: monotonic nanoseconds (``MonotonicClock``); 0 for none.
    @inlinable
    public func request<M: ActorMessage>(
        _ message: M, replyTo: any ReplyHandler, context: UInt64 = 0, deadline: UInt64 = 0
    ) {
        if let error = send(Envelope(message: message, replyTo: replyTo, context: context, deadline: deadline)) {
            replyTo.deliver(.failure(error), context: context)
        }
    }

    /// Sends an untyped message (the cluster layer's entry point); same contract as the typed `request`.
    @inlinable
    public func requestUntyped(
        _ message: any Sendable, replyTo: (any ReplyHandler)?, context: UInt64 = 0, deadline: UInt64 = 0
    ) {
        if let error = send(Envelope(message: message, replyTo: replyTo, context: context, deadline: deadline)) {
            replyTo?.deliver(.failure(error), context: context)
        }
    }

    /// Enqueues and schedules; returns the error when the envelope could not be enqueued.
    @inlinable
    func send(_ envelope: Envelope) -> RequestError? {
        if word.load(ordering: .relaxed) & Self.stopBit != 0 {
            return RequestError(.stopped, "actor stopped")
        }
        if !mailbox.enqueue(envelope) {
            if let error = waitAndEnqueue(envelope) { return error }
        }
        scheduleIfIdle()
        return nil
    }

    @usableFromInline
    func waitAndEnqueue(_ envelope: Envelope) -> RequestError? {
        if options.overflow == .fail {
            metrics?.mailboxFull()
            return RequestError(.mailboxFull, "mailbox full (\(mailbox.capacity) messages)")
        }
        if !executor.callerMayWait(forAffinity: options.affinity) {
            metrics?.mailboxFull()
            return RequestError(
                .mailboxFull, "mailbox full (\(mailbox.capacity) messages); not waiting on a thread that runs its turns"
            )
        }
        var attempt = 0
        while true {
            if word.load(ordering: .relaxed) & Self.stopBit != 0 {
                return RequestError(.stopped, "actor stopped")
            }
            if envelope.deadline != 0 && MonotonicClock.now() >= envelope.deadline {
                return RequestError(.deadlineExceeded, "deadline passed while waiting for mailbox room")
            }
            if mailbox.enqueue(envelope) { return nil }
            attempt += 1
            backoff(attempt)
        }
    }

    /// Moves `idle → scheduled` and hands the actor to its executor, if it was idle.
    @inlinable
    func scheduleIfIdle() {
        // Sequentially consistent: the second half of the handshake with the turn's end (see the type's docs).
        var current = word.load(ordering: .sequentiallyConsistent)
        while current & Self.phaseMask == Self.idle {
            let (exchanged, observed) = word.compareExchange(
                expected: current, desired: current | Self.scheduled, ordering: .sequentiallyConsistent)
            if exchanged {
                executor.execute(self, affinity: options.affinity)
                return
            }
            current = observed
        }
    }

    // MARK: Lifecycle

    /// Stops the actor: later sends fail with `stopped`, queued requests are answered with `stopped`, and the
    /// behavior's `onStop` runs once, on the actor's next turn. Idempotent.
    public func stop() {
        let previous = word.bitwiseOr(Self.stopBit, ordering: .sequentiallyConsistent).oldValue
        if previous & Self.stopBit == 0 {
            scheduleIfIdle()
        }
    }

    /// Whether ``stop()`` was called.
    public var isStopped: Bool { word.load(ordering: .relaxed) & Self.stopBit != 0 }

    /// Takes the actor for passivation: moves it `idle → scheduled` (so no producer schedules a turn and no turn
    /// runs), then checks the mailbox. With the claim held the state can be read from this thread: the last turn
    /// ended with a sequentially consistent store of `idle`, which the compare-and-swap read.
    ///
    /// - Returns: `true` when claimed with an empty mailbox; the caller must then call ``finishPassivation()``.
    ///   `false` when the actor was busy, stopped, or a message slipped in (then its turn is handed to the
    ///   executor as usual).
    func claimForPassivation() -> Bool {
        guard
            word.compareExchange(
                expected: Self.idle, desired: Self.scheduled, ordering: .sequentiallyConsistent
            ).exchanged
        else { return false }
        if mailbox.approximateCount != 0 {
            executor.execute(self, affinity: options.affinity)
            return false
        }
        return true
    }

    /// Stops an actor claimed by ``claimForPassivation()`` and hands it its last turn: that turn answers anything
    /// sent meanwhile through a direct reference with `stopped` and runs `onStop`.
    func finishPassivation() {
        word.bitwiseOr(Self.stopBit, ordering: .sequentiallyConsistent)
        executor.execute(self, affinity: options.affinity)
    }

    /// Whether the behavior allowed passivation at the end of the last turn.
    var allowsPassivation: Bool { passivatableState.load(ordering: .acquiring) }

    /// Monotonic nanoseconds at the end of the last turn (or at creation).
    var lastActivity: UInt64 { lastTurnEnd.load(ordering: .relaxed) }

    /// An approximate number of queued messages.
    public var mailboxDepth: Int { mailbox.approximateCount }

    // MARK: Turn

    public func runTurn() {
        // scheduled → running; the stop bit is preserved by the addition.
        let entry = word.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        if entry & Self.stopBit != 0 {
            drainStopped()
        } else {
            var handled = 0
            var suspended = false
            // Relaxed: a stop that lands mid-turn only needs to be noticed eventually; the drain below and the
            // rescheduling at the end of the turn answer whatever is left.
            while handled < options.throughput, word.load(ordering: .relaxed) & Self.stopBit == 0,
                let envelope = mailbox.dequeue()
            {
                handled += 1
                if handle(envelope) {
                    suspended = true
                    break
                }
            }
            metrics?.turnCompleted(messages: handled, depthAfter: mailbox.approximateCount)
            if options.tracksActivity {
                lastTurnEnd.store(MonotonicClock.coarseNow(), ordering: .relaxed)
            }
            if let passivatable = behavior.passivatable {
                // Releasing: published before the turn goes idle; the sweeper reads it after seeing idle.
                passivatableState.store(passivatable(), ordering: .releasing)
            }
            if suspended {
                parkSuspendedTurn()
                return
            }
        }
        // running → idle, then look again: a producer that saw us running relied on this check.
        word.wrappingSubtract(2, ordering: .sequentiallyConsistent)
        if mailbox.hasPublishedElement
            || (word.load(ordering: .relaxed) & Self.stopBit != 0 && !stopHandled.load(ordering: .relaxed))
        {
            scheduleIfIdle()
        }
    }

    /// Ends a turn whose handler suspended the actor: `running → scheduled` (producers see a busy actor and only
    /// enqueue; the sweeper cannot claim it), then hands over to ``resumeTurns()``.
    private func parkSuspendedTurn() {
        word.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        // Sequentially consistent: orders the word's `scheduled` before the hand-over a resume reads.
        if !suspension.compareExchange(expected: 1, desired: 3, ordering: .sequentiallyConsistent).exchanged {
            // Resumed between the handler's return and here: the next turn starts now.
            suspension.store(0, ordering: .sequentiallyConsistent)
            executor.execute(self, affinity: options.affinity)
        }
    }

    /// Called by a deferred handler on its turn (``ActorTurn/suspend()``).
    func suspendTurns() {
        // Relaxed: only the turn's thread writes 0 → 1; the resuming thread reads it with a sequentially
        // consistent compare-and-swap that orders after the handler returned through the suspension's hand-off.
        precondition(suspension.load(ordering: .relaxed) == 0, "actor suspended twice in one turn")
        suspension.store(1, ordering: .sequentiallyConsistent)
    }

    /// Resumes turns suspended by ``suspendTurns()``: exactly once per suspension, from any thread.
    func resumeTurns() {
        var current = suspension.load(ordering: .sequentiallyConsistent)
        while true {
            switch current {
            case 1:
                let (exchanged, observed) = suspension.compareExchange(
                    expected: 1, desired: 2, ordering: .sequentiallyConsistent)
                if exchanged { return }
                current = observed
            case 3:
                suspension.store(0, ordering: .sequentiallyConsistent)
                executor.execute(self, affinity: options.affinity)
                return
            default:
                preconditionFailure("actor resumed without a suspension")
            }
        }
    }

    /// After a deferred handler returned: whether the turn must end because the handler suspended the actor.
    @inline(__always)
    private func turnSuspended() -> Bool {
        switch suspension.load(ordering: .sequentiallyConsistent) {
        case 0: return false
        case 2:
            // Resumed before the handler returned (a synchronous completion): go on.
            suspension.store(0, ordering: .sequentiallyConsistent)
            return false
        default: return true
        }
    }

    /// Handles one message; returns whether a deferred handler suspended the actor.
    @inline(__always)
    private func handle(_ envelope: Envelope) -> Bool {
        // One clock read serves both the deadline check and the handler timing.
        let start = envelope.deadline != 0 || metrics != nil ? MonotonicClock.now() : 0
        if envelope.deadline != 0 && start >= envelope.deadline {
            metrics?.messageExpired()
            envelope.replyTo?.deliver(
                .failure(RequestError(.deadlineExceeded, "deadline passed before the actor handled the message")),
                context: envelope.context)
            return false
        }
        let reply: Outcome
        do {
            guard
                let value = try behavior.handle(
                    envelope.message, replyTo: envelope.replyTo, context: envelope.context, cell: self)
            else {
                // A deferred handler took the reply obligation.
                metrics?.messageHandled(nanoseconds: MonotonicClock.now() &- start)
                return turnSuspended()
            }
            reply = .success(value)
        } catch {
            reply = .failure(RequestError.from(handlerError: error))
        }
        if let metrics {
            if case .failure = reply { metrics.messageFailed() }
            metrics.messageHandled(nanoseconds: MonotonicClock.now() &- start)
        }
        envelope.replyTo?.deliver(reply, context: envelope.context)
        return false
    }

    private func drainStopped() {
        while let envelope = mailbox.dequeue() {
            envelope.replyTo?.deliver(.failure(RequestError(.stopped, "actor stopped")), context: envelope.context)
        }
        // Relaxed: only turns write it, and turns are serialized by the state word.
        if !stopHandled.load(ordering: .relaxed) {
            stopHandled.store(true, ordering: .relaxed)
            behavior.onStop?()
        }
    }
}

/// An actor with a state of type `State`: see ``ActorCell`` for the mailbox, the state word and turns.
public final class ActorRef<State>: ActorCell, @unchecked Sendable {
    // @unchecked Sendable: the state lives in a box only the actor's serialized turns touch.

    /// Creates an actor; it is ready at once and runs only when it has messages.
    /// - Parameters:
    ///   - state: the initial state.
    ///   - behavior: the handlers.
    ///   - executor: where its turns run.
    ///   - options: mailbox size, overflow policy, throughput, affinity.
    ///   - metrics: optional hooks (lock-free counters).
    public init(
        state: State,
        behavior: ActorBehavior<State>,
        executor: any ActorExecutor,
        options: ActorOptions = ActorOptions(),
        metrics: ActorMetrics? = nil
    ) {
        let box = StateBox(state)
        self.box = box
        super.init(behavior: behavior.bind(to: box), executor: executor, options: options, metrics: metrics)
    }

    /// The state, read outside a turn: only while the actor is claimed by ``claimForPassivation()``.
    let box: StateBox<State>
}

@usableFromInline
func backoff(_ attempt: Int) {
    if attempt < 32 { return }
    if attempt < 64 {
        sched_yield()
        return
    }
    var pause = timespec(tv_sec: 0, tv_nsec: 50_000)
    nanosleep(&pause, nil)
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
