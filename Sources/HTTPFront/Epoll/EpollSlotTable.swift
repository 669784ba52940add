/// The epoll loop's table of connections, addressed by the 64-bit tag registered with each socket: a slot number
/// and the slot's generation.
///
/// A slot is reused once its connection closed; its generation moves on, so an event still queued for the closed
/// connection (from the same `epoll_wait` batch, or a socket number reused by the kernel) carries an old
/// generation and resolves to nothing rather than to the slot's new connection.
struct EpollSlotTable<Element: AnyObject> {
    /// The tag's top two bits are the loop's event kind; the slot takes the next 30, the generation the low 32.
    static var kindMask: UInt64 { 3 << 62 }

    private var elements: [Element?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int] = []

    /// Places `make(slot)`'s element in a free slot.
    /// - Parameters:
    ///   - kind: the event-kind bits to put in the tag.
    ///   - make: builds the element for the slot.
    /// - Returns: the element, its slot and its tag.
    mutating func insert(kind: UInt64, _ make: (Int) -> Element) -> (element: Element, slot: Int, tag: UInt64) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = elements.count
            elements.append(nil)
            generations.append(0)
        }
        generations[slot] &+= 1
        let element = make(slot)
        elements[slot] = element
        return (element, slot, kind | (UInt64(slot) << 32) | UInt64(generations[slot]))
    }

    /// The element a tag names, or nil when its slot is empty or was reused since (a stale tag).
    func element(for tag: UInt64) -> Element? {
        let slot = Int((tag & ~Self.kindMask) >> 32)
        guard slot < elements.count, generations[slot] == UInt32(truncatingIfNeeded: tag) else { return nil }
        return elements[slot]
    }

    /// Frees `slot` if `element` still holds it.
    mutating func remove(_ element: Element, slot: Int) {
        guard slot < elements.count, elements[slot] === element else { return }
        elements[slot] = nil
        freeSlots.append(slot)
    }

    /// The elements present.
    var all: [Element] { elements.compactMap { $0 } }
}
