import Synchronization

/// A fixed-capacity, lock-free table of in-flight entries (pending requests, reply addresses), each addressed by a
/// token that carries the slot's index and generation, so a late or duplicate reply for a reused slot is ignored.
///
/// State word per slot (`UInt64`):
/// ```
/// bits 0-1  phase: 0 free, 1 claimed (being filled), 2 armed (waiting), 3 taken (being emptied)
/// bits 2-63 generation, incremented each time the slot is freed
/// ```
/// Legal transitions: free → claimed (CAS, by a claimer), claimed → armed (store, by that claimer),
/// armed → taken (CAS, by whoever completes: reply, deadline sweep, fail-all), taken → free with generation + 1
/// (store, by that completer). Exactly one party wins the armed → taken CAS, so each entry completes once.
///
/// Token layout: `generation (low 40 bits) << 24 | index`; capacity is at most 2^24.
///
/// A table made `withLinks` also keeps one word per slot (``link(of:)``) that the claimer sets and that stays
/// readable after the entry is taken and its slot freed, until the slot is claimed again: a chain of entries
/// (a batch's requests) can be walked past entries that already ended.
final class SlotTable<Element>: @unchecked Sendable {
    // @unchecked Sendable: `elements[i]` is written only by the thread that moved slot i to `claimed` and read and
    // cleared only by the thread that moved it to `taken`; the release store that arms (or frees) the slot and the
    // acquiring CAS that claims (or takes) it order those accesses. Deadlines, links and states are atomics.

    static var indexBits: UInt64 { 24 }
    static var indexMask: UInt64 { (1 << indexBits) - 1 }
    static var generationMask: UInt64 { (1 << 40) - 1 }

    private static var phaseFree: UInt64 { 0 }
    private static var phaseClaimed: UInt64 { 1 }
    private static var phaseArmed: UInt64 { 2 }
    private static var phaseTaken: UInt64 { 3 }

    /// Number of slots (a power of two).
    let capacity: Int
    /// How many slots a claim looks at before it reports the table full.
    static var maxProbes: Int { 1_024 }
    private let mask: Int
    private let states: UnsafeMutablePointer<Atomic<UInt64>>
    private let deadlines: UnsafeMutablePointer<Atomic<UInt64>>
    private let elements: UnsafeMutablePointer<Element?>
    /// Per slot, the claimer's link word (`nil`: the table keeps none).
    private let links: UnsafeMutablePointer<Atomic<UInt64>>?
    private let cursor = Atomic<Int>(0)
    /// Armed entries (claimed and not yet taken), so that a sweep of an idle table costs one load instead of a walk
    /// over every slot (16,384 by default, every 5 ms: 20–39 % of an idle-sending node's instructions).
    private let armedCount = Atomic<Int>(0)
    /// Calls of ``expire(now:_:)``, so that every 64th walks the whole table.
    private let sweeps = Atomic<Int>(0)

    /// - Parameters:
    ///   - capacity: the most entries in flight at once (rounded up to a power of two, at most 2^24).
    ///   - withLinks: keep a link word per slot (``claim(_:deadline:link:fill:)``, ``link(of:)``).
    init(capacity requested: Int, withLinks: Bool = false) {
        var capacity = 1
        while capacity < max(2, min(requested, 1 << 24)) { capacity <<= 1 }
        self.capacity = capacity
        self.mask = capacity - 1
        states = .allocate(capacity: capacity)
        deadlines = .allocate(capacity: capacity)
        elements = .allocate(capacity: capacity)
        for index in 0..<capacity {
            (states + index).initialize(to: Atomic(0))
            (deadlines + index).initialize(to: Atomic(0))
            (elements + index).initialize(to: nil)
        }
        if withLinks {
            let links = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: capacity)
            for index in 0..<capacity { (links + index).initialize(to: Atomic(0)) }
            self.links = links
        } else {
            self.links = nil
        }
    }

    deinit {
        states.deinitialize(count: capacity)
        deadlines.deinitialize(count: capacity)
        elements.deinitialize(count: capacity)
        states.deallocate()
        deadlines.deallocate()
        elements.deallocate()
        if let links {
            links.deinitialize(count: capacity)
            links.deallocate()
        }
    }

    private static func token(generation: UInt64, index: Int) -> UInt64 {
        (generation & generationMask) << indexBits | UInt64(index)
    }

    /// Stores `element` in a free slot with `deadline` (monotonic ns; 0 = none) and arms it.
    /// - Parameters:
    ///   - link: the slot's link word (kept only by a table made `withLinks`; `UInt64.max` by default).
    ///   - fill: called with the slot's index before the slot is armed (to fill side storage).
    /// - Returns: the token, or `nil` when every slot is in use.
    func claim(_ element: Element, deadline: UInt64, link: UInt64 = .max, fill: (Int) -> Void = { _ in }) -> UInt64? {
        // A rotating cursor spreads claims over the table; with capacity well above the in-flight count the first
        // probe almost always finds a free slot. One atomic step per claim, then a bounded linear probe: a full
        // (or nearly full) table answers in at most `maxProbes` loads instead of one atomic add per slot of the
        // whole table (16,384 by default, ~100 µs per refused claim under overload). Relaxed: the cursor only
        // picks where to look.
        let start = cursor.wrappingAdd(1, ordering: .relaxed).oldValue
        for probe in 0..<min(capacity, Self.maxProbes) {
            let index = (start &+ probe) & mask
            let state = states[index].load(ordering: .relaxed)
            guard state & 3 == Self.phaseFree else { continue }
            let claimed = (state & ~3) | Self.phaseClaimed
            // Acquiring: the previous owner's clearing of the element happens before our write.
            guard states[index].compareExchange(expected: state, desired: claimed, ordering: .acquiring).exchanged
            else { continue }
            elements[index] = element
            // Relaxed: published by the releasing store that arms the slot.
            deadlines[index].store(deadline, ordering: .relaxed)
            // Releasing: a ``link(of:)`` reader that loads this value (acquiring) then sees the slot claimed, so it
            // never takes the new link for the previous generation's.
            if let links { links[index].store(link, ordering: .releasing) }
            fill(index)
            states[index].store((state & ~3) | Self.phaseArmed, ordering: .releasing)
            // Relaxed: a count the sweeps read as a hint; a sweep that misses a fresh entry sees it next interval.
            armedCount.wrappingAdd(1, ordering: .relaxed)
            // Later claims start past the busy run this one walked over.
            if probe > 0 { cursor.wrappingAdd(probe, ordering: .relaxed) }
            return Self.token(generation: state >> 2, index: index)
        }
        return nil
    }

    /// Takes the entry `token` names, if it is still armed, runs `body` with it, then frees the slot.
    /// - Returns: `body`'s result, or `nil` when the token is stale (answered, expired or failed already).
    func withTaken<R>(_ token: UInt64, _ body: (Int, Element) -> R) -> R? {
        let index = Int(token & Self.indexMask)
        guard index < capacity else { return nil }
        let state = states[index].load(ordering: .relaxed)
        guard state & 3 == Self.phaseArmed, (state >> 2) & Self.generationMask == token >> Self.indexBits else {
            return nil
        }
        return take(index: index, state: state, body)
    }

    /// Takes the entry `token` names, if it is still armed, and frees its slot.
    func take(_ token: UInt64) -> Element? {
        withTaken(token) { _, element in element }
    }

    private func take<R>(index: Int, state: UInt64, _ body: (Int, Element) -> R) -> R? {
        // Acquiring: pairs with the arming release store, so the element and deadline written before it are visible.
        guard
            states[index].compareExchange(
                expected: state, desired: (state & ~3) | Self.phaseTaken, ordering: .acquiring
            ).exchanged,
            let element = elements[index]
        else { return nil }
        elements[index] = nil
        // Relaxed: see `claim`.
        armedCount.wrappingSubtract(1, ordering: .relaxed)
        let result = body(index, element)
        // Releasing: the cleared element is visible to the next claimer (which acquires).
        states[index].store(((state >> 2) &+ 1) << 2 | Self.phaseFree, ordering: .releasing)
        return result
    }

    /// The link word the claim of `token` stored: while its entry is armed or being taken, and after it was
    /// taken and its slot freed until the slot is claimed again.
    /// - Returns: the link, or `nil` when the slot has been claimed again since (or the table keeps no links).
    func link(of token: UInt64) -> UInt64? {
        guard let links else { return nil }
        let index = Int(token & Self.indexMask)
        guard index < capacity else { return nil }
        let generation = token >> Self.indexBits
        // Whether `state` is the token's claim (armed or being taken), or its slot freed and not claimed again.
        func isOurs(_ state: UInt64) -> Bool {
            let stateGeneration = (state >> 2) & Self.generationMask
            switch state & 3 {
            case Self.phaseArmed, Self.phaseTaken: return stateGeneration == generation
            case Self.phaseFree: return stateGeneration == (generation &+ 1) & Self.generationMask
            default: return false
            }
        }
        // A sequence-lock read: the state before and after the link is ours, so no claim wrote the link between.
        // Acquiring (first state load): the link load is not done before it. Acquiring (link load): the second
        // state load is not done before it, and pairs with the claimer's releasing link store, so a link written
        // by a newer claim comes with its claimed state.
        guard isOurs(states[index].load(ordering: .acquiring)) else { return nil }
        let link = links[index].load(ordering: .acquiring)
        // Relaxed: ordered after the acquiring link load (see above).
        guard isOurs(states[index].load(ordering: .relaxed)) else { return nil }
        return link
    }

    /// How many entries are armed (a snapshot; exact when no claim or take runs at the same time).
    var count: Int {
        // Relaxed: see `claim`.
        armedCount.load(ordering: .relaxed)
    }

    /// Takes every armed entry whose deadline is at or before `now` and passes it to `body`.
    ///
    /// The cost follows what is in flight, not the table's size: nothing armed is one load; otherwise the walk
    /// starts just behind the claim cursor and goes backwards (newest claims first) until it has seen as many
    /// armed entries as the count said. Claims made during the walk land at or after the cursor it started from,
    /// which the backward walk reaches last, so every entry armed when the walk began is looked at before it can
    /// stop (entries taken meanwhile only make it walk further, at worst the whole table). Every 64th call walks
    /// the whole table anyway, a bound on any lateness this reasoning missed.
    ///
    /// The count is a hint: a take's decrement can land before the matching claim's increment (the claimer
    /// arms, a reply takes the entry, then the claimer counts it), so it can read below the true number, even
    /// −1, for a moment. A count at or below 0 still counts as a call, so the full walk every 64th call bounds how
    /// late an entry this misses can expire: 64 sweep intervals (320 ms at the default 5 ms).
    func expire(now: UInt64, _ body: (Element) -> Void) {
        // Relaxed: a call counter and the claim position only pick how far and from where to walk.
        let full = sweeps.wrappingAdd(1, ordering: .relaxed).oldValue & 63 == 0
        // An entry armed after this load is swept by a later call, one interval later (or by the next full walk).
        let armed = count
        guard armed > 0 || full else { return }
        let start = cursor.load(ordering: .relaxed)
        var seen = 0
        for step in 1...capacity {
            let index = (start &- step) & mask
            // Acquiring: the deadline read next belongs to the generation this load saw armed (the CAS in `take`
            // fails if the slot moved on since).
            let state = states[index].load(ordering: .acquiring)
            guard state & 3 == Self.phaseArmed else { continue }
            seen += 1
            let deadline = deadlines[index].load(ordering: .relaxed)
            if deadline != 0, deadline <= now {
                _ = take(index: index, state: state) { _, element in body(element) }
            }
            if seen >= armed && !full { return }
        }
    }

    /// Takes every armed entry and passes it to `body` (on close or disconnect).
    func takeAll(_ body: (Element) -> Void) {
        // No early return on a zero count: on close or disconnect every entry must be taken, including one armed
        // by a racing claim a moment ago.
        for index in 0..<capacity {
            let state = states[index].load(ordering: .acquiring)
            guard state & 3 == Self.phaseArmed else { continue }
            _ = take(index: index, state: state) { _, element in body(element) }
        }
    }
}
