/// Where a deferred handler's reply goes (the request's receiver and context).
public struct DeferredReplyTarget: Sendable {
    @usableFromInline let replyTo: (any ReplyHandler)?
    @usableFromInline let context: UInt64
}

/// The reply obligation of one request, taken by a deferred handler (``ActorBehavior/onDeferred(_:_:)``).
///
/// Answer exactly once, with ``succeed(_:)`` or ``fail(_:)``, from any thread; the answer goes straight to the
/// requester's ``ReplyHandler`` on that thread. A request sent with `tell` has no receiver: answering is a no-op.
public struct DeferredReply<Reply: Sendable>: Sendable {
    @usableFromInline let target: DeferredReplyTarget

    @usableFromInline
    init(_ target: DeferredReplyTarget) { self.target = target }

    /// Answers with a reply value.
    @inlinable
    public func succeed(_ reply: Reply) {
        target.replyTo?.deliver(.success(reply), context: target.context)
    }

    /// Answers with an error.
    @inlinable
    public func fail(_ error: RequestError) {
        target.replyTo?.deliver(.failure(error), context: target.context)
    }
}

/// The running turn, as a deferred handler sees it.
public struct ActorTurn: Sendable {
    let cell: ActorCell

    /// Suspends the actor's turns after this handler returns, until the returned suspension is resumed: later
    /// messages wait in the mailbox, no thread blocks. Call at most once per handler.
    public func suspend() -> ActorSuspension {
        cell.suspendTurns()
        return ActorSuspension(cell: cell)
    }
}

/// A suspension of an actor's turns (``ActorTurn/suspend()``); resume it exactly once.
public struct ActorSuspension: Sendable {
    let cell: ActorCell

    /// Lets the actor handle its next messages (on its executor). Call exactly once, from any thread, after the
    /// work that needed exclusive access is done (the state written here is visible to the next turn).
    public func resume() {
        cell.resumeTurns()
    }
}
