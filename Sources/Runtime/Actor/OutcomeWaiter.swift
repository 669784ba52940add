import Synchronization

/// Runs `send` with a one-shot receiver and waits for its outcome or the timeout, whichever comes first: the
/// `async` conveniences of ``ActorRef`` and ``ClusterClient`` (not for the hot path: a continuation, a receiver and
/// a timer task per call).
/// - Parameters:
///   - timeout: when to give up with `deadlineExceeded`.
///   - send: starts the operation; its outcome must go to the given receiver.
/// - Returns: the outcome, or `deadlineExceeded` after `timeout`.
func awaitOutcome(timeout: Duration, _ send: @escaping @Sendable (OutcomeWaiter) -> Void) async -> Outcome {
    await withCheckedContinuation { continuation in
        let waiter = OutcomeWaiter(continuation)
        let timer = Task {
            try? await Task.sleep(for: timeout)
            waiter.resume(.failure(RequestError(.deadlineExceeded, "no reply within \(timeout)")))
        }
        waiter.setTimer(timer)
        send(waiter)
    }
}

/// A one-shot receiver that resumes its continuation exactly once: with the outcome or the timer's error.
final class OutcomeWaiter: ReplyHandler {
    private let continuation: Locked<CheckedContinuation<Outcome, Never>?>
    private let timer = Locked<Task<Void, Never>?>(nil)

    init(_ continuation: CheckedContinuation<Outcome, Never>) {
        self.continuation = Locked(continuation)
    }

    func setTimer(_ task: Task<Void, Never>) {
        timer.withLock { $0 = task }
    }

    func deliver(_ reply: Outcome, context: UInt64) {
        resume(reply)
        timer.withLock { $0?.cancel() }
    }

    func resume(_ outcome: Outcome) {
        let taken = continuation.withLock { value -> CheckedContinuation<Outcome, Never>? in
            defer { value = nil }
            return value
        }
        taken?.resume(returning: outcome)
    }
}
