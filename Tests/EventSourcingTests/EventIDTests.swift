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
