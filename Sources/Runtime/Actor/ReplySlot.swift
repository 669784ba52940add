import Synchronization

/// A reusable reply receiver for one outstanding request at a time, for threads that block for their reply.
///
/// ``deliver(_:context:)`` stores the reply and wakes the waiter; ``wait()`` returns it and resets the slot for
/// the next request. Reusing the slot makes a blocking request/reply loop allocation-free.
public final class ReplySlot: ReplyHandler, @unchecked Sendable {
    // @unchecked Sendable: `reply` is written by the delivering thread before the releasing store of `ready` and
    // read by the waiter after an acquiring load of it; one request is outstanding at a time.
    private var reply: Outcome?
    private var replyContext: UInt64 = 0
    private let ready = Atomic<Bool>(false)
    private let waiting = Atomic<Bool>(false)
    private let parker = Parker()

    public init() {}

    public func deliver(_ reply: Outcome, context: UInt64) {
        self.reply = reply
        self.replyContext = context
        // Sequentially consistent: pairs with the waiter's store of `waiting` before its last check of `ready`.
        ready.store(true, ordering: .sequentiallyConsistent)
        if waiting.load(ordering: .sequentiallyConsistent) {
            parker.unpark()
        }
    }

    /// Whether a reply is waiting to be taken.
    public var hasReply: Bool { ready.load(ordering: .acquiring) }

    /// Blocks until the reply arrives, then returns it and resets the slot.
    public func wait() -> (reply: Outcome, context: UInt64) {
        var spins = 0
        while !ready.load(ordering: .acquiring) {
            spins += 1
            if spins < 2_000 { continue }
            waiting.store(true, ordering: .sequentiallyConsistent)
            if ready.load(ordering: .sequentiallyConsistent) {
                waiting.store(false, ordering: .relaxed)
                break
            }
            parker.park(timeoutNanoseconds: 10_000_000)
            waiting.store(false, ordering: .relaxed)
        }
        let taken = (reply!, replyContext)
        reply = nil
        ready.store(false, ordering: .relaxed)
        return taken
    }
}
