import Testing

@testable import HTTPFront

@Suite("EpollSlotTable: tags of closed connections stay stale after their slot is reused")
struct EpollSlotTableTests {
    final class Item {
        let name: String
        init(_ name: String) { self.name = name }
    }

    static let kind: UInt64 = 2 << 62

    @Test("an event for a closed connection does not reach the connection that reuses its slot")
    func staleTagAfterReuse() {
        var table = EpollSlotTable<Item>()
        let (first, slot, firstTag) = table.insert(kind: Self.kind) { _ in Item("first") }
        #expect(table.element(for: firstTag) === first)
        #expect(firstTag & EpollSlotTable<Item>.kindMask == Self.kind)
        table.remove(first, slot: slot)
        #expect(table.element(for: firstTag) == nil, "closed")
        let (second, reused, secondTag) = table.insert(kind: Self.kind) { _ in Item("second") }
        #expect(reused == slot, "the slot is reused")
        #expect(secondTag != firstTag)
        #expect(table.element(for: firstTag) == nil, "the old tag is stale, not the new connection")
        #expect(table.element(for: secondTag) === second)
    }

    @Test("removing a connection that no longer holds its slot leaves the slot's new connection")
    func removeIsGuarded() {
        var table = EpollSlotTable<Item>()
        let (first, slot, _) = table.insert(kind: Self.kind) { _ in Item("first") }
        table.remove(first, slot: slot)
        let (second, _, tag) = table.insert(kind: Self.kind) { _ in Item("second") }
        table.remove(first, slot: slot)
        #expect(table.element(for: tag) === second)
        #expect(table.all.count == 1)
    }

    @Test("slots and generations: many connections, each tag resolves to its own until it closes")
    func manySlots() {
        var table = EpollSlotTable<Item>()
        var live: [(Item, Int, UInt64)] = []
        var stale: [UInt64] = []
        for round in 0..<50 {
            live.append(table.insert(kind: Self.kind) { Item("\(round)-\($0)") })
            live.append(table.insert(kind: Self.kind) { Item("\(round)-\($0)") })
            let (item, slot, tag) = live.removeFirst()
            table.remove(item, slot: slot)
            stale.append(tag)
        }
        for (item, _, tag) in live { #expect(table.element(for: tag) === item) }
        for tag in stale { #expect(table.element(for: tag) == nil) }
        #expect(table.all.count == live.count)
    }
}
