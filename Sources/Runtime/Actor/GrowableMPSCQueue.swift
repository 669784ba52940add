import Synchronization

/// A lock-free queue for many producers and one consumer whose buffer is allocated on the first element, grows by
/// doubling up to a cap when producers find it full, and is given back when the consumer finds it empty.
///
/// An actor's mailbox: a million idle actors must not each hold a preallocated ring (an `Envelope` is 64 bytes, so
/// 256 slots are 16 KiB), yet a busy actor needs room for a burst, and enqueue and dequeue must not allocate in
/// steady state. Compared with ``MPSCRing``: no buffer until the first element; a full buffer that is below the
/// cap is replaced by one twice its size (one allocation per doubling); ``releaseBuffer(onlyIfGrown:)`` frees it
/// again.
///
/// ## Positions and buffers
/// Elements get consecutive *positions*. The producer index and the consumer index hold `2 × position`; bit 0 of
/// the producer index is the *resize bit*. A buffer of `n` slots (a power of two) holds position `p` in slot
/// `p & (n - 1)`. A buffer is one allocation: a link to the next buffer, its mask, one flag byte per slot, then the
/// elements. A slot's flag is `empty` (0), `full` (1) or `jump` (2: the consumer must continue, at the same
/// position, in the next buffer).
///
/// A buffer that is not the last size (below the cap) takes at most `n - 1` elements: one slot stays free for the
/// `jump` that leads to its successor. The buffer at the cap takes `n`, so the queue holds exactly `capacity`
/// elements at most, whatever the growth history.
///
/// ## Producer index: bit layout and transitions
/// `2 × next position | resize bit`:
/// - `2p → 2p + 2`: a producer claimed position `p` (compare-and-swap, only while `2p` is below the producer
///   limit, or fewer than the buffer's usable slots are queued, either of which guarantees a free slot in the
///   current buffer). It then writes the element and stores `full`.
/// - `2p → 2p + 1 → 2p + 2` (grow): a producer found the buffer full below the cap. Holding the resize bit it
///   allocates a buffer twice as large, writes its own element there at position `p`, links the old buffer to it
///   and stores `jump` in the old buffer's slot for `p` (or, when there was no buffer, hands the new one to the
///   consumer), sets the producer buffer and limit, then clears the bit by storing `2p + 2`.
/// - `2p → 2p + 1 → 2q` (release, `q > p`): the consumer found the queue empty (its index is `2p` too). Holding the
///   resize bit it frees the buffer, raises the limit to `2q` and moves both indices to `2q`, burning positions
///   `p..<q`: the index never returns to a value a stale producer could still hold, so no compare-and-swap
///   succeeds on a stale buffer.
///
/// ## Producer limit
/// `2 × position`, below which a position has a free slot in the current buffer. It only ever rises (every write
/// is a compare-and-swap to a larger value): a producer that raises it from a value it read, after reading the
/// buffer pointer, cannot succeed across a release, which raises it too.
///
/// Producers that see the resize bit wait for it (spinning, then yielding): growth and release are rare, short,
/// allocate or free one buffer, and hold no lock. Elsewhere producers are lock-free.
///
/// ## Why freeing is safe without reclamation
/// A producer dereferences a buffer only after its compare-and-swap claimed a position in it; that claim succeeds
/// only if the index did not move since the producer read the buffer pointer (every resize moves it first). The
/// consumer frees a buffer only when it passes its `jump` (every position in it consumed) or on release (no
/// position claimed beyond its own). So nobody touches a freed buffer, provided a thread that handed the consumer
/// role over calls no consumer method afterwards (not even ``hasPublishedElement``): its successor may be freeing
/// buffers. ``ActorCell`` learns of late messages through its state word instead.
///
/// ## Scheduling handshake
/// A claimed position that is not yet published makes the queue look empty to the consumer at that position, as
/// in ``MPSCRing``: callers that schedule the consumer on "became non-empty" must check again after publishing,
/// which is why the publishing stores (`full`, `jump`, the hand-off) are sequentially consistent, and so is the
/// consumer's ``hasPublishedElement``.
///
/// ## Layout
/// The producer fields and the consumer fields are separated by 64 bytes of padding (a class's stored properties
/// are laid out in declaration order), so they never share a cache line: producers' compare-and-swaps do not
/// invalidate the consumer's index. The object is 152 bytes; an idle actor's 2-slot buffer of 64-byte envelopes is
/// 152.
public final class GrowableMPSCQueue<Element>: @unchecked Sendable {
    // @unchecked Sendable: an element is written by the one producer whose compare-and-swap claimed its position
    // and published by a sequentially consistent store of its slot's flag; the single consumer reads it after an
    // acquiring load of that flag. Buffers are allocated and linked under the resize bit and freed only when no
    // producer can reach them (see "Why freeing is safe" above). Callers guarantee a single consumer at a time.

    // Producer side.
    @usableFromInline let producerIndex = Atomic<Int>(0)
    /// `2 × position`: producers may claim positions below it without looking at the consumer.
    @usableFromInline let producerLimit = Atomic<Int>(0)
    @usableFromInline let producerBuffer = Atomic<UnsafeMutableRawPointer?>(nil)
    /// The slots of `producerBuffer` (0 when none), so that producers need not read a buffer they have not claimed.
    @usableFromInline let producerSize = Atomic<Int>(0)
    /// A buffer allocated when there was none, waiting for the consumer to adopt it.
    @usableFromInline let handoff = Atomic<UnsafeMutableRawPointer?>(nil)
    /// The most elements the queue holds: a power of two.
    public let capacity: Int
    /// Keeps the consumer fields 64 bytes away from the producer fields.
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    // Consumer side.
    @usableFromInline let consumerIndex = Atomic<Int>(0)
    /// The buffer the consumer reads; an atomic only to avoid exclusivity checks, accessed by the consumer alone.
    @usableFromInline let consumerBuffer = Atomic<UnsafeMutableRawPointer?>(nil)
    /// The size of the first buffer: a power of two, at least 2 unless it is the cap.
    public let initialCapacity: Int

    @usableFromInline static var empty: UInt8 { 0 }
    @usableFromInline static var full: UInt8 { 1 }
    @usableFromInline static var jump: UInt8 { 2 }

    /// Creates an empty queue; nothing is allocated until the first element.
    /// - Parameters:
    ///   - capacity: the most elements held, at least 1; rounded up to a power of two.
    ///   - initialCapacity: the slots of the first buffer, rounded up to a power of two, at least 2 (a buffer
    ///     below the cap keeps one slot free) and at most `capacity`.
    public init(capacity: Int, initialCapacity: Int = 2) {
        precondition(capacity >= 1, "capacity must be at least 1")
        self.capacity = Self.powerOfTwo(atLeast: capacity)
        self.initialCapacity = min(self.capacity, Self.powerOfTwo(atLeast: max(2, initialCapacity)))
    }

    deinit {
        while dequeue() != nil {}
        // Relaxed: no other thread holds a reference any more.
        if let base = consumerBuffer.load(ordering: .relaxed) {
            QueueSegment<Element>(base).deallocate()
        }
    }

    private static func powerOfTwo(atLeast value: Int) -> Int {
        var result = 1
        while result < value { result <<= 1 }
        return result
    }

    // MARK: Producers

    /// Adds an element if the queue holds fewer than ``capacity``; never blocks (see the type's docs for the short
    /// wait on a resize in progress). Allocates only when the buffer grows.
    /// - Returns: `true` when enqueued, `false` when the queue is full (the element is not stored).
    @inlinable
    public func enqueue(_ element: consuming Element) -> Bool {
        var attempt = 0
        while true {
            // Acquiring: pairs with the releasing store that ends a resize, so the buffer, size and limit it set
            // are seen.
            let index = producerIndex.load(ordering: .acquiring)
            if index & 1 != 0 {
                attempt += 1
                backoff(attempt)
                continue
            }
            // Acquiring: the limit was derived from an acquiring load of the consumer index and stored with a
            // release, so the consumer's move out of the slot we are about to fill happens before our write.
            let limit = producerLimit.load(ordering: .acquiring)
            // Relaxed: they matter only if the compare-and-swap below succeeds, which proves that no resize moved
            // the index since our acquiring load above; that load made their last stores visible, and our
            // compare-and-swap (releasing) precedes any later resize's (acquiring), so no later store is seen.
            // The buffer itself is not read before the claim: a release may have freed it meanwhile.
            let buffer = producerBuffer.load(ordering: .relaxed)
            if index >= limit || buffer == nil {
                let size = producerSize.load(ordering: .relaxed)
                // Acquiring: pairs with the consumer's releasing store of its index after it moved an element out.
                let consumed = consumerIndex.load(ordering: .acquiring)
                // The index was read first, so this undercounts at worst: "full" is never reported spuriously.
                let queued = (index &- consumed) >> 1
                if buffer == nil || queued >= usable(size) {
                    switch offerSlowly(index: index, queued: queued, size: size, buffer: buffer, element) {
                    case .enqueued: return true
                    case .full: return false
                    case .retry: continue
                    }
                }
                // Room: the consumer moved on since the limit was set. Position `index` is free (fewer than
                // `usable(size)` positions are queued), so claim it directly; raise the limit only when that
                // spares later producers this detour (a buffer with one usable slot never does). The limit only
                // ever rises, so this succeeds only if nothing (a release in particular) changed it since we read
                // it, and then `size` is that of a buffer no smaller than the current one.
                let raised = consumed &+ 2 &* usable(size)
                if raised > index &+ 2 {
                    // Releasing: hands our acquiring load of the consumer index on to the producers that read it.
                    _ = producerLimit.compareExchange(expected: limit, desired: raised, ordering: .releasing)
                }
            }
            // Acquiring and releasing: see the loads above.
            if let buffer,
                producerIndex.weakCompareExchange(
                    expected: index, desired: index &+ 2, ordering: .acquiringAndReleasing
                ).exchanged
            {
                let segment = QueueSegment<Element>(buffer)
                let slot = (index >> 1) & segment.mask
                (segment.elements + slot).initialize(to: element)
                // Sequentially consistent: ordered before the caller's later seq-cst load of the consumer's
                // scheduling state (the handshake in the type's docs).
                segment.flags[slot].store(Self.full, ordering: .sequentiallyConsistent)
                return true
            }
        }
    }

    @usableFromInline
    enum SlowOutcome {
        case enqueued, full, retry
    }

    /// No buffer, or the current one is full: grow, or report full.
    @usableFromInline
    func offerSlowly(
        index: Int, queued: Int, size: Int, buffer: UnsafeMutableRawPointer?, _ element: Element
    ) -> SlowOutcome {
        if queued >= capacity || size >= capacity { return .full }
        // Grow. Acquiring and releasing: takes the resize bit; it succeeds only if no resize ran since the caller
        // read `size` and `buffer` (see `enqueue`), so they are current and the buffer cannot be freed under us.
        guard
            producerIndex.compareExchange(
                expected: index, desired: index | 1, ordering: .acquiringAndReleasing
            ).exchanged
        else { return .retry }
        let grown = min(capacity, max(initialCapacity, size &* 2))
        let segment = QueueSegment<Element>.allocate(capacity: grown)
        let slot = (index >> 1) & (grown &- 1)
        (segment.elements + slot).initialize(to: element)
        // Relaxed: published by the sequentially consistent store of the jump or the hand-off below.
        segment.flags[slot].store(Self.full, ordering: .relaxed)
        // Relaxed: published by the releasing compare-and-swap of the limit and the releasing store of the index.
        producerBuffer.store(segment.base, ordering: .relaxed)
        producerSize.store(grown, ordering: .relaxed)
        raiseLimit(to: index &+ 2 &* min(usable(grown), capacity &- queued))
        if let buffer {
            let old = QueueSegment<Element>(buffer)
            old.next = segment.base
            // Sequentially consistent: publishes the link and, through it, our element (the handshake in the
            // type's docs). The slot is free: a buffer below the cap keeps one.
            old.flags[(index >> 1) & old.mask].store(Self.jump, ordering: .sequentiallyConsistent)
        } else {
            // Sequentially consistent: as the jump above. No hand-off is pending: there was no buffer, so the
            // consumer had adopted the last one and released it.
            handoff.store(segment.base, ordering: .sequentiallyConsistent)
        }
        // Releasing: ends the resize; pairs with the producers' acquiring loads of the index.
        producerIndex.store(index &+ 2, ordering: .releasing)
        return .enqueued
    }

    /// Raises the producer limit to `target` unless a producer already raised it further (a limit computed for an
    /// older, smaller buffer is also valid in the larger one). The limit never falls.
    @usableFromInline
    func raiseLimit(to target: Int) {
        // Relaxed: only the comparison needs the value; the compare-and-swap validates it.
        var current = producerLimit.load(ordering: .relaxed)
        while current < target {
            // Releasing: the buffer stored before it is visible to a producer that acquires the new limit.
            let (exchanged, observed) = producerLimit.compareExchange(
                expected: current, desired: target, ordering: .releasing)
            if exchanged { return }
            current = observed
        }
    }

    /// Elements a buffer of `size` slots may hold: one slot stays free for the jump unless it is at the cap.
    @inlinable
    func usable(_ size: Int) -> Int { size == capacity ? size : size &- 1 }

    // MARK: Consumer

    /// Removes the oldest element. Only the single consumer may call this.
    /// - Returns: the element, or `nil` when no published element is at the front.
    // @inline(__always): left to itself the optimizer calls it out of line from `ActorCell.runTurn`, and the
    // caller then destroys the returned `Envelope?` through an outlined value-witness path; measured under callgrind
    // (Benchmarks/ActorLatencyProbe, inline request→reply), that cost ~90 instructions per message over the fixed
    // ring's inlined dequeue.
    @inlinable @inline(__always)
    public func dequeue() -> Element? {
        // Relaxed: only the consumer writes its buffer pointer and index.
        guard let base = consumerBuffer.load(ordering: .relaxed) ?? adoptHandoff() else { return nil }
        let index = consumerIndex.load(ordering: .relaxed)
        var segment = QueueSegment<Element>(base)
        var slot = (index >> 1) & segment.mask
        // Acquiring: pairs with the publishing store of the flag, making the element (or the link) visible.
        let flag = segment.flags[slot].load(ordering: .acquiring)
        if flag == Self.empty { return nil }
        if flag == Self.jump {
            segment = followJump(from: segment)
            slot = (index >> 1) & segment.mask
        }
        let element = (segment.elements + slot).move()
        // Relaxed: producers never read the flags; the releasing store of the index below orders this reset
        // before any producer's refill of the slot.
        segment.flags[slot].store(Self.empty, ordering: .relaxed)
        // Releasing: our move out of the slot happens before a producer that acquires the index refills it.
        consumerIndex.store(index &+ 2, ordering: .releasing)
        return element
    }

    /// Moves the consumer to the buffer after `segment` and frees `segment` (every position in it is consumed).
    @usableFromInline
    func followJump(from segment: QueueSegment<Element>) -> QueueSegment<Element> {
        // The link was written before the jump that our acquiring load of the flag saw.
        let next = QueueSegment<Element>(segment.next!)
        segment.deallocate()
        // Relaxed: only the consumer reads it.
        consumerBuffer.store(next.base, ordering: .relaxed)
        return next
    }

    /// Takes the buffer a producer allocated when there was none.
    @usableFromInline
    func adoptHandoff() -> UnsafeMutableRawPointer? {
        // Relaxed: a cheap check before the exchange.
        guard handoff.load(ordering: .relaxed) != nil else { return nil }
        // Acquiring: pairs with the producer's store of the hand-off, making the buffer's contents visible.
        let base = handoff.exchange(nil, ordering: .acquiring)
        // Relaxed: only the consumer reads it.
        consumerBuffer.store(base, ordering: .relaxed)
        return base
    }

    /// Whether a published element is at the front. Only meaningful to the consumer.
    ///
    /// Sequentially consistent, as the second half of the handshake in the type's docs.
    @inlinable
    public var hasPublishedElement: Bool {
        // Relaxed: only the consumer writes its buffer pointer and index.
        guard let base = consumerBuffer.load(ordering: .relaxed) else {
            return handoff.load(ordering: .sequentiallyConsistent) != nil
        }
        let segment = QueueSegment<Element>(base)
        let slot = (consumerIndex.load(ordering: .relaxed) >> 1) & segment.mask
        // A jump implies a published element in the next buffer.
        return segment.flags[slot].load(ordering: .sequentiallyConsistent) != Self.empty
    }

    /// Frees the buffer if the queue is empty. Only the single consumer may call this.
    ///
    /// A producer racing with the release either claimed a position first (then nothing is freed) or waits for the
    /// release to finish and allocates a new first buffer.
    /// - Parameter onlyIfGrown: release only a buffer larger than ``initialCapacity`` (an actor ending a turn:
    ///   a small buffer is kept so that one message at a time allocates nothing).
    /// - Returns: whether a buffer was freed.
    @discardableResult
    @inlinable
    public func releaseBuffer(onlyIfGrown: Bool = false) -> Bool {
        // The checks that end an actor's every turn are inlined; the release itself is not.
        // Relaxed: only the consumer writes its buffer pointer and index.
        guard let base = consumerBuffer.load(ordering: .relaxed) else { return false }
        let segment = QueueSegment<Element>(base)
        if onlyIfGrown && segment.mask &+ 1 <= initialCapacity { return false }
        return release(segment)
    }

    /// Frees `segment`, the consumer's buffer, if the queue is empty (``releaseBuffer(onlyIfGrown:)``).
    @usableFromInline
    func release(_ segment: QueueSegment<Element>) -> Bool {
        let index = consumerIndex.load(ordering: .relaxed)
        // Acquiring and releasing: takes the resize bit only if no position beyond ours was claimed, so the
        // buffer is empty and is the producers' current one (every earlier jump has been followed).
        guard
            producerIndex.compareExchange(
                expected: index, desired: index | 1, ordering: .acquiringAndReleasing
            ).exchanged
        else { return false }
        segment.deallocate()
        // Relaxed: consumer-only.
        consumerBuffer.store(nil, ordering: .relaxed)
        // Relaxed: published by the releasing compare-and-swap of the limit below.
        producerBuffer.store(nil, ordering: .relaxed)
        producerSize.store(0, ordering: .relaxed)
        // Both indices move past the limit, which rises too: the next producer finds no buffer and allocates one,
        // and a producer that computed a limit from the freed buffer fails its compare-and-swap (the limit only
        // rises, so it cannot come back to the value that producer read).
        // Relaxed: the compare-and-swap validates the value.
        var limit = producerLimit.load(ordering: .relaxed)
        var burned = 0
        while true {
            burned = max(limit, index) &+ 2
            // Releasing: a producer that acquires the new limit sees the buffer pointer cleared.
            let (exchanged, observed) = producerLimit.compareExchange(
                expected: limit, desired: burned, ordering: .releasing)
            if exchanged { break }
            limit = observed
        }
        // Releasing: producers read it (acquiring) after they acquired the index stored below.
        consumerIndex.store(burned, ordering: .releasing)
        // Releasing: ends the release; the positions up to `burned` are never used.
        producerIndex.store(burned, ordering: .releasing)
        return true
    }

    /// The slots of the newest buffer, the one producers fill (0 when none is allocated). Only for a quiescent
    /// queue (tests, footprint figures): the buffer may be freed while another thread reads it.
    public var allocatedCapacity: Int {
        // Relaxed: a quiescent queue's last resize happened before the caller looked.
        producerSize.load(ordering: .relaxed)
    }

    /// An approximate count of queued elements, safe to read from any thread (for metrics).
    public var approximateCount: Int {
        // Relaxed: a racy snapshot is all a depth gauge needs.
        let produced = producerIndex.load(ordering: .relaxed) & ~1
        let consumed = consumerIndex.load(ordering: .relaxed)
        return max(0, min(capacity, (produced &- consumed) >> 1))
    }
}

/// One buffer of a ``GrowableMPSCQueue``: a single allocation of `[next | mask | flags… | elements…]`.
@usableFromInline
struct QueueSegment<Element> {
    @usableFromInline let base: UnsafeMutableRawPointer

    @inlinable
    init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inlinable
    static func elementsOffset(capacity: Int) -> Int {
        let alignment = max(MemoryLayout<Element>.alignment, 8)
        return (16 &+ capacity &+ alignment &- 1) & ~(alignment &- 1)
    }

    static func allocate(capacity: Int) -> QueueSegment {
        let offset = elementsOffset(capacity: capacity)
        let base = UnsafeMutableRawPointer.allocate(
            byteCount: offset + capacity * MemoryLayout<Element>.stride,
            alignment: max(MemoryLayout<Element>.alignment, 16))
        base.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
        (base + 8).storeBytes(of: capacity - 1, as: Int.self)
        let flags = (base + 16).bindMemory(to: Atomic<UInt8>.self, capacity: capacity)
        for slot in 0..<capacity {
            (flags + slot).initialize(to: Atomic(0))
        }
        (base + offset).bindMemory(to: Element.self, capacity: capacity)
        return QueueSegment(base)
    }

    /// Frees the buffer; its elements must have been moved out.
    func deallocate() {
        flags.deinitialize(count: mask + 1)
        base.deallocate()
    }

    @inlinable
    var mask: Int { (base + 8).load(as: Int.self) }

    @inlinable
    var flags: UnsafeMutablePointer<Atomic<UInt8>> { (base + 16).assumingMemoryBound(to: Atomic<UInt8>.self) }

    @inlinable
    var elements: UnsafeMutablePointer<Element> {
        (base + Self.elementsOffset(capacity: mask &+ 1)).assumingMemoryBound(to: Element.self)
    }

    /// The buffer that follows (set by the producer that grew the queue, before it stores the jump).
    var next: UnsafeMutableRawPointer? {
        get { base.load(as: UnsafeMutableRawPointer?.self) }
        nonmutating set { base.storeBytes(of: newValue, as: UnsafeMutableRawPointer?.self) }
    }
}
