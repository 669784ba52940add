import Synchronization

/// A bounded, lock-free ring buffer for many producers and one consumer.
///
/// The ring is allocated once, with a power-of-two capacity, and never grows; enqueue and dequeue allocate nothing.
///
/// ## Algorithm
/// Each slot carries a *turn* word. For the message at position `p` (a running counter; the slot is `p & mask`,
/// the round is `p >> shift`):
/// - the slot is **free for `p`** when `turn == 2 * round`;
/// - the slot is **full with `p`** when `turn == 2 * round + 1`;
/// - the consumer frees it for `p + capacity` by storing `2 * round + 2`.
///
/// Legal transitions of a slot: `2r → 2r+1` (a producer that claimed `p` by a compare-and-swap on `head` publishes
/// its element) and `2r+1 → 2r+2` (the consumer took the element). Using two turn values per round, rather than
/// Vyukov's `p` / `p+1`, keeps capacity 1 unambiguous.
///
/// A producer claims a position with one compare-and-swap on `head` (one read-modify-write when uncontended);
/// the consumer owns `tail` and needs no read-modify-write at all. `head` and `tail` live on separate cache lines.
///
/// A producer that claimed a position but has not yet published it makes the ring look empty at that position to
/// the consumer. Callers that schedule the consumer on "became non-empty" must therefore check again after
/// publishing (the actor does, see `ActorRef`), which is why ``enqueue(_:)`` publishes with sequential consistency.
public final class MPSCRing<Element>: @unchecked Sendable {
    // @unchecked Sendable: slots are handed between threads only through the turn protocol above; an element
    // is written by exactly one producer (the one whose CAS on `head` claimed the position) before its turn is
    // published with a release (seq-cst) store, and read by the single consumer after an acquire load of that
    // turn. `tail` is written by the consumer only. Callers guarantee a single consumer at a time.

    /// The number of slots: a power of two.
    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let shift: Int
    @usableFromInline let turns: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let elements: UnsafeMutablePointer<Element>
    /// `head` at offset 0, `tail` at offset 128: separate cache lines (128 covers adjacent-line prefetch).
    @usableFromInline let cursors: UnsafeMutableRawPointer

    @usableFromInline var head: UnsafeMutablePointer<Atomic<Int>> {
        cursors.assumingMemoryBound(to: Atomic<Int>.self)
    }
    @usableFromInline var tail: UnsafeMutablePointer<Atomic<Int>> {
        (cursors + 128).assumingMemoryBound(to: Atomic<Int>.self)
    }

    /// Creates a ring.
    /// - Parameter minimumCapacity: at least 1; rounded up to the next power of two.
    public init(minimumCapacity: Int) {
        precondition(minimumCapacity >= 1, "capacity must be at least 1")
        var capacity = 1
        var shift = 0
        while capacity < minimumCapacity {
            capacity <<= 1
            shift += 1
        }
        self.capacity = capacity
        self.mask = capacity - 1
        self.shift = shift
        self.turns = .allocate(capacity: capacity)
        for index in 0..<capacity {
            (turns + index).initialize(to: Atomic(0))
        }
        self.elements = .allocate(capacity: capacity)
        self.cursors = .allocate(byteCount: 256, alignment: 128)
        cursors.bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (cursors + 128).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
    }

    deinit {
        while dequeue() != nil {}
        turns.deinitialize(count: capacity)
        turns.deallocate()
        elements.deallocate()
        cursors.assumingMemoryBound(to: Atomic<Int>.self).deinitialize(count: 1)
        (cursors + 128).assumingMemoryBound(to: Atomic<Int>.self).deinitialize(count: 1)
        cursors.deallocate()
    }

    /// Adds an element if there is room; never blocks.
    /// - Returns: `true` when enqueued, `false` when the ring is full (the element is not stored).
    @inlinable
    public func enqueue(_ element: consuming Element) -> Bool {
        // Relaxed: `head` only orders producers among themselves; the CAS below validates the value read.
        var position = head.pointee.load(ordering: .relaxed)
        while true {
            let slot = position & mask
            let free = (position >> shift) &* 2
            // Acquiring: pairs with the consumer's releasing store that freed the slot, so our write of the
            // element cannot overtake its read of the previous occupant.
            let turn = turns[slot].load(ordering: .acquiring)
            if turn == free {
                let (exchanged, current) = head.pointee.weakCompareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if exchanged {
                    (elements + slot).initialize(to: element)
                    // Sequentially consistent: the store must be ordered before the caller's later seq-cst load
                    // of the consumer's scheduling state (a Dekker-style handshake, see `ActorRef`).
                    turns[slot].store(free &+ 1, ordering: .sequentiallyConsistent)
                    return true
                }
                position = current
            } else if turn &- free < 0 {
                // The slot still holds the element of the previous round: full. Confirm against a fresh head so
                // that a stale `position` does not report a spurious full.
                let current = head.pointee.load(ordering: .relaxed)
                if current == position { return false }
                position = current
            } else {
                position = head.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// Removes the oldest element. Only the single consumer may call this.
    /// - Returns: the element, or `nil` when no published element is at the front.
    @inlinable
    public func dequeue() -> Element? {
        // Relaxed: only the consumer writes `tail`.
        let position = tail.pointee.load(ordering: .relaxed)
        let slot = position & mask
        let full = (position >> shift) &* 2 &+ 1
        // Acquiring: pairs with the producer's publishing store, making the element's initialization visible.
        guard turns[slot].load(ordering: .acquiring) == full else { return nil }
        let element = (elements + slot).move()
        // Releasing: our read of the element happens before a producer of the next round reuses the slot.
        turns[slot].store(full &+ 1, ordering: .releasing)
        tail.pointee.store(position &+ 1, ordering: .relaxed)
        return element
    }

    /// Whether a published element is at the front. Only meaningful to the consumer.
    ///
    /// Sequentially consistent, as the second half of the handshake described in ``enqueue(_:)``.
    @inlinable
    public var hasPublishedElement: Bool {
        let position = tail.pointee.load(ordering: .relaxed)
        let full = (position >> shift) &* 2 &+ 1
        return turns[position & mask].load(ordering: .sequentiallyConsistent) == full
    }

    /// An approximate count of queued elements, safe to read from any thread (for metrics).
    public var approximateCount: Int {
        // Relaxed: a racy snapshot is all a depth gauge needs.
        let h = head.pointee.load(ordering: .relaxed)
        let t = tail.pointee.load(ordering: .relaxed)
        return max(0, min(capacity, h &- t))
    }
}
