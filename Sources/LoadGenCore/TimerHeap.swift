/// A binary min-heap of scheduled sends (deadline, slot, connection generation).
struct TimerHeap {
    struct Entry {
        var deadline: UInt64
        var slot: Int
        var generation: UInt32
    }

    private var items: [Entry] = []

    var first: Entry? { items.first }

    mutating func push(deadline: UInt64, slot: Int, generation: UInt32) {
        items.append(Entry(deadline: deadline, slot: slot, generation: generation))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent].deadline <= items[i].deadline { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var smallest = i
            if l < items.count && items[l].deadline < items[smallest].deadline { smallest = l }
            if r < items.count && items[r].deadline < items[smallest].deadline { smallest = r }
            if smallest == i { break }
            items.swapAt(i, smallest)
            i = smallest
        }
    }
}
