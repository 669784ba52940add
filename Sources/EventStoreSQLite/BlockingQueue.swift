#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A multi-producer queue whose single consumer thread sleeps until there is work: producers append under a short
/// lock (a pthread mutex, held for an array append) and signal the consumer only when it is waiting; the consumer
/// takes everything queued at once. Once closed, it refuses new elements and hands out what remains.
final class BlockingQueue<Element>: @unchecked Sendable {
    // @unchecked Sendable: `elements`, `closed` and `consumerWaiting` are only read and written with `mutex`
    // held; elements cross threads through the lock (the release/acquire of the mutex orders their contents).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var elements: [Element] = []
    private var spare: [Element] = []
    private var closed = false
    private var consumerWaiting = false

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
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
        let wake = consumerWaiting
        consumerWaiting = false
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
        while elements.isEmpty && !closed {
            consumerWaiting = true
            pthread_cond_wait(condition, mutex)
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

    /// Refuses further elements and wakes the consumer; what is queued is still handed out.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(condition)
    }
}
