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
    public func request<M: ActorMessage>(_ message: M, timeout: Duration = .seconds(5)) async throws(RequestError) -> M.Reply {
        let deadline = MonotonicClock.deadline(after: timeout)
        let result: Result<M.Reply, RequestError> = await withCheckedContinuation { continuation in
            let waiter = AsyncReplyWaiter<M.Reply>(continuation)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                waiter.resume(.failure(RequestError(.deadlineExceeded, "no reply within \(timeout)")))
            }
            waiter.timer.withLock { $0 = timer }
            self.request(message, replyTo: waiter, context: 0, deadline: deadline)
        }
        return try result.get()
    }
}

/// A one-shot reply receiver that resumes a continuation exactly once (reply or timeout, whichever comes first).
final class AsyncReplyWaiter<Reply: Sendable>: ReplyHandler {
    private let continuation: Locked<CheckedContinuation<Result<Reply, RequestError>, Never>?>
    let timer = Locked<Task<Void, Never>?>(nil)

    init(_ continuation: CheckedContinuation<Result<Reply, RequestError>, Never>) {
        self.continuation = Locked(continuation)
    }

    func deliver(_ reply: Outcome, context: UInt64) {
        resume(reply.get(as: Reply.self))
        timer.withLock { $0?.cancel() }
    }

    func resume(_ result: Result<Reply, RequestError>) {
        let taken = continuation.withLock { value -> CheckedContinuation<Result<Reply, RequestError>, Never>? in
            defer { value = nil }
            return value
        }
        taken?.resume(returning: result)
    }
}
