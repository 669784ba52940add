import EventSourcing
import Testing

@Suite struct EventIDTests {
    @Test func hexRoundTrips() throws {
        let id = EventID.random()
        #expect(id.hex.count == 32)
        #expect(EventID(hex: id.hex) == id)
        #expect(EventID(bytes: id.bytes) == id)
        #expect(EventID(hex: "0123") == nil)
    }
}

@Suite struct EventIDNextTests {
    @Test func nextIsUniqueAcrossThreads() async {
        let batches = await withTaskGroup(of: [EventID].self) { group in
            for _ in 0..<4 { group.addTask { (0..<10_000).map { _ in EventID.next() } } }
            var all: [[EventID]] = []
            for await batch in group { all.append(batch) }
            return all
        }
        let all = batches.flatMap { $0 }
        #expect(Set(all).count == 40_000)
        #expect(Set(all.map(\.low)).count == 40_000)
        // UUID version 7 and RFC 4122 variant bits.
        #expect(all.allSatisfy { $0.high & 0xF000 == 0x7000 && $0.low >> 62 == 0b10 })
    }

    @Test func nextIsTimeOrderedWithinAThread() {
        let ids = (0..<10_000).map { _ in EventID.next() }
        // Later IDs sort after earlier ones (the clock may not step back during the test; the counter part
        // orders IDs of one millisecond unless the seed's offset wraps, which it does at most once).
        var descents = 0
        for (earlier, later) in zip(ids, ids.dropFirst()) where later < earlier { descents += 1 }
        #expect(descents <= 1)
        let milliseconds = ids[0].high >> 16
        let now = UInt64(EventTimestamp.now().nanosecondsSinceEpoch / 1_000_000)
        #expect(milliseconds <= now && now - milliseconds < 60_000)
    }
}
