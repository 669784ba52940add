import Testing

import RuntimeMemory

@Suite("HeapStatistics")
struct HeapStatisticsTests {
    @Test("jemalloc is the allocator and its counters move with allocations", .enabled(if: HeapStatistics.isJemalloc))
    func counters() {
        let before = HeapStatistics.current()
        #expect(before.allocated > 0)
        #expect(before.resident >= before.active)
        #expect(before.processRSS > 0)
        let block = [UInt8](repeating: 1, count: 32 << 20)
        let during = HeapStatistics.current()
        // Process-wide counters: suites running in parallel free memory meanwhile (30.9 MiB of the 32 were seen once
        // under load), so the bound is half the block — still far above anything but this allocation.
        #expect(during.allocated - before.allocated >= 16 << 20)
        #expect(block.count == 32 << 20)
        #expect(HeapStatistics.allocatorVersion.hasPrefix("5."))
    }
}
