import Synchronization

extension ActorRef {
    /// Sends a request and waits for its typed reply: the `async` convenience over ``request(_:replyTo:context:deadline:)``.
    ///
    /// Not for the hot path: it allocates a continuation and a timer task per call.
    /// - Parameters:
    ///   - message: the request.
    ///   - timeout: how long to wait; the actor also skips the request if its turn comes later than that.
    /// - Returns: the handler's reply.
    /// - Throws: ``RequestError``: the handler's error, `deadlineExceeded`, `stopped` or `mailboxFull`.
    public func request<M: ActorMessage>(
        _ message: M, timeout: Duration = .seconds(5)
    ) async throws(RequestError) -> M.Reply {
        let deadline = MonotonicClock.deadline(after: timeout)
        let outcome = await awaitOutcome(timeout: timeout) { waiter in
            self.request(message, replyTo: waiter, context: 0, deadline: deadline)
        }
        return try outcome.get(as: M.Reply.self).get()
    }
}
