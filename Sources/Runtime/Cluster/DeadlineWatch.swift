import Synchronization

/// Makes sure every request a transport hands to a handler is answered by its deadline.
///
/// Each request borrows a ``PendingReply`` slot from a preallocated table (a lock-free free stack; no allocation
/// in steady state); the handler replies to the slot, which forwards to the requester on the replying thread (no
/// thread hop). A background sweep every `interval` answers the armed slots whose deadline has passed with
/// `deadlineExceeded`; the handler's late reply is then dropped. When the table is exhausted, slots are allocated
/// (and tracked under a lock) until the load drops.
final class DeadlineWatch: Sendable {
    private let slots: [PendingReply]
    /// One past the highest slot index ever handed out: the sweep looks no further. The free stack is LIFO with
    /// slot 0 on top at the start, so this stays near the largest number of requests ever in flight at once.
    private let highWater = Atomic<Int>(0)
    let pool: PendingReplyPool
    private let ticker: Locked<BackgroundTicker?> = Locked(nil)
    private let retiring = Atomic<Bool>(false)
    /// The monotonic time of the last sweep (or of creation): a clock that lags by at most one interval, free to
    /// read. A deadline before it has certainly passed.
    private let lastSweep = Atomic<UInt64>(MonotonicClock.now())

    /// Creates the table and starts the sweep.
    /// - Parameters:
    ///   - capacity: preallocated slots (requests in flight without allocation).
    ///   - interval: how often the sweep runs: the precision of deadline enforcement.
    init(capacity: Int, interval: Duration) {
        let pool = PendingReplyPool()
        let slots = (0..<max(1, capacity)).map { PendingReply(index: $0, pool: pool) }
        // Pushed in reverse so that slot 0 is on top: the slots in use stay few and warm.
        for slot in slots.reversed() { pool.release(slot) }
        self.slots = slots
        self.pool = pool
        // The ticker holds the watch strongly (a weak reference would give the watch a side table and make every
        // retain of it on the request path take the slow path); the cycle is broken by `stop()`, which the owning
        // transport calls when it closes or goes away.
        let ticker = BackgroundTicker(interval: interval) { [self] in
            sweep()
        }
        self.ticker.withLock { $0 = ticker }
    }

    /// Stops the sweep at once (the owner is going away).
    func stop() {
        ticker.withLock {
            $0?.stop()
            $0 = nil
        }
    }

    /// Arms a slot for a request.
    /// - Parameters:
    ///   - replyTo: the requester's receiver.
    ///   - context: the requester's context.
    ///   - deadline: monotonic nanoseconds.
    /// - Returns: the receiver and context to hand to the handler.
    func watch(replyTo: any ReplyHandler, context: UInt64, deadline: UInt64) -> (PendingReply, UInt64) {
        let slot = acquire()
        return (slot, slot.arm(replyTo: replyTo, context: context, deadline: deadline))
    }

    private func acquire() -> PendingReply {
        // Acquiring: pairs with the releasing push, so the slot's `nextFree` and cleared fields are visible.
        var head = pool.top.load(ordering: .acquiring)
        while true {
            let index = Int(head & 0xFFFF_FFFF) - 1
            if index < 0 { return allocateOverflow() }
            let slot = slots[index]
            // Relaxed: a stale value (the slot was popped and pushed again meanwhile) fails the tag check below.
            let next = slot.nextFree.load(ordering: .relaxed)
            let desired = ((head >> 32) &+ 1) << 32 | UInt64(next + 1)
            let (exchanged, observed) = pool.top.compareExchange(
                expected: head, desired: desired, successOrdering: .acquiring, failureOrdering: .acquiring)
            if exchanged {
                // Relaxed: the sweep tolerates a stale bound (a slot armed after the sweep read it is looked at in
                // the next sweep, one interval later).
                if index >= highWater.load(ordering: .relaxed) {
                    highWater.max(index + 1, ordering: .relaxed)
                }
                return slot
            }
            head = observed
        }
    }

    private func allocateOverflow() -> PendingReply {
        let slot = PendingReply(index: -1, pool: pool)
        pool.overflow.withLock { $0[ObjectIdentifier(slot)] = slot }
        // Relaxed: a statistic.
        pool.overflowAllocations.wrappingAdd(1, ordering: .relaxed)
        return slot
    }

    /// Answers the armed requests whose deadline has passed; stops the sweep once retired and idle.
    /// - Parameter now: monotonic nanoseconds.
    func sweep(now: UInt64 = MonotonicClock.now()) {
        // Relaxed: readers only need some recent value; a stale one makes them defer to the next check.
        lastSweep.store(now, ordering: .relaxed)
        var armed = 0
        // Relaxed: see `highWater`.
        let bound = min(slots.count, highWater.load(ordering: .relaxed))
        for index in 0..<bound {
            if expireIfDue(slots[index], now: now) { armed += 1 }
        }
        let extra = pool.overflow.withLock { Array($0.values) }
        for slot in extra {
            if expireIfDue(slot, now: now) { armed += 1 }
        }
        // Relaxed: a retiring transport is only swept until its in-flight requests are gone; being one sweep late
        // in noticing is harmless.
        if armed == 0 && retiring.load(ordering: .relaxed) {
            stop()
        }
    }

    /// Answers `slot`'s request if it is overdue. - Returns: whether the slot is still armed.
    private func expireIfDue(_ slot: PendingReply, now: UInt64) -> Bool {
        guard let token = slot.armedToken else { return false }
        // Relaxed: ordered after the acquiring load inside `armedToken`; a newer generation's deadline makes the
        // compare-and-swap inside `finish` fail.
        if slot.deadline.load(ordering: .relaxed) > now { return true }
        if let (receiver, context) = slot.finish(token: token) {
            // Relaxed: a statistic.
            pool.expired.wrappingAdd(1, ordering: .relaxed)
            receiver.deliver(
                .failure(RequestError(.deadlineExceeded, "no reply before the deadline")), context: context)
        }
        return false
    }

    /// A monotonic time at most one sweep interval old, without reading the clock.
    var coarseNow: UInt64 {
        // Relaxed: see `lastSweep`.
        lastSweep.load(ordering: .relaxed)
    }

    /// Stops the sweep once no request is in flight (the transport was closed).
    func retire() {
        retiring.store(true, ordering: .relaxed)
    }
}
