import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A multi-producer queue whose single consumer thread sleeps until there is work: producers append under a short
/// lock (a pthread mutex, held for an array append) and signal the consumer only when it is waiting; the consumer
/// takes everything queued at once. Once closed, it refuses new elements and hands out what remains. A holder
/// (``hold()``/``release()``) can make the consumer wait a little for more elements (the group-commit writer
/// waits for the previous batch's completions, which often queue the next appends).
final class BlockingQueue<Element>: @unchecked Sendable {
    // @unchecked Sendable: `elements`, `closed`, `consumerWaiting`, `held` and `heldBatch` are only read and
    // written with `mutex` held; elements cross threads through the lock (the release/acquire of the mutex orders
    // their contents).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var elements: [Element] = []
    private var spare: [Element] = []
    private var closed = false
    private var consumerWaiting = false
    /// Set by ``hold()``: the consumer waits for ``release()`` (or a full batch) even when elements are queued.
    private var held = false
    /// The consumer's batch limit (a full batch ends a hold).
    private var heldBatch = Int.max

    /// The longest a ``hold()`` keeps queued elements from the consumer.
    private let holdLimitNanoseconds: Int

    /// - Parameter holdLimit: the longest a ``hold()`` keeps queued elements waiting (a slow holder delays the
    ///   consumer by at most this).
    init(holdLimit: Duration = .milliseconds(1)) {
        holdLimitNanoseconds = Int(MonotonicClock.nanoseconds(holdLimit))
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        // Timed waits (holds) run on the monotonic clock.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Queues `element` unless the queue is closed.
    /// - Returns: `false` when closed (the element was not queued).
    func post(_ element: Element) -> Bool {
        pthread_mutex_lock(mutex)
        if closed {
            pthread_mutex_unlock(mutex)
            return false
        }
        elements.append(element)
        // While held, only the first element (which starts the consumer's hold timer) and a full batch wake the
        // consumer.
        let wake = consumerWaiting && (!held || elements.count == 1 || elements.count >= heldBatch)
        if wake { consumerWaiting = false }
        pthread_mutex_unlock(mutex)
        // Signalled after unlocking: the consumer re-checks `elements` under the lock when it wakes, and it set
        // `consumerWaiting` under the lock before waiting, so this signal cannot be lost.
        if wake { pthread_cond_signal(condition) }
        return true
    }

    /// Waits until elements are queued or the queue is closed, then moves up to `limit` of them into `batch`
    /// (which must be empty; its capacity is reused).
    /// - Returns: `false` when the queue is closed and empty: the consumer should stop.
    func take(into batch: inout [Element], limit: Int) -> Bool {
        pthread_mutex_lock(mutex)
        heldBatch = limit
        var holdDeadline: timespec?
        while (elements.isEmpty || (held && elements.count < limit)) && !closed {
            consumerWaiting = true
            if elements.isEmpty {
                pthread_cond_wait(condition, mutex)
                continue
            }
            // Held with elements queued: wait for the release, a full batch, or the hold limit.
            let deadline = holdDeadline ?? Self.monotonicDeadline(afterNanoseconds: holdLimitNanoseconds)
            holdDeadline = deadline
            var wait = deadline
            if pthread_cond_timedwait(condition, mutex, &wait) == ETIMEDOUT {
                held = false
                consumerWaiting = false
            }
        }
        if elements.isEmpty {
            pthread_mutex_unlock(mutex)
            return false
        }
        if elements.count <= limit {
            // Swap arrays so that neither side reallocates in steady state.
            swap(&batch, &elements)
        } else {
            batch.append(contentsOf: elements[0..<limit])
            elements.removeFirst(limit)
        }
        pthread_mutex_unlock(mutex)
        return true
    }

    private static func monotonicDeadline(afterNanoseconds nanoseconds: Int) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = Int(now.tv_nsec) + nanoseconds
        return timespec(tv_sec: now.tv_sec + total / 1_000_000_000, tv_nsec: total % 1_000_000_000)
    }

    /// Makes the consumer's next ``take(into:limit:)`` wait for ``release()`` (or a full batch, or the hold
    /// limit), so that elements posted meanwhile go out together.
    func hold() {
        pthread_mutex_lock(mutex)
        held = true
        pthread_mutex_unlock(mutex)
    }

    /// Whether the consumer is asleep in ``take(into:limit:)`` waiting for a signal (for tests that must reach
    /// the wake-ups: a signal is sent only to a waiting consumer).
    var isConsumerWaiting: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return consumerWaiting
    }

    /// Ends a ``hold()`` and wakes the consumer if elements wait.
    func release() {
        pthread_mutex_lock(mutex)
        held = false
        let wake = consumerWaiting && !elements.isEmpty
        if wake { consumerWaiting = false }
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(condition) }
    }

    /// Refuses further elements and wakes the consumer; what is queued is still handed out.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(condition)
    }
}
