import Synchronization

/// A reusable stand-in reply receiver for one request at a time, so that the transport can answer a request whose
/// handler missed its deadline, and drop the handler's late reply.
///
/// ## State word
/// `generation << 1 | armed`. ``arm(replyTo:context:deadline:)`` bumps the generation and sets `armed`; the result
/// (the *token*) is the context the handler receives. The first of the handler's reply and the deadline sweep
/// clears `armed` with a compare-and-swap against the token, takes the real receiver, returns the slot to its pool
/// and forwards. A reply carrying an older token, or arriving after the sweep, finds the word changed and is
/// dropped (counted in ``PendingReplyPool/lateReplies``).
final class PendingReply: ReplyHandler, @unchecked Sendable {
    // @unchecked Sendable: `target` and `targetContext` are written by the thread that armed the slot before the
    // releasing store of the token, and read (and cleared) only by the one thread whose compare-and-swap on `state`
    // clears `armed`, with acquiring ordering. The slot is rearmed only after it went back to the pool (a releasing
    // compare-and-swap on the pool's top, acquired by the next popper).

    /// The slot's position in the watch's table; -1 for an overflow slot allocated when the table was exhausted.
    let index: Int
    let pool: PendingReplyPool
    let state = Atomic<UInt64>(0)
    /// Monotonic nanoseconds; read by the sweep, which checks `state` again before acting on it.
    let deadline = Atomic<UInt64>(0)
    /// The index of the next free slot while this one is on the free stack (-1: none).
    let nextFree = Atomic<Int>(-1)
    private var target: (any ReplyHandler)?
    private var targetContext: UInt64 = 0

    init(index: Int, pool: PendingReplyPool) {
        self.index = index
        self.pool = pool
    }

    /// Arms the slot for one request.
    /// - Parameters:
    ///   - replyTo: the requester's receiver.
    ///   - context: the requester's context.
    ///   - deadline: monotonic nanoseconds.
    /// - Returns: the token to pass to the handler as its context.
    func arm(replyTo: any ReplyHandler, context: UInt64, deadline: UInt64) -> UInt64 {
        // Relaxed: only this thread owns a disarmed slot popped from the pool.
        let generation = (state.load(ordering: .relaxed) >> 1) &+ 1
        target = replyTo
        targetContext = context
        // Relaxed: published by the releasing store of the token below.
        self.deadline.store(deadline, ordering: .relaxed)
        let token = generation << 1 | 1
        state.store(token, ordering: .releasing)
        return token
    }

    /// The handler's reply: forwarded to the requester if the slot is still armed with `context`'s token.
    func deliver(_ reply: Outcome, context: UInt64) {
        if let (receiver, receiverContext) = finish(token: context) {
            receiver.deliver(reply, context: receiverContext)
        } else {
            // Relaxed: a statistic.
            pool.lateReplies.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// Disarms the slot if it still holds `token`, and returns it to the pool.
    /// - Parameter token: the token the slot was armed with.
    /// - Returns: the requester's receiver and context, or `nil` when someone else finished this request.
    func finish(token: UInt64) -> (any ReplyHandler, UInt64)? {
        guard token & 1 == 1 else { return nil }
        // Acquiring: sees `target` written before the arming store; releasing: orders the clearing of `target`
        // before the slot becomes poppable again (the pool's releasing push also covers it).
        let (won, _) = state.compareExchange(
            expected: token, desired: token & ~1, ordering: .acquiringAndReleasing)
        // `take()` moves the reference out (no retain/release pair).
        guard won, let receiver = target.take() else { return nil }
        let receiverContext = targetContext
        pool.release(self)
        return (receiver, receiverContext)
    }

    /// Whether armed, and with which token (a racy snapshot for the sweep).
    var armedToken: UInt64? {
        // Acquiring: pairs with the arming store, so the deadline read next is at least this generation's.
        let word = state.load(ordering: .acquiring)
        return word & 1 == 1 ? word : nil
    }
}

/// The free stack of ``PendingReply`` slots, the overflow set, and counters. Slots reference it; it references no
/// table slot (the table lives in ``DeadlineWatch``), so there is no reference cycle.
///
/// The stack is a Treiber stack over slot indices: the top word is `tag << 32 | (index + 1)` (0: empty); the tag
/// changes on every push and pop so that a pop whose view of the top is stale fails its compare-and-swap (no ABA).
final class PendingReplyPool: Sendable {
    let top = Atomic<UInt64>(0)
    /// Slots allocated because the table was exhausted, while armed (they are not reused).
    let overflow = Locked<[ObjectIdentifier: PendingReply]>([:])
    /// Replies that came after their request was answered (late after a deadline, or duplicates).
    let lateReplies = Atomic<Int>(0)
    /// Requests answered with `deadlineExceeded` by the sweep.
    let expired = Atomic<Int>(0)
    /// Slots allocated beyond the table.
    let overflowAllocations = Atomic<Int>(0)

    init() {}

    /// Returns a finished slot to the free stack (or drops an overflow slot).
    func release(_ slot: PendingReply) {
        if slot.index < 0 {
            _ = overflow.withLock { $0.removeValue(forKey: ObjectIdentifier(slot)) }
            return
        }
        // Relaxed load: the compare-and-swap below validates it.
        var head = top.load(ordering: .relaxed)
        while true {
            // Relaxed: published by the releasing compare-and-swap that makes the slot the top.
            slot.nextFree.store(Int(head & 0xFFFF_FFFF) - 1, ordering: .relaxed)
            let desired = ((head >> 32) &+ 1) << 32 | UInt64(slot.index + 1)
            // Releasing: the slot's cleared fields and `nextFree` are visible to the thread that pops it.
            let (exchanged, observed) = top.compareExchange(
                expected: head, desired: desired, successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            head = observed
        }
    }
}
