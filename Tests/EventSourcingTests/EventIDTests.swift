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
        #expect(Set(all.map(\.high)).count == 40_000)
    }
}
