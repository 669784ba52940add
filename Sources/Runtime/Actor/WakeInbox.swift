import Synchronization

/// A multi-producer, single-consumer inbox for a consumer that sleeps: producers queue without a lock (spilling
/// into a locked list when the ring is full, never waiting) and learn whether they must wake the consumer; the
/// consumer drains everything. Exactly one post per drain is told to wake, so a busy consumer is not woken again
/// for every element.
///
/// ```swift
/// if inbox.post(task) { wake(consumer) }   // any thread
/// inbox.drain { task in run(task) }        // the consumer, after waking
/// ```
public final class WakeInbox<Element: Sendable>: Sendable {
    private let ring: MPSCRing<Element>
    private let overflow = Locked<[Element]>([])
    private let overflowCount = Atomic<Int>(0)
    private let wakePending = Atomic<Bool>(false)
    private let spills = Atomic<Int>(0)

    /// - Parameter capacity: ring slots (rounded up to a power of two); more elements spill over.
    public init(capacity: Int) {
        ring = MPSCRing(minimumCapacity: capacity)
    }

    /// Queues `element` (from any thread).
    /// - Returns: whether the caller must wake the consumer (no drain is pending yet).
    public func post(_ element: Element) -> Bool {
        if !ring.enqueue(element) {
            overflow.withLock { $0.append(element) }
            // Relaxed: read by the drain after its fence (below); a count seen late is picked up at the next drain,
            // which the exchange below guarantees.
            overflowCount.wrappingAdd(1, ordering: .relaxed)
            spills.wrappingAdd(1, ordering: .relaxed)
        }
        // Sequentially consistent: pairs with the drain's reset. Either this exchange sees `false` and the caller
        // wakes the consumer, or it sees `true` set before the drain's reset, and that drain (after the reset)
        // sees the element published before this exchange.
        return !wakePending.exchange(true, ordering: .sequentiallyConsistent)
    }

    /// Hands every queued element to `body` (the consumer only): the ring first, then what spilled over.
    /// Elements that spilled may run after later ones that found room.
    public func drain(_ body: (Element) -> Void) {
        wakePending.store(false, ordering: .sequentiallyConsistent)
        // The loads below must not move before the reset (a store → load order needs a full fence on weakly
        // ordered CPUs): a post that saw `true` relies on this drain.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        while let element = ring.dequeue() { body(element) }
        // Relaxed: see `post`.
        if overflowCount.load(ordering: .relaxed) > 0 {
            let spilled = overflow.withLock { list -> [Element] in
                defer { list.removeAll() }
                return list
            }
            overflowCount.wrappingSubtract(spilled.count, ordering: .relaxed)
            for element in spilled { body(element) }
        }
    }

    /// How many elements ever spilled past the ring (for tests and diagnostics).
    public var spillCount: Int {
        // Relaxed: a statistic.
        spills.load(ordering: .relaxed)
    }
}
