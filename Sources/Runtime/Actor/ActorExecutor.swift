/// Something an executor can run: an actor's turn.
///
/// Jobs are long-lived objects (the actors themselves), so scheduling one allocates nothing.
public protocol ActorJob: AnyObject, Sendable {
    /// Runs one turn. Called by the executor on the thread it chose.
    func runTurn()
}

/// Runs actor turns: the runtime's scheduler abstraction.
///
/// An actor is handed to its executor when its mailbox turns non-empty and it is idle; the executor decides the
/// thread. ``WorkerPool`` runs turns on dedicated threads; ``InlineExecutor`` runs them on the caller's thread;
/// the HTTP layer provides an executor that runs turns on the event loop that owns a shard (shard-per-core).
public protocol ActorExecutor: AnyObject, Sendable {
    /// Schedules one turn of `job`.
    /// - Parameters:
    ///   - job: the actor to run.
    ///   - affinity: a hint (for example the actor's shard) that executors with several threads use to keep an
    ///     actor on the same thread; any value is valid.
    func execute(_ job: any ActorJob, affinity: Int)

    /// Whether a sender on the calling thread may wait for room in the full mailbox of an actor this executor runs
    /// with `affinity` (``OverflowPolicy/wait``): false when the calling thread may be the one that must run that
    /// actor's next turn, for then nothing would drain the mailbox and the wait could only end at the deadline.
    /// A send that may not wait fails at once with `mailboxFull`.
    /// - Parameter affinity: the actor's affinity (``ActorOptions/affinity``).
    func callerMayWait(forAffinity affinity: Int) -> Bool
}

/// Runs each turn at once on the thread that scheduled it.
///
/// The fastest choice when callers already run on the thread that should own the actor (an event loop owning a
/// shard, a single-threaded benchmark). A turn that sends to another idle actor runs that actor nested.
public final class InlineExecutor: ActorExecutor {
    public init() {}

    @inlinable
    public func execute(_ job: any ActorJob, affinity: Int) {
        job.runTurn()
    }

    /// Never: a full mailbox means some thread is in the actor's turn, and that may be this one (a turn that sends
    /// to its own actor, or to one whose turn it runs nested); telling which would cost a thread-local per send.
    public func callerMayWait(forAffinity affinity: Int) -> Bool { false }
}
